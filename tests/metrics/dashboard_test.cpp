// dashboards/podguard.json and dashboards/alerts.yml against the exporter:
// promtool, the metric list, and a real Prometheus server scraping a real
// Metrics exposer and evaluating every panel and alert expression.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "metrics/metric_list.h"
#include "metrics/metrics.h"
#include "metrics/metrics_test_util.h"
#include "metrics/prometheus_test_util.h"

using namespace podguard;
using namespace podguard::metrics_test;
using json = nlohmann::json;

namespace {

std::set<std::string> metric_names_in(const std::string& expr) {
    static const std::regex name(R"(\bpodguard_[a-z0-9_]+)");
    std::set<std::string> out;
    for (auto it = std::sregex_iterator(expr.begin(), expr.end(), name);
         it != std::sregex_iterator(); ++it)
        out.insert(it->str());
    return out;
}

std::set<std::string> listed_metrics() {
    std::set<std::string> out;
    for (const auto& spec : kMetrics)
        out.insert(std::string(spec.name));
    return out;
}

// One round of everything the pipeline reports, with counters that keep
// growing so that rate()/increase() have something to show.
void feed_round(Metrics& metrics, int round) {
    for (const char* pod : {"web-1", "web-2", "api-1"}) {
        metrics.observe(
            pod_event("shop", pod, "app", EventKind::Signal, Relation::SamePod, Action::Allowed));
        metrics.observe(
            pod_event("shop", pod, "debug", EventKind::Ptrace, Relation::SamePod, Action::Audited));
        metrics.observe(pod_event("shop", pod, "debug", EventKind::ProcAccess, Relation::SamePod,
                                  Action::Blocked));
        metrics.observe(
            pod_event("shop", pod, "debug", EventKind::Ptrace, Relation::SamePod, Action::Killed));
        metrics.observe(pod_event("shop", pod, "app", EventKind::Exec, Relation::SameContainer,
                                  Action::Allowed));
    }
    pg_lost_counters lost{};
    lost.count[PG_EV_SIGNAL][PG_LOST_RINGBUF_FULL] = 10u * static_cast<unsigned>(round + 1);
    metrics.set_lost(lost);
    metrics.add_dropped_userspace("decode_error");
    metrics.set_ringbuf(900 * 1024, 1024 * 1024);
    uint64_t r = static_cast<uint64_t>(round + 1);
    metrics.update_bpf_programs(
        {{"pg_sys_enter_kill", 100 * r, 50'000 * r}, {"pg_signal_generate", 40 * r, 9'000 * r}});
    metrics.set_provider_up("cri", true);
    metrics.set_provider_up("kubernetes", false);
    metrics.count_metadata_lookup("cri", true);
    metrics.count_metadata_lookup("cri", round % 2 == 0);
    metrics.record_policy_reload(round % 2 == 0, 12);
    metrics.set_enforcement_mode(EnforcementMode::SignalFallback);
    pg_flood_counters flood{};
    for (int c = 0; c < PG_CLASS_MAX; ++c) {
        flood.sent[c] = 5 * r;
        for (int d = 0; d < PG_DROP_MAX; ++d)
            flood.lost[c][d] = 3 * r;
    }
    flood.summarized = 1000 * r;
    flood.aggregated = flood.summarized + 7;
    flood.demoted = 2 * r;
    flood.table_full = r;
    metrics.set_flood(flood);
    metrics.set_source_flood(42, {"shop", "web-1", "noisy"}, 100 * r, 500 * r);
    pg_guard_stats stops{};
    stops.stops = stops.resumed = r;
    metrics.set_agent_stop_signals(stops);
}

} // namespace

TEST(MetricsAlertRules, PromtoolChecksAndUnitTestsPass) {
    std::string promtool = require_tool("promtool");
    ASSERT_FALSE(promtool.empty());
    auto check = run_command({promtool, "check", "rules", alerts_path()});
    EXPECT_EQ(check.exit_code, 0) << check.output;
    auto test =
        run_command({promtool, "test", "rules", source_dir() + "/dashboards/alerts_test.yml"});
    EXPECT_EQ(test.exit_code, 0) << test.output;
    EXPECT_NE(test.output.find("SUCCESS"), std::string::npos) << test.output;
}

TEST(MetricsDashboard, IsAnImportableGrafanaDashboard) {
    json dashboard = load_dashboard();
    EXPECT_GE(dashboard.value("schemaVersion", 0), 36);
    EXPECT_FALSE(dashboard.value("title", "").empty());
    EXPECT_FALSE(dashboard.value("uid", "").empty());

    std::map<std::string, json> vars;
    for (const auto& var : dashboard["templating"]["list"])
        vars[var.value("name", "")] = var;
    ASSERT_TRUE(vars.count("datasource"));
    EXPECT_EQ(vars["datasource"]["type"], "datasource");
    EXPECT_EQ(vars["datasource"]["query"], "prometheus");
    for (const char* name : {"namespace", "pod"}) {
        ASSERT_TRUE(vars.count(name)) << name;
        EXPECT_EQ(vars[name]["type"], "query");
        EXPECT_EQ(vars[name]["datasource"]["uid"], "${datasource}");
        EXPECT_EQ(vars[name]["allValue"], ".*");
    }

    std::set<int> ids;
    int with_targets = 0;
    for (const json* panel : all_panels(dashboard)) {
        std::string title = panel->value("title", "");
        EXPECT_TRUE(ids.insert(panel->value("id", -1)).second) << "duplicate id in " << title;
        ASSERT_TRUE(panel->contains("gridPos")) << title;
        if (panel->value("type", "") == "row")
            continue;
        ++with_targets;
        EXPECT_EQ((*panel)["datasource"]["uid"], "${datasource}") << title;
        ASSERT_TRUE(panel->contains("targets")) << title;
        for (const auto& target : (*panel)["targets"]) {
            EXPECT_FALSE(target.value("expr", "").empty()) << title;
            EXPECT_EQ(target["datasource"]["uid"], "${datasource}") << title;
        }
    }
    EXPECT_GE(with_targets, 10);
}

TEST(MetricsDashboard, EveryMetricNameMatchesTheExporterList) {
    auto listed = listed_metrics();
    std::set<std::string> used;
    auto exprs = dashboard_expressions(load_dashboard());
    auto alerts = alert_expressions();
    exprs.insert(exprs.end(), alerts.begin(), alerts.end());
    for (const auto& e : exprs)
        for (const auto& name : metric_names_in(e.expr)) {
            used.insert(name);
            EXPECT_TRUE(listed.count(name))
                << e.where << " uses " << name << ", which podguard does not export";
        }
    // And nothing exported is left off the dashboard and alerts (a
    // misspelling there would show up as an unused metric here).
    for (const auto& name : listed)
        EXPECT_TRUE(used.count(name)) << name << " appears in no panel or alert";
}

TEST(MetricsPrometheus, EveryPanelAndAlertExpressionEvaluatesWithData) {
    std::string binary = require_tool("prometheus");
    ASSERT_FALSE(binary.empty());

    MetricsConfig config;
    config.address = "127.0.0.1:0";
    auto started = Metrics::start(config);
    ASSERT_TRUE(started.ok()) << started.error().message;
    Metrics& metrics = **started;
    feed_round(metrics, 0);

    PrometheusServer prometheus(binary, metrics.port());
    ASSERT_TRUE(prometheus.wait_ready(std::chrono::seconds(15)))
        << "Prometheus did not become ready:\n"
        << prometheus.log();

    // Keep the counters moving while Prometheus takes a few scrapes.
    std::atomic<bool> stop{false};
    std::thread feeder([&] {
        for (int round = 1; !stop; ++round) {
            feed_round(metrics, round);
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
    });
    bool scraped = prometheus.wait_scrapes(4, std::chrono::seconds(15));
    stop = true;
    feeder.join();
    ASSERT_TRUE(scraped) << "Prometheus did not scrape the exporter 4 times:\n" << prometheus.log();
    json up = prometheus.query("up{job=\"podguard\"}");
    ASSERT_EQ(up["data"]["result"][0]["value"][1], "1") << up.dump();

    auto exprs = dashboard_expressions(load_dashboard());
    auto alerts = alert_expressions();
    exprs.insert(exprs.end(), alerts.begin(), alerts.end());
    for (const auto& e : exprs) {
        std::string promql = substitute_variables(e.expr);
        json r = prometheus.query(promql);
        ASSERT_TRUE(r.is_object()) << e.where << ": no answer from Prometheus";
        EXPECT_EQ(r.value("status", ""), "success") << e.where << ": " << promql << "\n"
                                                    << r.dump();
        EXPECT_FALSE(r["data"]["result"].empty()) << e.where << " has no data: " << promql;
    }

    // Every rule evaluates cleanly and, with what was fed, is pending or
    // firing.
    bool all_active = wait_for(
        [&] {
            json rules = prometheus.rules();
            if (!rules.is_object())
                return false;
            for (const auto& group : rules["data"]["groups"])
                for (const auto& rule : group["rules"])
                    if (rule.value("health", "") != "ok" || rule.value("state", "") == "inactive")
                        return false;
            return true;
        },
        std::chrono::seconds(5));
    EXPECT_TRUE(all_active) << http_get(prometheus.url("/api/v1/rules")).body;
    EXPECT_TRUE(prometheus.running()) << prometheus.log();
}

// dashboards/podguard.json and dashboards/alerts.yml against the exporter:
// promtool, the metric list, and a real Prometheus server scraping a real
// Metrics exposer and evaluating every panel and alert expression.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include "metrics/metric_list.h"
#include "metrics/metrics.h"
#include "metrics/metrics_test_util.h"

using namespace podguard;
using namespace podguard::metrics_test;
using json = nlohmann::json;

namespace {

std::string dashboard_path() {
    return source_dir() + "/dashboards/podguard.json";
}
std::string alerts_path() {
    return source_dir() + "/dashboards/alerts.yml";
}

json load_dashboard() {
    return json::parse(read_file(dashboard_path()));
}

struct Expression {
    std::string where; // panel title / variable / alert name, for messages
    std::string expr;
};

void collect_panels(const json& panels, std::vector<const json*>& out) {
    for (const auto& panel : panels) {
        out.push_back(&panel);
        if (panel.contains("panels"))
            collect_panels(panel["panels"], out);
    }
}

std::vector<const json*> all_panels(const json& dashboard) {
    std::vector<const json*> out;
    collect_panels(dashboard["panels"], out);
    return out;
}

// label_values(<selector>, <label>) is Grafana's, not PromQL: ask for the
// same series with count by (label).
std::string variable_query_as_promql(const std::string& query) {
    static const std::regex label_values(R"(^\s*label_values\((.*),\s*(\w+)\s*\)\s*$)");
    std::smatch m;
    if (std::regex_match(query, m, label_values))
        return "count by (" + m[2].str() + ") (" + m[1].str() + ")";
    return query;
}

std::vector<Expression> dashboard_expressions(const json& dashboard) {
    std::vector<Expression> out;
    for (const json* panel : all_panels(dashboard)) {
        if (!panel->contains("targets"))
            continue;
        for (const auto& target : (*panel)["targets"])
            out.push_back(
                {"panel '" + panel->value("title", "") + "' target " + target.value("refId", ""),
                 target.value("expr", "")});
    }
    for (const auto& var : dashboard["templating"]["list"]) {
        if (var.value("type", "") != "query")
            continue;
        const auto& query = var["query"];
        std::string text =
            query.is_string() ? query.get<std::string>() : query.value("query", std::string());
        out.push_back({"variable '" + var.value("name", "") + "'", variable_query_as_promql(text)});
    }
    return out;
}

std::vector<Expression> alert_expressions() {
    std::vector<Expression> out;
    YAML::Node root = YAML::LoadFile(alerts_path());
    for (const auto& group : root["groups"])
        for (const auto& rule : group["rules"])
            out.push_back(
                {"alert " + rule["alert"].as<std::string>(), rule["expr"].as<std::string>()});
    return out;
}

// Grafana's variables as a Prometheus query would see them with "All"
// selected and a 1 h range.
std::string substitute_variables(const std::string& expr) {
    static const std::regex var(R"(\$\{?(\w+)\}?)");
    static const std::map<std::string, std::string> values{
        {"namespace", ".*"}, {"pod", ".*"},         {"__rate_interval", "1m"}, {"__interval", "1s"},
        {"__range", "1h"},   {"__range_s", "3600"}, {"datasource", "unused"},
    };
    std::string out;
    auto begin = std::sregex_iterator(expr.begin(), expr.end(), var);
    std::size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
        out += expr.substr(last, it->position() - last);
        auto found = values.find((*it)[1].str());
        if (found == values.end()) {
            ADD_FAILURE() << "unknown dashboard variable " << it->str() << " in " << expr;
            out += it->str();
        } else {
            out += found->second;
        }
        last = it->position() + it->length();
    }
    return out + expr.substr(last);
}

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

std::string require_tool(const std::string& name) {
    std::string path = find_tool(name);
    if (path.empty())
        ADD_FAILURE() << name
                      << " not found: install the Debian package prometheus (scripts/setup.sh)";
    return path;
}

// A Prometheus server on 127.0.0.1, killed (and its data removed) on scope
// exit whatever the test did.
class PrometheusServer {
  public:
    PrometheusServer(const std::string& binary, int exporter_port) : port_(free_port()) {
        std::string config = dir_.path() + "/prometheus.yml";
        std::ofstream(config) << "global:\n"
                                 "  scrape_interval: 1s\n"
                                 "  scrape_timeout: 1s\n"
                                 "  evaluation_interval: 1s\n"
                                 "rule_files:\n"
                                 "  - "
                              << alerts_path()
                              << "\n"
                                 "scrape_configs:\n"
                                 "  - job_name: podguard\n"
                                 "    static_configs:\n"
                                 "      - targets: ['127.0.0.1:"
                              << exporter_port << "']\n";
        log_ = dir_.path() + "/prometheus.log";
        std::vector<std::string> argv{
            binary, "--config.file=" + config, "--storage.tsdb.path=" + dir_.path() + "/data",
            "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
        pid_ = fork();
        if (pid_ == 0) {
            int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            dup2(fd, 1);
            dup2(fd, 2);
            std::vector<char*> args;
            for (auto& a : argv)
                args.push_back(a.data());
            args.push_back(nullptr);
            execv(args[0], args.data());
            _exit(127);
        }
    }
    ~PrometheusServer() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    PrometheusServer(const PrometheusServer&) = delete;
    PrometheusServer& operator=(const PrometheusServer&) = delete;

    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    std::string log() const { return read_file(log_); }
    bool running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

    // /api/v1/query at now; the JSON answer, or null on transport failure.
    json query(const std::string& promql) const {
        auto response = http_get(url("/api/v1/query?query=" + url_encode(promql)));
        if (!response.error.empty())
            return nullptr;
        return json::parse(response.body, nullptr, false);
    }

  private:
    TempDir dir_;
    int port_;
    std::string log_;
    pid_t pid_ = -1;
};

template <class F> bool wait_for(F condition, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return condition();
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
    ASSERT_TRUE(wait_for(
        [&] {
            auto r = http_get(prometheus.url("/-/ready"), 500);
            return r.error.empty() && r.status == 200;
        },
        std::chrono::seconds(15)))
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
    bool scraped = wait_for(
        [&] {
            json r = prometheus.query("count_over_time(up{job=\"podguard\"}[1m])");
            return r.is_object() && !r["data"]["result"].empty() &&
                   std::stod(r["data"]["result"][0]["value"][1].get<std::string>()) >= 4;
        },
        std::chrono::seconds(15));
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
            auto response = http_get(prometheus.url("/api/v1/rules"));
            json rules = json::parse(response.body, nullptr, false);
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

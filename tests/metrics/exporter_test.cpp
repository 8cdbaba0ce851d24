// The exporter over real HTTP on 127.0.0.1, checked with promtool.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "metrics/metric_list.h"
#include "metrics/metrics.h"
#include "metrics/metrics_test_util.h"

using namespace podguard;
using namespace podguard::metrics_test;

namespace {

std::unique_ptr<Metrics> start_metrics(MetricsConfig config = {}) {
    config.address = "127.0.0.1:0";
    auto metrics = Metrics::start(config);
    if (!metrics) {
        ADD_FAILURE() << metrics.error().message;
        return nullptr;
    }
    return std::move(metrics).value();
}

std::string scrape(const Metrics& metrics) {
    auto response = http_get("http://127.0.0.1:" + std::to_string(metrics.port()) + "/metrics");
    EXPECT_EQ(response.error, "");
    EXPECT_EQ(response.status, 200);
    return response.body;
}

std::string promtool() {
    std::string path = find_tool("promtool");
    if (path.empty())
        ADD_FAILURE() << "promtool not found: apt-get install prometheus (scripts/setup.sh)";
    return path;
}

// Feeds one of everything the pipeline reports.
void feed_everything(Metrics& metrics) {
    metrics.set_enforcement_mode(EnforcementMode::SignalFallback);
    metrics.observe(
        pod_event("shop", "web-1", "app", EventKind::Ptrace, Relation::SamePod, Action::Killed));
    metrics.observe(
        pod_event("shop", "web-1", "app", EventKind::Signal, Relation::SamePod, Action::Allowed));
    metrics.observe(
        pod_event("shop", "web-1", "app", EventKind::Signal, Relation::SamePod, Action::Allowed));
    metrics.observe(pod_event("shop", "web-2", "debug", EventKind::ProcAccess, Relation::SamePod,
                              Action::Blocked));
    metrics.observe(pod_event("shop", "web-2", "debug", EventKind::Exec, Relation::SameContainer,
                              Action::Allowed));
    pg_lost_counters lost{};
    lost.count[PG_EV_SIGNAL][PG_LOST_RINGBUF_FULL] = 7;
    lost.count[PG_EV_EXEC][PG_LOST_INFLIGHT_FULL] = 2;
    metrics.set_lost(lost);
    metrics.add_dropped_userspace("decode_error", 3);
    metrics.set_ringbuf(4096, 1 << 20);
    metrics.update_bpf_programs({{"pg_sys_enter_kill", 10, 5000}, {"pg_signal_generate", 4, 0}});
    metrics.set_provider_up("cri", true);
    metrics.set_provider_up("kubernetes", false);
    metrics.count_metadata_lookup("cri", true);
    metrics.count_metadata_lookup("cri", true);
    metrics.count_metadata_lookup("cri", false);
    metrics.record_policy_reload(true, 12);
    metrics.record_policy_reload(false);
    pg_flood_counters flood{};
    flood.sent[PG_CLASS_FIRST] = 4;
    flood.lost[PG_CLASS_SUMMARY][PG_DROP_RINGBUF_FULL] = 9;
    flood.aggregated = 120;
    flood.summarized = 100;
    flood.demoted = 1;
    flood.table_full = 2;
    metrics.set_flood(flood);
    metrics.set_source_flood(42, {"shop", "web-2", "debug"}, 30, 100);
}

} // namespace

TEST(MetricsExporter, ServesEveryListedMetricAndPassesPromtool) {
    auto metrics = start_metrics();
    ASSERT_TRUE(metrics);
    ASSERT_NE(metrics->port(), 0);
    feed_everything(*metrics);
    std::string body = scrape(*metrics);

    // Every listed metric is exported and every podguard_ family is listed.
    auto families = declared_families(body);
    std::set<std::string> listed;
    for (const auto& spec : kMetrics)
        listed.insert(std::string(spec.name));
    for (const auto& name : listed)
        EXPECT_TRUE(families.count(name)) << name << " is listed but not exported";
    for (const auto& name : families) {
        if (name.rfind("podguard_", 0) == 0) {
            EXPECT_TRUE(listed.count(name)) << name << " is exported but not in metric_list.h";
        }
    }

    std::string tool = promtool();
    ASSERT_FALSE(tool.empty());
    auto check = run_command({tool, "check", "metrics"}, body);
    EXPECT_EQ(check.exit_code, 0) << check.output;
    // promtool lints podguard's own names; exposer_* come from prometheus-cpp.
    for (const auto& name : listed)
        EXPECT_EQ(check.output.find(name), std::string::npos) << check.output;
}

TEST(MetricsExporter, ScrapedValuesMatchWhatWasFed) {
    auto metrics = start_metrics();
    ASSERT_TRUE(metrics);
    feed_everything(*metrics);
    auto samples = parse_exposition(scrape(*metrics));
    auto value = [&](const std::string& name, const std::map<std::string, std::string>& labels) {
        auto v = sample_value(samples, name, labels);
        EXPECT_TRUE(v.has_value()) << name << " has no sample with the given labels";
        return v.value_or(-1);
    };

    EXPECT_EQ(value("podguard_events_total",
                    {{"kind", "signal"}, {"relation", "same_pod"}, {"action", "allowed"}}),
              2);
    EXPECT_EQ(value("podguard_events_total",
                    {{"kind", "ptrace"}, {"relation", "same_pod"}, {"action", "killed"}}),
              1);
    EXPECT_EQ(value("podguard_events_total",
                    {{"kind", "fork"}, {"relation", "host"}, {"action", "allowed"}}),
              0);
    EXPECT_EQ(value("podguard_pod_events_total", {{"namespace", "shop"},
                                                  {"pod", "web-1"},
                                                  {"container", "app"},
                                                  {"kind", "signal"},
                                                  {"relation", "same_pod"},
                                                  {"action", "allowed"}}),
              2);
    EXPECT_EQ(value("podguard_pod_events_total", {{"namespace", "shop"},
                                                  {"pod", "web-2"},
                                                  {"container", "debug"},
                                                  {"kind", "proc_access"},
                                                  {"action", "blocked"}}),
              1);
    EXPECT_EQ(value("podguard_policy_decisions_total",
                    {{"kind", "ptrace"}, {"action", "killed"}, {"mode", "signal_fallback"}}),
              1);
    EXPECT_EQ(value("podguard_policy_decisions_total",
                    {{"kind", "signal"}, {"action", "allowed"}, {"mode", "signal_fallback"}}),
              2);
    // Lifecycle events are not policy decisions.
    EXPECT_FALSE(sample_value(samples, "podguard_policy_decisions_total", {{"kind", "exec"}}));
    EXPECT_EQ(value("podguard_enforcement_mode", {{"mode", "signal_fallback"}}), 1);
    EXPECT_EQ(value("podguard_enforcement_mode", {{"mode", "lsm"}}), 0);
    EXPECT_EQ(value("podguard_enforcement_mode", {{"mode", "monitor"}}), 0);
    EXPECT_EQ(value("podguard_enforcement_may_complete", {}), 1);
    EXPECT_EQ(value("podguard_events_lost_total", {{"kind", "signal"}, {"reason", "ringbuf_full"}}),
              7);
    EXPECT_EQ(value("podguard_events_lost_total", {{"kind", "exec"}, {"reason", "inflight_full"}}),
              2);
    EXPECT_EQ(value("podguard_events_lost_total", {{"kind", "exit"}, {"reason", "proc_map_full"}}),
              0);
    EXPECT_EQ(value("podguard_events_dropped_userspace_total", {{"reason", "decode_error"}}), 3);
    EXPECT_EQ(value("podguard_ringbuf_used_bytes", {}), 4096);
    EXPECT_EQ(value("podguard_ringbuf_size_bytes", {}), 1 << 20);
    EXPECT_EQ(value("podguard_bpf_program_runs_total", {{"program", "pg_sys_enter_kill"}}), 10);
    EXPECT_DOUBLE_EQ(
        value("podguard_bpf_program_run_seconds_total", {{"program", "pg_sys_enter_kill"}}), 5e-6);
    EXPECT_EQ(value("podguard_metadata_provider_up", {{"provider", "cri"}}), 1);
    EXPECT_EQ(value("podguard_metadata_provider_up", {{"provider", "kubernetes"}}), 0);
    EXPECT_EQ(value("podguard_metadata_lookups_total", {{"provider", "cri"}, {"result", "hit"}}),
              2);
    EXPECT_EQ(value("podguard_metadata_lookups_total", {{"provider", "cri"}, {"result", "miss"}}),
              1);
    EXPECT_EQ(value("podguard_policy_reloads_total", {{"result", "success"}}), 1);
    EXPECT_EQ(value("podguard_policy_reloads_total", {{"result", "failure"}}), 1);
    EXPECT_EQ(value("podguard_policy_rules", {}), 12);
    EXPECT_EQ(value("podguard_events_sent_total", {{"class", "first"}}), 4);
    EXPECT_EQ(value("podguard_events_sent_total", {{"class", "policy"}}), 0);
    EXPECT_EQ(value("podguard_events_lost_by_class_total",
                    {{"class", "summary"}, {"reason", "ringbuf_full"}}),
              9);
    EXPECT_EQ(value("podguard_events_aggregated_total", {}), 100);
    EXPECT_EQ(value("podguard_aggregation_unsummarized", {}), 20);
    EXPECT_EQ(value("podguard_events_demoted_total", {}), 1);
    EXPECT_EQ(value("podguard_aggregation_table_full_total", {}), 2);
    EXPECT_EQ(value("podguard_source_events_suppressed_total",
                    {{"namespace", "shop"}, {"pod", "web-2"}, {"container", "debug"}}),
              30);
    EXPECT_EQ(value("podguard_source_events_aggregated_total",
                    {{"namespace", "shop"}, {"pod", "web-2"}, {"container", "debug"}}),
              100);
    double now = static_cast<double>(time(nullptr));
    EXPECT_NEAR(value("podguard_policy_last_reload_success_timestamp_seconds", {}), now, 60);
    EXPECT_NEAR(value("podguard_start_time_seconds", {}), now, 60);
    EXPECT_EQ(value("podguard_build_info", {{"version", PODGUARD_VERSION}}), 1);
    EXPECT_FALSE(samples.empty());
}

TEST(MetricsExporter, KernelTotalsAreFollowedMonotonically) {
    auto metrics = start_metrics();
    ASSERT_TRUE(metrics);
    pg_lost_counters lost{};
    auto lost_signal = [&] {
        return sample_value(parse_exposition(scrape(*metrics)), "podguard_events_lost_total",
                            {{"kind", "signal"}, {"reason", "ringbuf_full"}})
            .value_or(-1);
    };
    lost.count[PG_EV_SIGNAL][PG_LOST_RINGBUF_FULL] = 5;
    metrics->set_lost(lost);
    metrics->set_lost(lost); // the same total again adds nothing
    EXPECT_EQ(lost_signal(), 5);
    lost.count[PG_EV_SIGNAL][PG_LOST_RINGBUF_FULL] = 9;
    metrics->set_lost(lost);
    EXPECT_EQ(lost_signal(), 9);
    // The BPF object was reloaded: its counters restart from 0.
    lost.count[PG_EV_SIGNAL][PG_LOST_RINGBUF_FULL] = 2;
    metrics->set_lost(lost);
    EXPECT_EQ(lost_signal(), 11);
    // Kind 0 (no specific kind) shows up only once the kernel counts one.
    EXPECT_FALSE(sample_value(parse_exposition(scrape(*metrics)), "podguard_events_lost_total",
                              {{"kind", "unknown"}}));
    lost.count[0][PG_LOST_PROC_MAP_FULL] = 1;
    metrics->set_lost(lost);
    EXPECT_EQ(sample_value(parse_exposition(scrape(*metrics)), "podguard_events_lost_total",
                           {{"kind", "unknown"}, {"reason", "proc_map_full"}}),
              1);

    metrics->update_bpf_programs({{"prog", 100, 2'000'000'000}});
    metrics->update_bpf_programs({{"prog", 150, 3'000'000'000}});
    auto samples = parse_exposition(scrape(*metrics));
    EXPECT_EQ(sample_value(samples, "podguard_bpf_program_runs_total", {{"program", "prog"}}), 150);
    EXPECT_DOUBLE_EQ(
        sample_value(samples, "podguard_bpf_program_run_seconds_total", {{"program", "prog"}})
            .value_or(-1),
        3.0);
}

TEST(MetricsExporter, BindFailureIsAnErrorValueWithTheReason) {
    auto first = start_metrics();
    ASSERT_TRUE(first);
    MetricsConfig config;
    config.address = "127.0.0.1:" + std::to_string(first->port());
    auto second = Metrics::start(config);
    ASSERT_FALSE(second.ok()) << "a second exporter bound the same port";
    EXPECT_NE(second.error().message.find("cannot listen on " + config.address), std::string::npos)
        << second.error().message;
    EXPECT_NE(second.error().message.find(std::strerror(EADDRINUSE)), std::string::npos)
        << second.error().message;

    // Not an address of this machine.
    config.address = "192.0.2.1:9417";
    auto foreign = Metrics::start(config);
    ASSERT_FALSE(foreign.ok());
    EXPECT_NE(foreign.error().message.find(std::strerror(EADDRNOTAVAIL)), std::string::npos)
        << foreign.error().message;

    for (const char* bad : {"localhost:9417", "127.0.0.1", "127.0.0.1:99999", ":9417",
                            "127.0.0.1:http", "[::1:9417"}) {
        config.address = bad;
        auto result = Metrics::start(config);
        ASSERT_FALSE(result.ok()) << bad;
        EXPECT_NE(result.error().message.find(bad), std::string::npos) << result.error().message;
    }
    EXPECT_TRUE(validate_metrics_address(kDefaultMetricsAddress));
    EXPECT_TRUE(validate_metrics_address("[::1]:9417"));
    EXPECT_TRUE(validate_metrics_address("0.0.0.0:9417"));
}

TEST(MetricsExporter, LabelsNeverCarryCommandLinesPathsOrComm) {
    auto metrics = start_metrics();
    ASSERT_TRUE(metrics);
    Event e = pod_event("shop", "web-1", "app", EventKind::Exec, Relation::SameContainer,
                        Action::Allowed);
    e.source.comm = "SECRETCOMM";
    e.source.exe = "/SECRETEXE";
    e.source.container->image = "registry/SECRETIMAGE";
    e.source.container->id = "SECRETID";
    e.source.pod->labels["SECRETLABEL"] = "SECRETVALUE";
    e.detail = ProcessDetail{"/bin/SECRETFILE", "curl -H token=SECRETARG", 0};
    metrics->observe(e);
    Event p = pod_event("shop", "web-1", "app", EventKind::ProcAccess, Relation::SamePod,
                        Action::Audited);
    p.detail = ProcAccessDetail{"/proc/1/SECRETPATH", "environ", PG_SYS_OPENAT, 0, 1, 0, false};
    metrics->observe(p);
    std::string body = scrape(*metrics);
    EXPECT_EQ(body.find("SECRET"), std::string::npos) << body;
    EXPECT_NE(body.find("pod=\"web-1\""), std::string::npos);
}

TEST(MetricsExporter, PodSeriesAreCappedAndFoldIntoOverflow) {
    MetricsConfig config;
    config.max_pod_series = 50;
    auto metrics = start_metrics(config);
    ASSERT_TRUE(metrics);
    constexpr int kPods = 500;
    for (int i = 0; i < kPods; ++i)
        for (int n = 0; n < 2; ++n)
            metrics->observe(pod_event("ns" + std::to_string(i % 7), "pod-" + std::to_string(i),
                                       "app", EventKind::Signal, Relation::SamePod,
                                       Action::Allowed));
    auto samples = parse_exposition(scrape(*metrics));
    std::set<std::tuple<std::string, std::string, std::string>> tuples;
    for (const auto& s : samples)
        if (s.name == "podguard_pod_events_total")
            tuples.insert({s.labels.at("namespace"), s.labels.at("pod"), s.labels.at("container")});
    EXPECT_EQ(tuples.size(), config.max_pod_series + 1); // + the overflow tuple
    EXPECT_TRUE(tuples.count({"_overflow", "_overflow", "_overflow"}));
    EXPECT_EQ(count_series(samples, "podguard_pod_events_total"), config.max_pod_series + 1);
    EXPECT_EQ(sample_value(samples, "podguard_pod_events_total", {{"pod", "_overflow"}}),
              2 * (kPods - 50));
    EXPECT_EQ(sample_value(samples, "podguard_metric_series_overflow_total"), 2 * (kPods - 50));
    EXPECT_EQ(sample_value(samples, "podguard_metric_pod_series"), 50);
    // The global counter still has every event.
    EXPECT_EQ(sample_value(samples, "podguard_events_total",
                           {{"kind", "signal"}, {"relation", "same_pod"}, {"action", "allowed"}}),
              2 * kPods);

    // A deleted pod frees its slot for a new one.
    metrics->forget_pod("ns0", "pod-0");
    EXPECT_EQ(metrics->pod_series(), 49u);
    metrics->observe(
        pod_event("late", "new-pod", "app", EventKind::Signal, Relation::SamePod, Action::Allowed));
    samples = parse_exposition(scrape(*metrics));
    EXPECT_FALSE(sample_value(samples, "podguard_pod_events_total", {{"pod", "pod-0"}}));
    EXPECT_EQ(sample_value(samples, "podguard_pod_events_total", {{"pod", "new-pod"}}), 1);
    EXPECT_EQ(metrics->pod_series(), 50u);
}

TEST(MetricsExporter, PodLabelModesChooseTheIdentityLabels) {
    auto observe_one = [](PodLabels mode) {
        MetricsConfig config;
        config.pod_labels = mode;
        auto metrics = start_metrics(config);
        if (!metrics)
            return std::vector<Sample>{};
        metrics->observe(pod_event("shop", "web-1", "app", EventKind::Ptrace, Relation::SamePod,
                                   Action::Audited));
        metrics->observe(pod_event("shop", "web-2", "app", EventKind::Ptrace, Relation::SamePod,
                                   Action::Audited));
        return parse_exposition(scrape(*metrics));
    };
    auto off = observe_one(PodLabels::Off);
    EXPECT_EQ(count_series(off, "podguard_pod_events_total"), 0u);
    EXPECT_EQ(sample_value(off, "podguard_events_total",
                           {{"kind", "ptrace"}, {"relation", "same_pod"}, {"action", "audited"}}),
              2);

    auto ns = observe_one(PodLabels::Namespace);
    ASSERT_EQ(count_series(ns, "podguard_pod_events_total"), 1u);
    for (const auto& s : ns)
        if (s.name == "podguard_pod_events_total") {
            EXPECT_EQ(s.labels.count("pod"), 0u);
            EXPECT_EQ(s.labels.count("container"), 0u);
            EXPECT_EQ(s.value, 2);
        }

    auto pod = observe_one(PodLabels::NamespacePod);
    ASSERT_EQ(count_series(pod, "podguard_pod_events_total"), 2u);
    for (const auto& s : pod)
        if (s.name == "podguard_pod_events_total") {
            EXPECT_EQ(s.labels.count("pod"), 1u);
            EXPECT_EQ(s.labels.count("container"), 0u);
        }

    EXPECT_EQ(parse_pod_labels("pod").value(), PodLabels::NamespacePod);
    EXPECT_EQ(parse_pod_labels("container").value(), PodLabels::NamespacePodContainer);
    EXPECT_FALSE(parse_pod_labels("everything").ok());
}

TEST(MetricsExporter, HostOriginatedEventsCountForTheTargetPod) {
    auto metrics = start_metrics();
    ASSERT_TRUE(metrics);
    Event e = pod_event("shop", "web-1", "app", EventKind::Ptrace, Relation::HostToContainer,
                        Action::Audited);
    e.source.container.reset();
    e.source.pod.reset();
    metrics->observe(e);
    Event host = e;
    host.relation = Relation::Host;
    host.target.container.reset();
    host.target.pod.reset();
    metrics->observe(host);
    auto samples = parse_exposition(scrape(*metrics));
    EXPECT_EQ(count_series(samples, "podguard_pod_events_total"), 1u);
    EXPECT_EQ(sample_value(
                  samples, "podguard_pod_events_total",
                  {{"pod", "web-1"}, {"container", "sidecar"}, {"relation", "host_to_container"}}),
              1);
}

TEST(MetricsExporter, PodsWithoutMetadataAreKeyedByTheirIds) {
    auto metrics = start_metrics();
    ASSERT_TRUE(metrics);
    // What the cgroup parser alone gives: container id and pod uid, no names.
    auto nameless = [](const std::string& pod_uid, const std::string& container_id) {
        Event e = pod_event("", "", "", EventKind::Signal, Relation::SamePod, Action::Allowed);
        e.source.pod.reset();
        e.source.container = ContainerInfo{container_id, "kubernetes", "", "", pod_uid};
        return e;
    };
    const std::string id_a(64, 'a'), id_b(64, 'b');
    metrics->observe(nameless("uid-1", id_a));
    metrics->observe(nameless("uid-1", id_a));
    metrics->observe(nameless("uid-2", id_b));
    // A pod the provider knows by uid only.
    Event uid_only = nameless("", id_b);
    uid_only.source.pod = PodInfo{"", "", "uid-3", {}};
    metrics->observe(uid_only);

    auto samples = parse_exposition(scrape(*metrics));
    EXPECT_EQ(count_series(samples, "podguard_pod_events_total"), 3u);
    EXPECT_EQ(
        sample_value(samples, "podguard_pod_events_total",
                     {{"namespace", ""}, {"pod", "uid-1"}, {"container", id_a.substr(0, 12)}}),
        2);
    EXPECT_EQ(sample_value(samples, "podguard_pod_events_total",
                           {{"pod", "uid-2"}, {"container", id_b.substr(0, 12)}}),
              1);
    EXPECT_EQ(sample_value(samples, "podguard_pod_events_total", {{"pod", "uid-3"}}), 1);
    EXPECT_EQ(metrics->pod_series(), 3u);
}

TEST(MetricsExporter, ObserveIsSafeAgainstConcurrentScrapesAndForgets) {
    auto metrics = start_metrics();
    ASSERT_TRUE(metrics);
    std::atomic<bool> done{false};
    std::thread scraper([&] {
        while (!done)
            scrape(*metrics);
    });
    std::thread forgetter([&] {
        while (!done)
            metrics->forget_pod("ns", "pod-3");
    });
    for (int i = 0; i < 20000; ++i)
        metrics->observe(pod_event("ns", "pod-" + std::to_string(i % 10), "app", EventKind::Signal,
                                   Relation::SamePod, Action::Allowed));
    done = true;
    scraper.join();
    forgetter.join();
    EXPECT_EQ(sample_value(parse_exposition(scrape(*metrics)), "podguard_events_total",
                           {{"kind", "signal"}, {"relation", "same_pod"}, {"action", "allowed"}}),
              20000);
}

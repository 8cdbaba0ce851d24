// Prometheus exposition of what the agent sees and how healthy it is
// (`podguard run --metrics-address HOST:PORT`, GET /metrics). The metric
// names, types and help texts live in metrics/metric_list.h.
//
// Threading: every method may be called from any thread. observe() is the
// per-event path: the global series are pre-created (an array index and an
// atomic add); the pod-level counts are metrics/pod_series.h's.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "events/event.h"
#include "events/kinds.h"
#include "loader/kernel_probe.h" // EnforcementMode
#include "metrics/bpf_stats.h"
#include "metrics/listen_address.h"
#include "metrics/pod_series.h"
#include "podguard.h"

namespace prometheus {
class Collectable;
class Counter;
class Exposer;
class Gauge;
class Registry;
template <class T> class Family;
} // namespace prometheus

namespace podguard {

inline constexpr const char* kDefaultMetricsAddress = "127.0.0.1:9417";

struct MetricsConfig {
    // IPv4 "A.B.C.D:PORT" or IPv6 "[ADDR]:PORT"; port 0 picks a free port
    // (see Metrics::port()).
    std::string address = kDefaultMetricsAddress;
    PodLabels pod_labels = PodLabels::NamespacePodContainer;
    // Distinct pod label tuples (as chosen by pod_labels) exported before new
    // ones fold into "_overflow".
    std::size_t max_pod_series = 2000;
    std::string version;          // empty: PODGUARD_VERSION
    std::string kernel;           // empty: uname -r
    std::size_t http_threads = 2; // civetweb worker threads
};

// The identity a flood-control source cgroup is reported under.
struct FloodSource {
    std::string namespace_;
    std::string pod;
    std::string container; // name, short id, or "host"
};

class Metrics {
  public:
    // Binds the HTTP exposer; an address that cannot be bound is an error
    // value ("metrics: cannot listen on 127.0.0.1:9417: Address already in
    // use"), never an exception.
    static Result<std::unique_ptr<Metrics>> start(const MetricsConfig& config);
    ~Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    uint16_t port() const { return port_; } // the bound port
    // For metric families kept by other modules (metrics/policy_status.h).
    prometheus::Registry& registry() const { return *registry_; }
    const MetricsConfig& config() const { return config_; }

    // Per event: podguard_events_total, podguard_pod_events_total and, for
    // signal/ptrace/proc_access, podguard_policy_decisions_total.
    void observe(const Event& event);

    // Sets podguard_enforcement_mode and podguard_enforcement_may_complete
    // (1 for SignalFallback). Monitor until called.
    void set_enforcement_mode(EnforcementMode mode);

    // Per-CPU pg_lost_counters summed by the caller: the kernel's monotonic
    // totals. The counters follow them (a total that went down, e.g. after
    // the BPF object was reloaded, counts as a restart from 0).
    void set_lost(const pg_lost_counters& summed);
    void add_dropped_userspace(std::string_view reason, uint64_t count = 1);

    void set_ringbuf(uint64_t used_bytes, uint64_t size_bytes);
    // The kernel's pg_guard_stats totals (bpf/guard.bpf.h), followed as set_lost.
    void set_agent_stop_signals(const pg_guard_stats& totals);

    // Monotonic per-program totals (read_bpf_program_stats); followed the
    // same way as set_lost.
    void update_bpf_programs(const std::vector<BpfProgramStats>& programs);

    void set_provider_up(std::string_view provider, bool up);
    void count_metadata_lookup(std::string_view provider, bool hit, uint64_t count = 1);

    // Counts a reload; on success also stamps
    // podguard_policy_last_reload_success_timestamp_seconds with now and
    // sets podguard_policy_rules.
    void record_policy_reload(bool success, std::size_t rules = 0);
    void set_policy_rules(std::size_t rules);

    // Drops the pod's podguard_pod_events_total series (call when a pod is
    // deleted so that churn does not fill max_pod_series with dead pods).
    // Ignored for PodLabels::Off; with PodLabels::Namespace, pod is ignored
    // and nothing is removed (a namespace outlives its pods).
    void forget_pod(std::string_view namespace_, std::string_view pod);

    // Flood control (bpf/transport.bpf.h; metrics/flood_metrics.cpp): the
    // kernel's per-CPU pg_flood_counters summed by the caller, followed like
    // set_lost.
    void set_flood(const pg_flood_counters& summed);
    // One source cgroup's monotonic totals from its pg_fair bucket, under the
    // identity labels of its container (container="host" outside one).
    void set_source_flood(uint64_t cgroup_id, const FloodSource& source, uint64_t suppressed,
                          uint64_t aggregated);

    std::size_t pod_series() const;
    // The text exposition of podguard_* (GET /metrics adds prometheus-cpp's
    // own exposer_* metrics).
    std::string render() const;

  private:
    struct FollowedCounter {
        prometheus::Counter* counter = nullptr;
        uint64_t last = 0;
        void follow(uint64_t total, double scale);
    };

    explicit Metrics(const MetricsConfig& config);
    void build();
    struct FloodFamilies;
    void build_flood(prometheus::Registry& registry);
    std::shared_ptr<FloodFamilies> flood_; // shared_ptr: complete only in flood_metrics.cpp

    static constexpr std::size_t kKinds = kEventKinds.size(), kDecisionKinds = kActKinds,
                                 kRelations = 7, kActions = 4, kModes = 3;

    MetricsConfig config_;
    std::shared_ptr<prometheus::Registry> registry_;

    prometheus::Family<prometheus::Counter>* lost_family_ = nullptr;
    prometheus::Family<prometheus::Counter>* dropped_family_ = nullptr;
    prometheus::Family<prometheus::Counter>* bpf_runs_family_ = nullptr;
    prometheus::Family<prometheus::Counter>* bpf_seconds_family_ = nullptr;
    prometheus::Family<prometheus::Gauge>* provider_up_family_ = nullptr;
    prometheus::Family<prometheus::Counter>* lookups_family_ = nullptr;

    // Pre-created, immutable after build(): lock-free on the event path.
    std::array<prometheus::Counter*, kKinds * kRelations * kActions> events_{};
    std::array<prometheus::Counter*, kDecisionKinds * kActions * kModes> decisions_{};
    std::array<prometheus::Gauge*, kModes> mode_gauges_{};
    prometheus::Gauge* may_complete_ = nullptr;
    std::atomic<int> mode_{static_cast<int>(EnforcementMode::Monitor)};
    prometheus::Counter* overflow_ = nullptr;
    prometheus::Gauge* pod_series_ = nullptr;
    prometheus::Gauge* ringbuf_used_ = nullptr;
    prometheus::Gauge* ringbuf_size_ = nullptr;
    prometheus::Counter* reload_success_ = nullptr;
    prometheus::Counter* reload_failure_ = nullptr;
    prometheus::Gauge* reload_timestamp_ = nullptr;
    prometheus::Gauge* policy_rules_ = nullptr;

    std::shared_ptr<PodSeries> pod_events_; // null: PodLabels::Off

    // Everything below changes off the event path (or rarely).
    std::mutex mu_;
    std::array<FollowedCounter, std::size_t{PG_EV_KIND_MAX} * std::size_t{PG_LOST_REASON_MAX}>
        lost_{};
    std::map<std::string, prometheus::Counter*, std::less<>> dropped_;
    struct BpfCounters {
        FollowedCounter runs, seconds;
    };
    std::map<std::string, BpfCounters, std::less<>> bpf_;
    std::array<FollowedCounter, 3> stops_{}; // resumed, not_resumed, allowed
    std::map<std::string, prometheus::Gauge*, std::less<>> provider_up_;
    std::map<std::string, std::array<prometheus::Counter*, 2>, std::less<>> lookups_;

    uint16_t port_ = 0;
    // Last member: destroyed first, so no scrape runs during teardown.
    std::unique_ptr<prometheus::Exposer> exposer_;
};

} // namespace podguard

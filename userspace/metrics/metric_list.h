// THE list of every metric podguard exports. Metrics creates its families
// from this table only, and the tests check the exposition, the Grafana
// dashboard (dashboards/podguard.json) and the alert rules
// (dashboards/alerts.yml) against it, so a name cannot drift between them.
//
// Naming: podguard_ prefix, counters end in _total, base units (seconds,
// bytes). Labels only ever carry: namespace, pod, container (name), kind,
// relation, action, reason, class, program, provider, mode, result, version, kernel;
// never command lines, environment, paths, comm or anything user-controlled
// beyond Kubernetes object names.
//
//   podguard_events_total{kind,relation,action}                    counter
//   podguard_pod_events_total{namespace,pod,container,kind,relation,action}
//                                                                    counter
//       (attributed to the acting container's pod; host-originated events
//        to the target's pod; which of namespace/pod/container are present
//        follows MetricsConfig::pod_labels; without metadata, pod is the
//        pod uid and container the first 12 characters of the container id;
//        past max_pod_series tuples the values are "_overflow")
//   podguard_metric_series_overflow_total                           counter
//   podguard_metric_pod_series                                      gauge
//   podguard_policy_decisions_total{kind,action,mode}               counter
//   podguard_enforcement_mode{mode="lsm|signal_fallback|monitor"}   gauge
//   podguard_enforcement_may_complete                               gauge
//   podguard_events_lost_total{kind,reason}                         counter
//   podguard_events_dropped_userspace_total{reason}                 counter
//   podguard_ringbuf_used_bytes                                     gauge
//   podguard_ringbuf_size_bytes                                     gauge
//   podguard_bpf_program_runs_total{program}                        counter
//   podguard_bpf_program_run_seconds_total{program}                 counter
//   podguard_metadata_provider_up{provider}                         gauge
//   podguard_metadata_lookups_total{provider,result="hit|miss"}     counter
//   podguard_policy_reloads_total{result="success|failure"}         counter
//   podguard_policy_last_reload_success_timestamp_seconds           gauge
//   podguard_policy_rules                                           gauge
//   podguard_events_sent_total{class}                               counter
//   podguard_events_lost_by_class_total{class,reason}               counter
//   podguard_events_aggregated_total                                counter
//   podguard_events_demoted_total                                   counter
//   podguard_aggregation_table_full_total                           counter
//   podguard_aggregation_unsummarized                               gauge
//   podguard_source_events_suppressed_total{namespace,pod,container} counter
//   podguard_source_events_aggregated_total{namespace,pod,container} counter
//       (flood control, bpf/transport.bpf.h; class: ordinary, first,
//        policy, summary; the source is the acting cgroup: its container,
//        or container="host")
//   podguard_build_info{version,kernel}                             gauge
//   podguard_start_time_seconds                                     gauge
//   podguard_agent_stop_signals_total{result="resumed|not_resumed|allowed"}
//                                                                    counter
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace podguard {

enum class MetricType { Counter, Gauge };

enum class MetricId : std::size_t {
    EventsTotal,
    PodEventsTotal,
    SeriesOverflowTotal,
    PodSeries,
    PolicyDecisionsTotal,
    EnforcementMode,
    EnforcementMayComplete,
    EventsLostTotal,
    EventsDroppedUserspaceTotal,
    RingbufUsedBytes,
    RingbufSizeBytes,
    BpfProgramRunsTotal,
    BpfProgramRunSecondsTotal,
    MetadataProviderUp,
    MetadataLookupsTotal,
    PolicyReloadsTotal,
    PolicyLastReloadSuccessTimestampSeconds,
    PolicyRules,
    EventsSentTotal,
    EventsLostByClassTotal,
    EventsAggregatedTotal,
    EventsDemotedTotal,
    AggregationTableFullTotal,
    AggregationUnsummarized,
    SourceEventsSuppressedTotal,
    SourceEventsAggregatedTotal,
    BuildInfo,
    StartTimeSeconds,
    AgentStopSignalsTotal,
    Count,
};

struct MetricSpec {
    MetricId id;
    std::string_view name;
    MetricType type;
    std::string_view help;
};

inline constexpr std::array<MetricSpec, static_cast<std::size_t>(MetricId::Count)> kMetrics{{
    {MetricId::EventsTotal, "podguard_events_total", MetricType::Counter,
     "Events seen by the agent, by kind, relation between the parties and enforcement action."},
    {MetricId::PodEventsTotal, "podguard_pod_events_total", MetricType::Counter,
     "Events attributed to a pod (the acting container's, or the target's for host-originated "
     "events). Without pod metadata, pod is the pod uid and container the short container id. "
     "Label tuples past max_pod_series are folded into \"_overflow\"."},
    {MetricId::SeriesOverflowTotal, "podguard_metric_series_overflow_total", MetricType::Counter,
     "Events whose pod labels were folded into \"_overflow\" because max_pod_series was reached."},
    {MetricId::PodSeries, "podguard_metric_pod_series", MetricType::Gauge,
     "Pod label tuples currently exported by podguard_pod_events_total (cap: max_pod_series)."},
    {MetricId::PolicyDecisionsTotal, "podguard_policy_decisions_total", MetricType::Counter,
     "Policy decisions on signal, ptrace and /proc access events, by action and the enforcement "
     "mode in force."},
    {MetricId::EnforcementMode, "podguard_enforcement_mode", MetricType::Gauge,
     "1 for the enforcement mode in force (lsm, signal_fallback, monitor), 0 for the others."},
    {MetricId::EnforcementMayComplete, "podguard_enforcement_may_complete", MetricType::Gauge,
     "1 when enforcement cannot prevent a denied syscall from completing (signal fallback: the "
     "offender is killed, the operation may still happen)."},
    {MetricId::EventsLostTotal, "podguard_events_lost_total", MetricType::Counter,
     "Events the kernel side could not deliver, summed over CPUs, by kind and reason."},
    {MetricId::EventsDroppedUserspaceTotal, "podguard_events_dropped_userspace_total",
     MetricType::Counter, "Events received from the kernel but dropped in user space, by reason."},
    {MetricId::RingbufUsedBytes, "podguard_ringbuf_used_bytes", MetricType::Gauge,
     "Bytes waiting in the event ring buffer at the last sample."},
    {MetricId::RingbufSizeBytes, "podguard_ringbuf_size_bytes", MetricType::Gauge,
     "Size of the event ring buffer in bytes."},
    {MetricId::BpfProgramRunsTotal, "podguard_bpf_program_runs_total", MetricType::Counter,
     "Runs of each BPF program (counted only while BPF run-time statistics are enabled)."},
    {MetricId::BpfProgramRunSecondsTotal, "podguard_bpf_program_run_seconds_total",
     MetricType::Counter,
     "CPU time spent in each BPF program (counted only while BPF run-time statistics are "
     "enabled)."},
    {MetricId::MetadataProviderUp, "podguard_metadata_provider_up", MetricType::Gauge,
     "1 when the metadata provider answered its last health check."},
    {MetricId::MetadataLookupsTotal, "podguard_metadata_lookups_total", MetricType::Counter,
     "Container/pod metadata lookups by provider and result (hit, miss)."},
    {MetricId::PolicyReloadsTotal, "podguard_policy_reloads_total", MetricType::Counter,
     "Policy reloads by result (success, failure)."},
    {MetricId::PolicyLastReloadSuccessTimestampSeconds,
     "podguard_policy_last_reload_success_timestamp_seconds", MetricType::Gauge,
     "Unix time of the last successful policy load."},
    {MetricId::PolicyRules, "podguard_policy_rules", MetricType::Gauge,
     "Rules in the policy in force."},
    {MetricId::EventsSentTotal, "podguard_events_sent_total", MetricType::Counter,
     "Records the kernel sent, by class: ordinary, first (first occurrence of an aggregation "
     "tuple), policy (a rule matched), summary (the count of a window's identical acts)."},
    {MetricId::EventsLostByClassTotal, "podguard_events_lost_by_class_total", MetricType::Counter,
     "Acts the kernel could not report, by class and reason (ringbuf_full, rate_limited: the "
     "source cgroup had spent its share). A lost summary counts every act it stood for."},
    {MetricId::EventsAggregatedTotal, "podguard_events_aggregated_total", MetricType::Counter,
     "Identical acts reported as a summary's count instead of one record each."},
    {MetricId::EventsDemotedTotal, "podguard_events_demoted_total", MetricType::Counter,
     "Priority records sent through the shared ring because their source had spent its "
     "priority share."},
    {MetricId::AggregationTableFullTotal, "podguard_aggregation_table_full_total",
     MetricType::Counter, "Acts sent one by one because the aggregation table was full."},
    {MetricId::AggregationUnsummarized, "podguard_aggregation_unsummarized", MetricType::Gauge,
     "Aggregated acts in no summary yet: pending until their window closes, or lost with a "
     "tuple the table reused."},
    {MetricId::SourceEventsSuppressedTotal, "podguard_source_events_suppressed_total",
     MetricType::Counter,
     "Acts of a source (container, or host) not reported because it had spent its share of both "
     "ring buffers (per-container fairness)."},
    {MetricId::SourceEventsAggregatedTotal, "podguard_source_events_aggregated_total",
     MetricType::Counter, "Acts of a source (container, or host) reported in summaries."},
    {MetricId::BuildInfo, "podguard_build_info", MetricType::Gauge,
     "Always 1; labels carry the podguard version and the running kernel release."},
    {MetricId::StartTimeSeconds, "podguard_start_time_seconds", MetricType::Gauge,
     "Unix time the agent started."},
    {MetricId::AgentStopSignalsTotal, "podguard_agent_stop_signals_total", MetricType::Counter,
     "Stop signals (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) generated for the agent: resumed at once "
     "by the kernel, not_resumed (the agent stayed stopped until something resumed it), or "
     "allowed by the policy (a host administrator's)."},
}};

constexpr const MetricSpec& metric_spec(MetricId id) {
    return kMetrics[static_cast<std::size_t>(id)];
}

// The table is indexed by MetricId: keep the order in step with the enum.
static_assert([] {
    for (std::size_t i = 0; i < kMetrics.size(); ++i)
        if (static_cast<std::size_t>(kMetrics[i].id) != i)
            return false;
    return true;
}());

} // namespace podguard

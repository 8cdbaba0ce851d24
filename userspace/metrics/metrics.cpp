#include "metrics/metrics.h"

#include <chrono>
#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/utsname.h>
#include <thread>

#include "events/names.h"
#include "metrics/health.h"
#include "metrics/metric_list.h"

#ifndef PODGUARD_VERSION
#define PODGUARD_VERSION "unknown"
#endif

namespace podguard {

namespace {

double now_seconds() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string kernel_release() {
    utsname u{};
    if (uname(&u) != 0)
        return "unknown";
    return u.release;
}

prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& registry,
                                                        MetricId id) {
    const auto& spec = metric_spec(id);
    return prometheus::BuildCounter()
        .Name(std::string(spec.name))
        .Help(std::string(spec.help))
        .Register(registry);
}

prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& registry, MetricId id) {
    const auto& spec = metric_spec(id);
    return prometheus::BuildGauge()
        .Name(std::string(spec.name))
        .Help(std::string(spec.help))
        .Register(registry);
}

} // namespace

// --- Metrics ---------------------------------------------------------------

Metrics::Metrics(const MetricsConfig& config)
    : config_(config), registry_(std::make_shared<prometheus::Registry>()) {
    if (config_.version.empty())
        config_.version = PODGUARD_VERSION;
    if (config_.kernel.empty())
        config_.kernel = kernel_release();
}

Metrics::~Metrics() {
    if (!exposer_)
        return;
    // civetweb's listener polls with a 2 s timeout before it notices the stop
    // flag; poking it with connections makes shutdown take milliseconds.
    std::atomic<bool> stopped{false};
    std::thread waker([this, &stopped] {
        while (!stopped.load()) {
            wake_listener(config_.address, port_);
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    });
    exposer_.reset();
    stopped = true;
    waker.join();
}

Result<std::unique_ptr<Metrics>> Metrics::start(const MetricsConfig& config) {
    if (auto valid = validate_metrics_address(config.address); !valid)
        return make_error("metrics: " + valid.error().message);
    std::unique_ptr<Metrics> metrics(new Metrics(config));
    metrics->build();
    try {
        metrics->exposer_ = std::make_unique<prometheus::Exposer>(
            config.address, config.http_threads == 0 ? 1 : config.http_threads,
            health_http_callbacks()); // also /healthz and /readyz (metrics/health.h)
    } catch (const std::exception& e) {
        return make_error(fmt::format("metrics: cannot listen on {}: {}", config.address,
                                      bind_diagnosis(config.address, e.what())));
    }
    metrics->exposer_->RegisterCollectable(metrics->registry_);
    if (metrics->pod_events_)
        metrics->exposer_->RegisterCollectable(metrics->pod_events_);
    auto ports = metrics->exposer_->GetListeningPorts();
    metrics->port_ = ports.empty() ? 0 : static_cast<uint16_t>(ports.front());
    return metrics;
}

void Metrics::build() {
    auto& reg = *registry_;
    auto& events = counter_family(reg, MetricId::EventsTotal);
    for (std::size_t k = 0; k < kKinds; ++k)
        for (std::size_t r = 0; r < kRelations; ++r)
            for (std::size_t a = 0; a < kActions; ++a)
                events_[(k * kRelations + r) * kActions + a] =
                    &events.Add({{"kind", kEventKinds[k].name},
                                 {"relation", to_string(static_cast<Relation>(r))},
                                 {"action", to_string(static_cast<Action>(a))}});

    auto& decisions = counter_family(reg, MetricId::PolicyDecisionsTotal);
    for (std::size_t k = 0; k < kDecisionKinds; ++k)
        for (std::size_t a = 0; a < kActions; ++a)
            for (std::size_t m = 0; m < kModes; ++m)
                decisions_[(k * kActions + a) * kModes + m] =
                    &decisions.Add({{"kind", kEventKinds[k].name},
                                    {"action", to_string(static_cast<Action>(a))},
                                    {"mode", to_string(static_cast<EnforcementMode>(m))}});

    auto& mode = gauge_family(reg, MetricId::EnforcementMode);
    for (std::size_t m = 0; m < kModes; ++m)
        mode_gauges_[m] = &mode.Add({{"mode", to_string(static_cast<EnforcementMode>(m))}});
    may_complete_ = &gauge_family(reg, MetricId::EnforcementMayComplete).Add({});

    build_flood(reg);
    overflow_ = &counter_family(reg, MetricId::SeriesOverflowTotal).Add({});
    pod_series_ = &gauge_family(reg, MetricId::PodSeries).Add({});
    if (config_.pod_labels != PodLabels::Off) {
        std::vector<PodSeries::SlotLabels> slots(kKinds * kRelations * kActions);
        for (std::size_t k = 0; k < kKinds; ++k)
            for (std::size_t r = 0; r < kRelations; ++r)
                for (std::size_t a = 0; a < kActions; ++a)
                    slots[(k * kRelations + r) * kActions + a] = {{
                        {"kind", kEventKinds[k].name},
                        {"relation", to_string(static_cast<Relation>(r))},
                        {"action", to_string(static_cast<Action>(a))},
                    }};
        pod_events_ = std::make_shared<PodSeries>(config_.pod_labels, config_.max_pod_series,
                                                  std::move(slots), *overflow_, *pod_series_);
    }

    // Pre-created at 0 so that increase() sees the first loss.
    auto& lost = counter_family(reg, MetricId::EventsLostTotal);
    for (const EventKindInfo& kind : kEventKinds)
        for (std::size_t r = 0; r < PG_LOST_REASON_MAX; ++r)
            lost_[kind.wire * PG_LOST_REASON_MAX + r].counter =
                &lost.Add({{"kind", kind.name}, {"reason", lost_reason_name(r)}});
    for (std::size_t r = 0; r < PG_LOST_REASON_MAX; ++r)
        lost_[r].counter = nullptr; // kind 0: created when the kernel ever counts one
    lost_family_ = &lost;
    dropped_family_ = &counter_family(reg, MetricId::EventsDroppedUserspaceTotal);

    auto& stops = counter_family(reg, MetricId::AgentStopSignalsTotal);
    stops_[0].counter = &stops.Add({{"result", "resumed"}});
    stops_[1].counter = &stops.Add({{"result", "not_resumed"}});
    stops_[2].counter = &stops.Add({{"result", "allowed"}});

    ringbuf_used_ = &gauge_family(reg, MetricId::RingbufUsedBytes).Add({});
    ringbuf_size_ = &gauge_family(reg, MetricId::RingbufSizeBytes).Add({});

    bpf_runs_family_ = &counter_family(reg, MetricId::BpfProgramRunsTotal);
    bpf_seconds_family_ = &counter_family(reg, MetricId::BpfProgramRunSecondsTotal);
    provider_up_family_ = &gauge_family(reg, MetricId::MetadataProviderUp);
    lookups_family_ = &counter_family(reg, MetricId::MetadataLookupsTotal);

    auto& reloads = counter_family(reg, MetricId::PolicyReloadsTotal);
    reload_success_ = &reloads.Add({{"result", "success"}});
    reload_failure_ = &reloads.Add({{"result", "failure"}});
    reload_timestamp_ =
        &gauge_family(reg, MetricId::PolicyLastReloadSuccessTimestampSeconds).Add({});
    policy_rules_ = &gauge_family(reg, MetricId::PolicyRules).Add({});

    gauge_family(reg, MetricId::BuildInfo)
        .Add({{"version", config_.version}, {"kernel", config_.kernel}})
        .Set(1);
    gauge_family(reg, MetricId::StartTimeSeconds).Add({}).Set(now_seconds());

    set_enforcement_mode(EnforcementMode::Monitor);
}

void Metrics::observe(const Event& event) {
    auto k = static_cast<std::size_t>(event.kind);
    auto r = static_cast<std::size_t>(event.relation);
    auto a = static_cast<std::size_t>(event.action);
    if (k >= kKinds || r >= kRelations || a >= kActions)
        return;
    events_[(k * kRelations + r) * kActions + a]->Increment();
    if (k < kDecisionKinds) {
        auto m = static_cast<std::size_t>(mode_.load(std::memory_order_relaxed));
        decisions_[(k * kActions + a) * kModes + m]->Increment();
    }

    if (pod_events_)
        pod_events_->observe(event, (k * kRelations + r) * kActions + a);
}

void Metrics::forget_pod(std::string_view ns, std::string_view pod) {
    if (pod_events_)
        pod_events_->forget_pod(ns, pod);
}

std::size_t Metrics::pod_series() const {
    return pod_events_ ? pod_events_->size() : 0;
}

void Metrics::set_enforcement_mode(EnforcementMode mode) {
    auto m = static_cast<std::size_t>(mode);
    if (m >= kModes)
        return;
    mode_.store(static_cast<int>(m), std::memory_order_relaxed);
    for (std::size_t i = 0; i < kModes; ++i)
        mode_gauges_[i]->Set(i == m ? 1 : 0);
    may_complete_->Set(mode == EnforcementMode::SignalFallback ? 1 : 0);
}

void Metrics::FollowedCounter::follow(uint64_t total, double scale) {
    uint64_t delta = total >= last ? total - last : total;
    last = total;
    if (delta && counter)
        counter->Increment(static_cast<double>(delta) * scale);
}

void Metrics::set_lost(const pg_lost_counters& summed) {
    std::lock_guard lock(mu_);
    for (std::size_t k = 0; k < PG_EV_KIND_MAX; ++k) {
        for (std::size_t r = 0; r < PG_LOST_REASON_MAX; ++r) {
            auto& followed = lost_[k * PG_LOST_REASON_MAX + r];
            uint64_t total = summed.count[k][r];
            if (!followed.counter && total)
                followed.counter =
                    &lost_family_->Add({{"kind", "unknown"}, {"reason", lost_reason_name(r)}});
            followed.follow(total, 1.0);
        }
    }
}

void Metrics::add_dropped_userspace(std::string_view reason, uint64_t count) {
    std::lock_guard lock(mu_);
    auto it = dropped_.find(reason);
    if (it == dropped_.end())
        it = dropped_
                 .emplace(std::string(reason),
                          &dropped_family_->Add({{"reason", std::string(reason)}}))
                 .first;
    it->second->Increment(static_cast<double>(count));
}

void Metrics::set_agent_stop_signals(const pg_guard_stats& totals) {
    std::lock_guard lock(mu_);
    stops_[0].follow(totals.resumed, 1.0);
    stops_[1].follow(totals.resume_failed, 1.0);
    stops_[2].follow(totals.allowed_stops, 1.0);
}

void Metrics::set_ringbuf(uint64_t used_bytes, uint64_t size_bytes) {
    ringbuf_used_->Set(static_cast<double>(used_bytes));
    ringbuf_size_->Set(static_cast<double>(size_bytes));
}

void Metrics::update_bpf_programs(const std::vector<BpfProgramStats>& programs) {
    std::lock_guard lock(mu_);
    for (const auto& program : programs) {
        auto it = bpf_.find(program.name);
        if (it == bpf_.end()) {
            BpfCounters counters;
            counters.runs.counter = &bpf_runs_family_->Add({{"program", program.name}});
            counters.seconds.counter = &bpf_seconds_family_->Add({{"program", program.name}});
            it = bpf_.emplace(program.name, counters).first;
        }
        it->second.runs.follow(program.run_count, 1.0);
        it->second.seconds.follow(program.run_time_ns, 1e-9);
    }
}

void Metrics::set_provider_up(std::string_view provider, bool up) {
    std::lock_guard lock(mu_);
    auto it = provider_up_.find(provider);
    if (it == provider_up_.end())
        it = provider_up_
                 .emplace(std::string(provider),
                          &provider_up_family_->Add({{"provider", std::string(provider)}}))
                 .first;
    it->second->Set(up ? 1 : 0);
}

void Metrics::count_metadata_lookup(std::string_view provider, bool hit, uint64_t count) {
    std::lock_guard lock(mu_);
    auto it = lookups_.find(provider);
    if (it == lookups_.end()) {
        std::array<prometheus::Counter*, 2> counters{
            &lookups_family_->Add({{"provider", std::string(provider)}, {"result", "miss"}}),
            &lookups_family_->Add({{"provider", std::string(provider)}, {"result", "hit"}})};
        it = lookups_.emplace(std::string(provider), counters).first;
    }
    it->second[hit ? 1 : 0]->Increment(static_cast<double>(count));
}

void Metrics::record_policy_reload(bool success, std::size_t rules) {
    if (!success) {
        reload_failure_->Increment();
        return;
    }
    reload_success_->Increment();
    reload_timestamp_->Set(now_seconds());
    policy_rules_->Set(static_cast<double>(rules));
}

void Metrics::set_policy_rules(std::size_t rules) {
    policy_rules_->Set(static_cast<double>(rules));
}

std::string Metrics::render() const {
    auto families = registry_->Collect();
    if (pod_events_)
        for (auto& family : pod_events_->Collect())
            families.push_back(std::move(family));
    return prometheus::TextSerializer().Serialize(families);
}

} // namespace podguard

// Metrics of flood control (bpf/transport.bpf.h): what the kernel sent and
// lost by class, what it aggregated, and per source what it suppressed.
// Members of Metrics kept apart from metrics.cpp, which holds the rest.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>

#include "events/names.h"
#include "metrics/metric_list.h"
#include "metrics/metrics.h"

namespace podguard {

struct Metrics::FloodFamilies {
    std::mutex mu;
    std::array<FollowedCounter, PG_CLASS_MAX> sent{};
    std::array<FollowedCounter, std::size_t{PG_CLASS_MAX} * std::size_t{PG_DROP_MAX}> lost{};
    FollowedCounter aggregated, demoted, table_full;
    prometheus::Gauge* unsummarized = nullptr;
    prometheus::Family<prometheus::Counter>* suppressed_family = nullptr;
    prometheus::Family<prometheus::Counter>* aggregated_family = nullptr;
    // By cgroup id: several cgroups may share one label set (host services).
    struct Source {
        FollowedCounter suppressed, aggregated;
    };
    std::map<uint64_t, Source> sources;
};

namespace {

template <class Builder> auto& family(Builder builder, prometheus::Registry& reg, MetricId id) {
    const auto& spec = metric_spec(id);
    return builder.Name(std::string(spec.name)).Help(std::string(spec.help)).Register(reg);
}

} // namespace

void Metrics::build_flood(prometheus::Registry& reg) {
    flood_ = std::make_shared<FloodFamilies>();
    auto& sent = family(prometheus::BuildCounter(), reg, MetricId::EventsSentTotal);
    auto& lost = family(prometheus::BuildCounter(), reg, MetricId::EventsLostByClassTotal);
    // Pre-created at 0 so that increase() sees the first one.
    for (int c = 0; c < PG_CLASS_MAX; ++c) {
        flood_->sent[c].counter = &sent.Add({{"class", event_class_name(c)}});
        for (int r = 0; r < PG_DROP_MAX; ++r)
            flood_->lost[c * PG_DROP_MAX + r].counter =
                &lost.Add({{"class", event_class_name(c)}, {"reason", drop_reason_name(r)}});
    }
    flood_->aggregated.counter =
        &family(prometheus::BuildCounter(), reg, MetricId::EventsAggregatedTotal).Add({});
    flood_->demoted.counter =
        &family(prometheus::BuildCounter(), reg, MetricId::EventsDemotedTotal).Add({});
    flood_->table_full.counter =
        &family(prometheus::BuildCounter(), reg, MetricId::AggregationTableFullTotal).Add({});
    flood_->unsummarized =
        &family(prometheus::BuildGauge(), reg, MetricId::AggregationUnsummarized).Add({});
    flood_->suppressed_family =
        &family(prometheus::BuildCounter(), reg, MetricId::SourceEventsSuppressedTotal);
    flood_->aggregated_family =
        &family(prometheus::BuildCounter(), reg, MetricId::SourceEventsAggregatedTotal);
}

void Metrics::set_flood(const pg_flood_counters& summed) {
    std::lock_guard lock(flood_->mu);
    for (int c = 0; c < PG_CLASS_MAX; ++c) {
        flood_->sent[c].follow(summed.sent[c], 1.0);
        for (int r = 0; r < PG_DROP_MAX; ++r)
            flood_->lost[c * PG_DROP_MAX + r].follow(summed.lost[c][r], 1.0);
    }
    flood_->aggregated.follow(summed.summarized, 1.0);
    flood_->demoted.follow(summed.demoted, 1.0);
    flood_->table_full.follow(summed.table_full, 1.0);
    flood_->unsummarized->Set(summed.aggregated >= summed.summarized
                                  ? static_cast<double>(summed.aggregated - summed.summarized)
                                  : 0.0);
}

void Metrics::set_source_flood(uint64_t cgroup_id, const FloodSource& source, uint64_t suppressed,
                               uint64_t aggregated) {
    std::lock_guard lock(flood_->mu);
    auto [it, fresh] = flood_->sources.try_emplace(cgroup_id);
    if (fresh) {
        std::map<std::string, std::string> labels{
            {"namespace", source.namespace_}, {"pod", source.pod}, {"container", source.container}};
        it->second.suppressed.counter = &flood_->suppressed_family->Add(labels);
        it->second.aggregated.counter = &flood_->aggregated_family->Add(labels);
    }
    it->second.suppressed.follow(suppressed, 1.0);
    it->second.aggregated.follow(aggregated, 1.0);
}

} // namespace podguard

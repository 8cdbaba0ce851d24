#include "metrics/pod_series.h"

#include <atomic>
#include <fmt/format.h>
#include <functional>
#include <mutex>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <string>
#include <unordered_map>

#include "metrics/metric_list.h"

namespace podguard {

Result<PodLabels> parse_pod_labels(std::string_view text) {
    if (text == "off")
        return PodLabels::Off;
    if (text == "namespace")
        return PodLabels::Namespace;
    if (text == "pod")
        return PodLabels::NamespacePod;
    if (text == "container")
        return PodLabels::NamespacePodContainer;
    return make_error(
        fmt::format("pod labels '{}': expected off, namespace, pod or container", text));
}

const char* to_string(PodLabels labels) {
    switch (labels) {
    case PodLabels::Off:
        return "off";
    case PodLabels::Namespace:
        return "namespace";
    case PodLabels::NamespacePod:
        return "pod";
    case PodLabels::NamespacePodContainer:
        return "container";
    }
    return "unknown";
}

namespace {

constexpr const char* kOverflow = "_overflow";

// Which party an event is a pod's activity for: the actor when it runs in a
// container, else the target's pod (host reaching into a pod).
const Party* attributed_party(const Event& event) {
    if (event.source.container || event.source.pod)
        return &event.source;
    if (event.target.known && (event.target.container || event.target.pod))
        return &event.target;
    return nullptr;
}

struct PodIdentity {
    std::string_view ns, pod, container;
};

// Names when a metadata provider gave them, else the ids the cgroup path
// gives (pod uid, short container id): pods seen without metadata (no
// provider, provider down, a pod too new for the cache) then stay apart,
// instead of all counting in one series with empty labels that no operator
// can trace back to a pod.
PodIdentity identity_of(const Party& party) {
    PodIdentity id;
    if (party.pod) {
        id.ns = party.pod->namespace_;
        id.pod = party.pod->name;
        if (id.pod.empty())
            id.pod = party.pod->uid;
    }
    if (party.container) {
        if (id.pod.empty())
            id.pod = party.container->pod_uid;
        id.container = party.container->name;
        if (id.container.empty())
            id.container = std::string_view(party.container->id).substr(0, 12);
    }
    return id;
}

struct PodKeyView {
    std::string_view ns, pod, container;
    bool operator==(const PodKeyView&) const = default;
};

struct PodKey {
    std::string ns, pod, container;
    operator PodKeyView() const { return {ns, pod, container}; }
};

struct PodKeyHash {
    using is_transparent = void;
    std::size_t operator()(PodKeyView k) const {
        std::hash<std::string_view> h;
        std::size_t v = h(k.ns);
        v = v * 1000003u ^ h(k.pod);
        v = v * 1000003u ^ h(k.container);
        return v;
    }
};

struct PodKeyEq {
    using is_transparent = void;
    bool operator()(PodKeyView a, PodKeyView b) const { return a == b; }
};

std::vector<prometheus::ClientMetric::Label> identity_labels(PodLabels mode, const PodKey& key) {
    std::vector<prometheus::ClientMetric::Label> labels{{"namespace", key.ns}};
    if (mode != PodLabels::Namespace)
        labels.push_back({"pod", key.pod});
    if (mode == PodLabels::NamespacePodContainer)
        labels.push_back({"container", key.container});
    return labels;
}

} // namespace

struct PodSeries::Entry {
    explicit Entry(std::size_t slots) : counts(std::make_unique<std::atomic<uint64_t>[]>(slots)) {}
    PodKey key;
    std::vector<prometheus::ClientMetric::Label> identity; // as chosen by PodLabels
    std::unique_ptr<std::atomic<uint64_t>[]> counts;       // one per slot, zeroed
};

struct PodSeries::Table {
    std::unordered_map<PodKey, std::unique_ptr<Entry>, PodKeyHash, PodKeyEq> entries;
    std::unique_ptr<Entry> overflow;
    std::atomic<std::size_t> nonzero_slots{0}; // series to expect at the next scrape
};

PodSeries::PodSeries(PodLabels labels, std::size_t max_series, std::vector<SlotLabels> slot_labels,
                     prometheus::Counter& overflow, prometheus::Gauge& series)
    : labels_(labels), max_series_(max_series), slot_labels_(std::move(slot_labels)),
      overflow_(overflow), series_(series), table_(std::make_unique<Table>()) {}

PodSeries::~PodSeries() = default;

void PodSeries::observe(const Event& event, std::size_t slot) {
    const Party* party = attributed_party(event);
    if (!party || slot >= slot_labels_.size())
        return;
    auto [ns, pod, container] = identity_of(*party);
    if (labels_ != PodLabels::NamespacePodContainer)
        container = {};
    if (labels_ == PodLabels::Namespace)
        pod = {};

    auto count = [&](Entry& entry) {
        if (entry.counts[slot].fetch_add(1, std::memory_order_relaxed) == 0)
            table_->nonzero_slots.fetch_add(1, std::memory_order_relaxed);
    };
    {
        std::shared_lock lock(mu_);
        auto& table = *table_;
        auto it = table.entries.find(PodKeyView{ns, pod, container});
        if (it != table.entries.end()) {
            count(*it->second);
            return;
        }
        if (table.overflow && table.entries.size() >= max_series_) {
            overflow_.Increment();
            count(*table.overflow);
            return;
        }
    }
    std::unique_lock lock(mu_);
    count(entry(ns, pod, container));
}

PodSeries::Entry& PodSeries::entry(std::string_view ns, std::string_view pod,
                                   std::string_view container) {
    auto& table = *table_;
    if (auto it = table.entries.find(PodKeyView{ns, pod, container}); it != table.entries.end())
        return *it->second;
    if (table.entries.size() >= max_series_) {
        overflow_.Increment();
        if (!table.overflow) {
            table.overflow = std::make_unique<Entry>(slot_labels_.size());
            table.overflow->key = {kOverflow, kOverflow, kOverflow};
            table.overflow->identity = identity_labels(labels_, table.overflow->key);
        }
        return *table.overflow;
    }
    auto entry = std::make_unique<Entry>(slot_labels_.size());
    entry->key = {std::string(ns), std::string(pod), std::string(container)};
    entry->identity = identity_labels(labels_, entry->key);
    PodKey key = entry->key;
    auto& ref = *entry;
    table.entries.emplace(std::move(key), std::move(entry));
    series_.Set(static_cast<double>(table.entries.size()));
    return ref;
}

void PodSeries::forget_pod(std::string_view ns, std::string_view pod) {
    if (labels_ == PodLabels::Namespace)
        return;
    std::unique_lock lock(mu_);
    auto& entries = table_->entries;
    for (auto it = entries.begin(); it != entries.end();) {
        if (it->first.ns == ns && it->first.pod == pod) {
            std::size_t used = 0;
            for (std::size_t slot = 0; slot < slot_labels_.size(); ++slot)
                used += it->second->counts[slot].load(std::memory_order_relaxed) != 0;
            table_->nonzero_slots.fetch_sub(used, std::memory_order_relaxed);
            it = entries.erase(it);
        } else {
            ++it;
        }
    }
    series_.Set(static_cast<double>(entries.size()));
}

std::size_t PodSeries::size() const {
    std::shared_lock lock(mu_);
    return table_->entries.size();
}

std::vector<prometheus::MetricFamily> PodSeries::Collect() const {
    const auto& spec = metric_spec(MetricId::PodEventsTotal);
    prometheus::MetricFamily family{
        std::string(spec.name), std::string(spec.help), prometheus::MetricType::Counter, {}};
    std::shared_lock lock(mu_);
    const Table& table = *table_;
    family.metric.reserve(table.nonzero_slots.load(std::memory_order_relaxed));
    auto add = [&](const Entry& entry) {
        for (std::size_t slot = 0; slot < slot_labels_.size(); ++slot) {
            uint64_t count = entry.counts[slot].load(std::memory_order_relaxed);
            if (count == 0)
                continue;
            prometheus::ClientMetric& metric = family.metric.emplace_back();
            metric.label.reserve(entry.identity.size() + 3);
            metric.label = entry.identity;
            metric.label.insert(metric.label.end(), slot_labels_[slot].begin(),
                                slot_labels_[slot].end());
            metric.counter.value = static_cast<double>(count);
        }
    };
    for (const auto& [key, entry] : table.entries)
        add(*entry);
    if (table.overflow)
        add(*table.overflow);
    return {std::move(family)};
}

} // namespace podguard

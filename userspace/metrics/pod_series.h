// podguard_pod_events_total: how many events each pod (namespace, pod,
// container, as --metrics-pod-labels chooses) caused, by kind, relation and
// action.
//
// Threading: observe() may run on any thread. The counts are plain atomics
// per label tuple, found by a heterogeneous hash lookup under a shared lock
// (no allocation once a tuple has been seen); a new tuple and forget_pod()
// take the lock exclusively. Series are built only when scraped: a
// prometheus::Family would keep a std::map of labels per series and copy it
// at every scrape, which is most of the scrape time at 10k series.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <shared_mutex>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "events/event.h"

namespace prometheus {
class Counter;
class Gauge;
} // namespace prometheus

namespace podguard {

// Which identity labels podguard_pod_events_total carries.
enum class PodLabels {
    Off,                   // the metric is not exported
    Namespace,             // {namespace}
    NamespacePod,          // {namespace, pod}
    NamespacePodContainer, // {namespace, pod, container}
};
// "off", "namespace", "pod", "container" (CLI spelling).
Result<PodLabels> parse_pod_labels(std::string_view text);
const char* to_string(PodLabels labels);

class PodSeries : public prometheus::Collectable {
  public:
    // The kind, relation and action labels of each count slot.
    using SlotLabels = std::array<prometheus::ClientMetric::Label, 3>;

    // `labels` is not Off. Beyond `max_series` tuples new ones count in one
    // "_overflow" tuple and in `overflow`; `series` follows the tuple count.
    PodSeries(PodLabels labels, std::size_t max_series, std::vector<SlotLabels> slot_labels,
              prometheus::Counter& overflow, prometheus::Gauge& series);
    ~PodSeries() override;

    // Counts `event` in `slot` for the pod it is attributed to: the actor's
    // when it runs in a container, else the target's (host reaching into a
    // pod); neither: not counted.
    void observe(const Event& event, std::size_t slot);
    // Drops the pod's series (with PodLabels::Namespace nothing: a namespace
    // outlives its pods).
    void forget_pod(std::string_view namespace_, std::string_view pod);
    std::size_t size() const;

    std::vector<prometheus::MetricFamily> Collect() const override;

  private:
    struct Entry;
    struct Table;
    // Under the exclusive lock.
    Entry& entry(std::string_view ns, std::string_view pod, std::string_view container);

    PodLabels labels_;
    std::size_t max_series_;
    std::vector<SlotLabels> slot_labels_;
    prometheus::Counter& overflow_;
    prometheus::Gauge& series_;
    mutable std::shared_mutex mu_;
    std::unique_ptr<Table> table_;
};

} // namespace podguard

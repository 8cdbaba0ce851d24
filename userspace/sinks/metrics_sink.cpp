#include "sinks/metrics_sink.h"

namespace podguard {

void MetricsSink::consume(const Event& event) noexcept {
    try {
        metrics_.observe(event);
    } catch (...) {
        // A metrics failure must never stop the event flow.
    }
}

} // namespace podguard

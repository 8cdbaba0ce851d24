// Every event into the Prometheus exporter's counters (metrics/metrics.h).
#pragma once

#include "metrics/metrics.h"
#include "sinks/event_sink.h"

namespace podguard {

class MetricsSink : public EventSink {
  public:
    explicit MetricsSink(Metrics& metrics) : metrics_(metrics) {}
    void consume(const Event& event) noexcept override;

  private:
    Metrics& metrics_;
};

} // namespace podguard

// Feeds the flood-control metrics from the kernel's counters and buckets
// (bpf/transport.bpf.h), on the pipeline thread once a second.
#pragma once

#include "enrich/enricher.h"
#include "metrics/metrics.h"

namespace podguard {

class FloodReporter {
  public:
    FloodReporter(Metrics& metrics, int flood_fd, int fair_fd, Enricher& enricher)
        : metrics_(metrics), flood_fd_(flood_fd), fair_fd_(fair_fd), enricher_(enricher) {}
    void update();

  private:
    FloodSource source_of(uint64_t cgroup_id);

    Metrics& metrics_;
    int flood_fd_;
    int fair_fd_;
    Enricher& enricher_;
};

} // namespace podguard

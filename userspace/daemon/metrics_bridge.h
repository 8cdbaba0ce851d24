// Feeds the Prometheus exporter the agent's health (kernel loss counters,
// undecodable records, ring buffer, BPF run time, providers) once a second
// from the pipeline thread; the events themselves go through
// sinks/metrics_sink.h.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "metadata/cache.h"
#include "metrics/bpf_stats.h"
#include "metrics/metrics.h"
#include "pipeline/pipeline.h"
#include "sinks/metrics_sink.h"

namespace podguard {

class HealthReporter {
  public:
    HealthReporter(Metrics& metrics, const Pipeline& pipeline, std::vector<BpfProgramRef> programs,
                   metadata::MetadataCache* metadata)
        : metrics_(metrics), pipeline_(pipeline), programs_(std::move(programs)),
          metadata_(metadata) {}
    void update();
    // pg_guard_stats (bpf/guard.bpf.h); -1: none.
    void set_guard_stats_fd(int fd) { guard_stats_fd_ = fd; }

  private:
    Metrics& metrics_;
    const Pipeline& pipeline_;
    std::vector<BpfProgramRef> programs_;
    metadata::MetadataCache* metadata_;
    std::map<std::string, std::pair<uint64_t, uint64_t>> seen_lookups_;
    uint64_t seen_decode_errors_ = 0;
    uint64_t seen_handling_errors_ = 0;
    int guard_stats_fd_ = -1;
};

} // namespace podguard

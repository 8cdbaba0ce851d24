// The kernel's flood-control counters (bpf/transport.bpf.h), summed over
// CPUs, and the per-source-cgroup buckets, for metrics and the exit report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/pipeline.h"
#include "podguard.h"

namespace podguard {

struct FloodTotals {
    pg_flood_counters kernel{}; // summed over CPUs
    uint64_t lost_acts() const;
    // Acts folded into a tuple but in no summary: still pending, or lost
    // when the LRU reused the tuple's entry.
    uint64_t unsummarized() const;
};

FloodTotals read_flood_totals(int flood_fd);

struct SourceFlood {
    uint64_t cgroup_id = 0;
    pg_fair_bucket bucket{};
};
// Every source cgroup the fairness buckets know (pg_fair).
std::vector<SourceFlood> read_source_floods(int fair_fd);

// One JSON object: what the kernel sent and lost by class, what it
// aggregated, and what the pipeline read (the exit report's second line).
std::string format_flood_totals(const FloodTotals& totals, const PipelineStats& read);

} // namespace podguard

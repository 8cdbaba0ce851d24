#include "daemon/metrics_bridge.h"

#include <bpf/bpf.h>

namespace podguard {

void HealthReporter::update() {
    metrics_.set_lost(pipeline_.read_lost());
    if (guard_stats_fd_ >= 0) {
        uint32_t zero = 0;
        pg_guard_stats stats{};
        if (bpf_map_lookup_elem(guard_stats_fd_, &zero, &stats) == 0)
            metrics_.set_agent_stop_signals(stats);
    }
    metrics_.set_ringbuf(pipeline_.ringbuf_used_bytes(), pipeline_.ringbuf_bytes());
    // Records the kernel delivered but user space could not decode. Also
    // called with 0, so the series exists from the start and increase() sees
    // the first one.
    uint64_t decode_errors = pipeline_.stats().decode_errors;
    metrics_.add_dropped_userspace("decode_error", decode_errors - seen_decode_errors_);
    seen_decode_errors_ = decode_errors;
    uint64_t handling_errors = pipeline_.stats().handling_errors;
    metrics_.add_dropped_userspace("handling_error", handling_errors - seen_handling_errors_);
    seen_handling_errors_ = handling_errors;
    if (auto stats = read_bpf_program_stats(programs_))
        metrics_.update_bpf_programs(*stats);
    if (!metadata_)
        return;
    for (const auto& p : metadata_->stats().providers) {
        metrics_.set_provider_up(p.name, p.up);
        auto& [hits, misses] = seen_lookups_[p.name];
        if (p.hits > hits)
            metrics_.count_metadata_lookup(p.name, true, p.hits - hits);
        if (p.misses > misses)
            metrics_.count_metadata_lookup(p.name, false, p.misses - misses);
        hits = p.hits;
        misses = p.misses;
    }
    // A deleted pod's series would otherwise stay until the agent restarts.
    for (const auto& [ns, pod] : metadata_->take_expired_pods())
        metrics_.forget_pod(ns, pod);
}

} // namespace podguard

// Ring buffer -> decode -> process table -> enrich -> sinks, on one thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "common/result.h"
#include "decode/decode.h"
#include "enrich/enricher.h"
#include "podguard.h"
#include "process/process_table.h"
#include "sinks/event_sink.h"

struct ring_buffer;

namespace podguard {

class StackResolver;

struct PipelineStats {
    uint64_t records = 0;
    uint64_t decode_errors = 0;
    uint64_t handling_errors = 0; // decoded, then lost to an exception in enrichment or a sink
    std::array<uint64_t, PG_EV_KIND_MAX> by_kind{};
    uint64_t summaries = 0;    // records that stand for several acts
    uint64_t summary_acts = 0; // the acts those stand for
};

class Pipeline {
  public:
    Pipeline(int ringbuf_fd, int lost_fd, uint32_t ringbuf_bytes, ProcessTable& processes,
             Enricher& enricher);
    ~Pipeline();
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;

    Status open();
    // The priority ring, read by the same poll; after open(). Before one of
    // its records is handled, the main ring is drained: a process' exec or
    // fork (main ring) must reach the process table before its act.
    Status add_priority_ring(int ringbuf_fd);
    void add_sink(EventSink* sink) { sinks_.push_back(sink); }
    // --stacks: events that carry stack ids get their frames.
    void set_stack_resolver(StackResolver* stacks) { stacks_ = stacks; }
    // Polls until stop is set, then drains what is left.
    Status run(const std::atomic<bool>& stop, int poll_timeout_ms = 50);
    // One poll round; returns records consumed or an error.
    Result<int> poll_once(int timeout_ms);

    pg_lost_counters read_lost() const; // summed over CPUs
    uint64_t ringbuf_used_bytes() const;
    uint32_t ringbuf_bytes() const { return ringbuf_bytes_; }
    const PipelineStats& stats() const { return stats_; }

    // Called about once a second on the pipeline thread (metrics, expiry).
    void set_tick(std::function<void()> tick) { tick_ = std::move(tick); }
    // Called on the pipeline thread every interval_ns (the aggregation sweep).
    void set_sweep(std::function<void()> sweep, uint64_t interval_ns) {
        sweep_ = std::move(sweep);
        sweep_interval_ns_ = interval_ns;
    }
    // Consumes whatever the rings hold and flushes the sinks.
    void drain();

  private:
    static int on_record(void* ctx, void* data, size_t size) noexcept;
    static int on_priority_record(void* ctx, void* data, size_t size) noexcept;
    void handle(const void* data, size_t size);
    void periodic();

    int ringbuf_fd_;
    int lost_fd_;
    uint32_t ringbuf_bytes_;
    ProcessTable& processes_;
    Enricher& enricher_;
    TimeBase time_;
    struct ring_buffer* rb_ = nullptr;
    struct ring_buffer* main_only_ = nullptr; // the main ring alone
    std::vector<EventSink*> sinks_;
    StackResolver* stacks_ = nullptr;
    PipelineStats stats_;
    uint64_t last_tick_ns_ = 0;
    uint64_t last_lost_total_ = 0;
    std::function<void()> tick_;
    std::function<void()> sweep_;
    uint64_t sweep_interval_ns_ = 0;
    uint64_t last_sweep_ns_ = 0;
    void* consumer_page_ = nullptr;
    void* producer_page_ = nullptr;
};

uint64_t lost_total(const pg_lost_counters& c);

} // namespace podguard

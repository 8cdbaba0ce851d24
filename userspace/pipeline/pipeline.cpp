#include "pipeline/pipeline.h"

#include "stack/stack_resolver.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <unistd.h>

#include "events/kinds.h"
#include "events/names.h"

namespace podguard {

namespace {

uint64_t boot_ns() {
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

constexpr uint64_t kKeepExitedNs = 120ull * 1000000000ull;

} // namespace

uint64_t lost_total(const pg_lost_counters& c) {
    uint64_t total = 0;
    for (const auto& kind : c.count)
        for (uint64_t n : kind)
            total += n;
    return total;
}

Pipeline::Pipeline(int ringbuf_fd, int lost_fd, uint32_t ringbuf_bytes, ProcessTable& processes,
                   Enricher& enricher)
    : ringbuf_fd_(ringbuf_fd), lost_fd_(lost_fd), ringbuf_bytes_(ringbuf_bytes),
      processes_(processes), enricher_(enricher), time_(TimeBase::now()) {}

Pipeline::~Pipeline() {
    if (rb_)
        ring_buffer__free(rb_);
    if (main_only_)
        ring_buffer__free(main_only_);
    long page = sysconf(_SC_PAGESIZE);
    if (consumer_page_)
        munmap(consumer_page_, page);
    if (producer_page_)
        munmap(producer_page_, page);
}

Status Pipeline::open() {
    rb_ = ring_buffer__new(ringbuf_fd_, &Pipeline::on_record, this, nullptr);
    if (!rb_)
        return make_error(std::string("cannot open ring buffer: ") + strerror(errno));
    // The ring buffer's positions, for the fill gauge (libbpf 1.1 has no
    // accessor): page 0 holds the consumer position, page 1 the producer's.
    long page = sysconf(_SC_PAGESIZE);
    void* c = mmap(nullptr, page, PROT_READ, MAP_SHARED, ringbuf_fd_, 0);
    void* p = mmap(nullptr, page, PROT_READ, MAP_SHARED, ringbuf_fd_, page);
    consumer_page_ = c == MAP_FAILED ? nullptr : c;
    producer_page_ = p == MAP_FAILED ? nullptr : p;
    last_tick_ns_ = boot_ns();
    return {};
}

Status Pipeline::add_priority_ring(int ringbuf_fd) {
    main_only_ = ring_buffer__new(ringbuf_fd_, &Pipeline::on_record, this, nullptr);
    if (!rb_ || !main_only_ ||
        ring_buffer__add(rb_, ringbuf_fd, &Pipeline::on_priority_record, this) != 0)
        return make_error(std::string("cannot open ring buffer: ") + strerror(errno));
    return {};
}

int Pipeline::on_priority_record(void* ctx, void* data, size_t size) noexcept {
    auto* self = static_cast<Pipeline*>(ctx);
    ring_buffer__consume(self->main_only_);
    return on_record(ctx, data, size);
}

uint64_t Pipeline::ringbuf_used_bytes() const {
    if (!consumer_page_ || !producer_page_)
        return 0;
    uint64_t cons = __atomic_load_n(static_cast<uint64_t*>(consumer_page_), __ATOMIC_ACQUIRE);
    uint64_t prod = __atomic_load_n(static_cast<uint64_t*>(producer_page_), __ATOMIC_ACQUIRE);
    return prod >= cons ? prod - cons : 0;
}

int Pipeline::on_record(void* ctx, void* data, size_t size) noexcept {
    auto* self = static_cast<Pipeline*>(ctx);
    try {
        self->handle(data, size);
    } catch (const std::exception& e) {
        if (self->stats_.handling_errors++ % 1000 == 0)
            spdlog::error("event handling failed: {}", e.what());
    } catch (...) {
        if (self->stats_.handling_errors++ % 1000 == 0)
            spdlog::error("event handling failed");
    }
    return 0;
}

void Pipeline::handle(const void* data, size_t size) {
    ++stats_.records;
    auto decoded = decode_record(data, size, time_);
    if (!decoded) {
        if (stats_.decode_errors++ % 1000 == 0)
            spdlog::warn("undecodable event: {}", decoded.error().message);
        return;
    }
    Event& event = *decoded;
    ++stats_.by_kind[kind_info(event.kind).wire];
    if (event.summary) {
        ++stats_.summaries;
        stats_.summary_acts += event.count;
    }
    // The process table learns first, so that this event is already
    // enriched with what it says (an exec's new exe).
    if (is_lifecycle(event.kind)) {
        const auto& detail = std::get<ProcessDetail>(event.detail);
        if (event.kind == EventKind::Fork)
            processes_.on_fork(event.source);
        else if (event.kind == EventKind::Exec)
            processes_.on_exec(event.source, detail.filename, detail.args);
        else
            processes_.on_exit(event.source, time_.to_boottime(event.time_ns));
    }
    if (stacks_) {
        if (event.kind == EventKind::Exec || event.kind == EventKind::Exit)
            stacks_->forget(event.source.pid);
        else if (event.stack_ids)
            event.stacks = stacks_->resolve(event.source.pid, event.source.start_ns,
                                            event.stack_ids->user, event.stack_ids->kernel);
    }
    enricher_.enrich(event);
    for (EventSink* sink : sinks_)
        sink->consume(event);
}

pg_lost_counters Pipeline::read_lost() const {
    pg_lost_counters sum{};
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0)
        return sum;
    std::vector<pg_lost_counters> per_cpu(ncpu);
    uint32_t key = 0;
    if (bpf_map_lookup_elem(lost_fd_, &key, per_cpu.data()) != 0)
        return sum;
    for (const auto& c : per_cpu)
        for (int k = 0; k < PG_EV_KIND_MAX; ++k)
            for (int r = 0; r < PG_LOST_REASON_MAX; ++r)
                sum.count[k][r] += c.count[k][r];
    return sum;
}

void Pipeline::periodic() {
    uint64_t now = boot_ns();
    if (sweep_ && now - last_sweep_ns_ >= sweep_interval_ns_) {
        last_sweep_ns_ = now;
        sweep_();
    }
    if (now - last_tick_ns_ < 1000000000ull)
        return;
    last_tick_ns_ = now;
    processes_.expire(now, kKeepExitedNs);
    pg_lost_counters lost = read_lost();
    uint64_t total = lost_total(lost);
    if (total != last_lost_total_) {
        for (int k = 1; k < PG_EV_KIND_MAX; ++k)
            for (int r = 0; r < PG_LOST_REASON_MAX; ++r)
                if (lost.count[k][r])
                    spdlog::warn("events not delivered so far: kind {} reason {}: {}", k,
                                 lost_reason_name(r), lost.count[k][r]);
        last_lost_total_ = total;
    }
    if (tick_)
        tick_();
}

Result<int> Pipeline::poll_once(int timeout_ms) {
    int n = ring_buffer__poll(rb_, timeout_ms);
    if (n < 0 && n != -EINTR)
        return make_error(std::string("ring buffer poll failed: ") + strerror(-n));
    // The kernel side wakes us at most every few milliseconds; what it wrote
    // without a wakeup is only seen by consuming, which poll does not do on
    // a timeout.
    if (n <= 0) {
        int c = ring_buffer__consume(rb_);
        if (c > 0)
            n = c;
    }
    for (EventSink* sink : sinks_)
        sink->flush();
    periodic();
    return n < 0 ? 0 : n;
}

Status Pipeline::run(const std::atomic<bool>& stop, int poll_timeout_ms) {
    while (!stop.load(std::memory_order_relaxed)) {
        auto n = poll_once(poll_timeout_ms);
        if (!n)
            return n.error();
    }
    drain();
    return {};
}

void Pipeline::drain() {
    ring_buffer__consume(rb_);
    for (EventSink* sink : sinks_)
        sink->flush();
}

} // namespace podguard

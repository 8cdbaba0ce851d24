#include "store/store_sink.h"

#include "events/kinds.h"

#include <ctime>
#include <spdlog/spdlog.h>

namespace podguard {

namespace {

// What a queued row costs besides its JSON: the struct and the identities.
constexpr size_t kRecordOverhead = 512;

size_t record_bytes(const StoreRecord& r) {
    return r.json.size() + kRecordOverhead;
}

uint64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

} // namespace

Result<std::unique_ptr<StoreSink>> StoreSink::open(const StoreOptions& store,
                                                   StoreSinkOptions options) {
    auto opened = EventStore::open(store);
    if (!opened.ok())
        return opened.error();
    return std::make_unique<StoreSink>(std::move(*opened), options);
}

StoreSink::StoreSink(std::unique_ptr<EventStore> store, StoreSinkOptions options)
    : store_(std::move(store)), options_(options) {
    incoming_.reserve(options_.batch_events);
    next_prune_ = Clock::now(); // rotate what an earlier run left at once
    writer_ = std::thread([this] { run(); });
}

StoreSink::~StoreSink() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    wake_.notify_all();
    writer_.join();
}

void StoreSink::consume(const Event& event) noexcept {
    if (!options_.lifecycle && is_lifecycle(event.kind))
        return;
    bool notify = false;
    try {
        StoreRecord record = make_record(event);
        const size_t bytes = record_bytes(record);
        std::lock_guard lk(mu_);
        ++stats_.consumed;
        if (stats_.pending >= options_.max_pending_events ||
            pending_bytes_ + bytes > options_.max_pending_bytes) {
            ++stats_.dropped;
            return;
        }
        if (incoming_.empty())
            first_incoming_ = Clock::now();
        incoming_.push_back(std::move(record));
        ++stats_.pending;
        pending_bytes_ += bytes;
        notify = incoming_.size() == options_.batch_events;
    } catch (...) {
        std::lock_guard lk(mu_);
        ++stats_.consumed;
        ++stats_.dropped;
    }
    if (notify)
        wake_.notify_one();
}

void StoreSink::flush() noexcept {
    {
        std::lock_guard lk(mu_);
        if (incoming_.empty())
            return;
        flush_requested_ = true;
    }
    wake_.notify_one();
}

StoreSinkStats StoreSink::stats() const {
    std::lock_guard lk(mu_);
    return stats_;
}

bool StoreSink::wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    if (!incoming_.empty()) {
        flush_requested_ = true;
        wake_.notify_one();
    }
    return idle_.wait_for(lk, timeout, [&] { return stats_.pending == 0; });
}

void StoreSink::run() {
    for (;;) {
        bool stopping = false;
        bool write = false; // else woken for rotation or a log line only
        {
            std::unique_lock lk(mu_);
            for (;;) {
                auto now = Clock::now();
                const bool ready = !incoming_.empty() &&
                                   (flush_requested_ || incoming_.size() >= options_.batch_events ||
                                    now >= first_incoming_ + options_.batch_interval);
                write = stop_ || (stats_.failing ? now >= next_attempt_ : ready);
                if (write)
                    break;
                // Rotation waits while writes fail: a delete needs space too.
                if ((!stats_.failing && now >= next_prune_) ||
                    (stats_.dropped > dropped_logged_ && now >= next_error_log_))
                    break;
                auto until = stats_.failing ? next_attempt_ : next_prune_;
                if (!stats_.failing && !incoming_.empty())
                    until = std::min(until, first_incoming_ + options_.batch_interval);
                if (stats_.dropped > dropped_logged_)
                    until = std::min(until, next_error_log_);
                wake_.wait_until(lk, until);
            }
            stopping = stop_;
            if (write) {
                flush_requested_ = false;
                if (backlog_.empty()) {
                    backlog_.swap(incoming_);
                } else {
                    for (auto& r : incoming_)
                        backlog_.push_back(std::move(r));
                    incoming_.clear();
                }
            }
        }
        if (write)
            write_backlog();
        maybe_prune(write);

        auto now = Clock::now();
        StoreSinkStats s = stats();
        if (s.dropped > dropped_logged_ && now >= next_error_log_) {
            spdlog::error("event store {}: {} events dropped so far (memory queue full: {} "
                          "waiting)",
                          store_->options().path, s.dropped, s.pending);
            dropped_logged_ = s.dropped;
            next_error_log_ = now + options_.error_log_interval;
        }
        if (stopping) {
            if (!backlog_.empty()) {
                std::lock_guard lk(mu_);
                stats_.dropped += backlog_.size();
                stats_.pending -= backlog_.size();
                pending_bytes_ = 0;
                spdlog::error("event store {}: {} events could not be stored before exit",
                              store_->options().path, backlog_.size());
                backlog_.clear();
                idle_.notify_all();
            }
            return;
        }
    }
}

void StoreSink::write_backlog() {
    if (!backlog_.empty() && stats().failing)
        (void)store_->checkpoint(); // may fail while the disk is still full; the append says
    size_t done = 0;
    while (done < backlog_.size()) {
        const size_t n = std::min(options_.max_transaction_events, backlog_.size() - done);
        std::span<StoreRecord> chunk(backlog_.data() + done, n);
        Status st = store_->append(chunk);
        auto now = Clock::now();
        if (!st.ok()) {
            bool first;
            {
                std::lock_guard lk(mu_);
                ++stats_.write_errors;
                first = !stats_.failing;
                stats_.failing = true;
            }
            next_attempt_ = now + options_.retry_interval;
            if (first) {
                failing_since_ = now;
                next_error_log_ = now + options_.error_log_interval;
                spdlog::error("event store {}: cannot write: {}; keeping up to {} events in "
                              "memory and retrying every {} ms",
                              store_->options().path, st.error().message,
                              options_.max_pending_events, options_.retry_interval.count());
            } else if (now >= next_error_log_) {
                StoreSinkStats s = stats();
                next_error_log_ = now + options_.error_log_interval;
                dropped_logged_ = s.dropped;
                spdlog::error("event store {}: still cannot write ({}): {} events waiting, {} "
                              "dropped, {} failed writes",
                              store_->options().path, st.error().message, s.pending, s.dropped,
                              s.write_errors);
            }
            break;
        }
        size_t bytes = 0;
        for (const auto& r : chunk)
            bytes += record_bytes(r);
        done += n;
        bool recovered;
        {
            std::lock_guard lk(mu_);
            stats_.stored += n;
            stats_.pending -= n;
            pending_bytes_ -= std::min(pending_bytes_, bytes);
            recovered = stats_.failing;
            stats_.failing = false;
            if (stats_.pending == 0)
                idle_.notify_all();
        }
        if (recovered) {
            StoreSinkStats s = stats();
            spdlog::info("event store {}: writing again after {:.1f} s; {} events dropped, {} "
                         "failed writes so far",
                         store_->options().path,
                         std::chrono::duration<double>(now - failing_since_).count(), s.dropped,
                         s.write_errors);
        }
    }
    backlog_.erase(backlog_.begin(), backlog_.begin() + static_cast<ptrdiff_t>(done));
}

void StoreSink::maybe_prune(bool after_commit) {
    if (stats().failing)
        return;
    auto now = Clock::now();
    bool due = now >= next_prune_;
    if (!due && after_commit && store_->options().max_bytes > 0) {
        auto used = store_->used_bytes();
        due = used.ok() && *used > store_->options().max_bytes;
    }
    if (!due)
        return;
    next_prune_ = now + options_.prune_interval;
    auto pruned = store_->prune(realtime_ns());
    if (!pruned.ok()) {
        spdlog::warn("event store {}: rotation failed: {}", store_->options().path,
                     pruned.error().message);
        return;
    }
    if (pruned->rows) {
        spdlog::debug("event store {}: rotated out {} rows (anchor now row {})",
                      store_->options().path, pruned->rows, pruned->anchor_id);
        std::lock_guard lk(mu_);
        stats_.pruned += pruned->rows;
    }
}

} // namespace podguard

// The pipeline's way into the event store. consume() turns the event into
// a row (JSON included) and queues it; a writer thread commits the queue in
// batches, chained, so the pipeline never waits on the disk.
//
// When the store cannot write (disk full, I/O error), rows stay queued in
// memory up to a bound, the writer retries every retry_interval and resumes
// when space returns; what the bound cannot hold is counted as dropped and
// logged, at most once per error_log_interval.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/result.h"
#include "sinks/event_sink.h"
#include "store/event_store.h"

namespace podguard {

struct StoreSinkOptions {
    // A commit writes every page it touched to the WAL: the bigger the
    // batch, the fewer times each hot index page is written per event.
    size_t batch_events = 16384;                     // commit when this many wait
    std::chrono::milliseconds batch_interval{250};   // ... or when the oldest waited this long
    size_t max_transaction_events = 32768;           // split bigger backlogs
    size_t max_pending_events = 500000;              // memory bound while the store fails
    size_t max_pending_bytes = size_t(256) << 20;    // (JSON bytes)
    std::chrono::milliseconds retry_interval{1000};  // after a failed write
    std::chrono::milliseconds prune_interval{10000}; // age rotation; size is checked per commit
    std::chrono::milliseconds error_log_interval{10000};
    bool lifecycle = false; // also store fork/exec/exit
};

struct StoreSinkStats {
    uint64_t consumed = 0;     // events offered (lifecycle ones only when stored)
    uint64_t stored = 0;       // committed
    uint64_t dropped = 0;      // lost: queue full, or still failing at shutdown
    uint64_t write_errors = 0; // failed transactions (each retry counts)
    uint64_t pruned = 0;       // rows removed by rotation
    uint64_t pending = 0;      // queued, not yet committed
    bool failing = false;      // the last write failed
};

class StoreSink : public EventSink {
  public:
    static Result<std::unique_ptr<StoreSink>> open(const StoreOptions& store,
                                                   StoreSinkOptions options = {});
    explicit StoreSink(std::unique_ptr<EventStore> store, StoreSinkOptions options = {});
    // Commits what is queued (one last attempt), then stops the writer.
    ~StoreSink() override;
    StoreSink(const StoreSink&) = delete;
    StoreSink& operator=(const StoreSink&) = delete;

    void consume(const Event& event) noexcept override;
    // Asks the writer to commit what is queued now.
    void flush() noexcept override;

    StoreSinkStats stats() const;
    // Blocks until nothing is queued or timeout; false on timeout.
    bool wait_idle(std::chrono::milliseconds timeout);

  private:
    using Clock = std::chrono::steady_clock;
    void run();
    void write_backlog();
    void maybe_prune(bool after_commit);
    void log_failure(const std::string& message);

    std::unique_ptr<EventStore> store_;
    StoreSinkOptions options_;

    mutable std::mutex mu_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    std::vector<StoreRecord> incoming_; // filled by consume()
    Clock::time_point first_incoming_{};
    bool flush_requested_ = false;
    bool stop_ = false;
    size_t pending_bytes_ = 0; // incoming_ + backlog_
    StoreSinkStats stats_;

    // Writer thread only.
    std::vector<StoreRecord> backlog_; // taken from incoming_, not yet committed
    Clock::time_point next_attempt_{};
    Clock::time_point next_prune_{};
    Clock::time_point next_error_log_{};
    Clock::time_point failing_since_{};
    uint64_t dropped_logged_ = 0;

    std::thread writer_;
};

} // namespace podguard

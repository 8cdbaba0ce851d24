// StoreSink as the daemon uses it: batches from the pipeline thread, a
// writer killed with SIGKILL mid-stream, a disk that fills up and frees.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <gtest/gtest.h>
#include <thread>

#include "store/store_sink.h"
#include "store_fixtures.h"
#include "support/process.h"
#include "support/sandbox.h"

using namespace podguard;
using namespace podguard::store_test;
using namespace std::chrono_literals;
using podguard::test::TempDir;

namespace {

// Recent: the sink rotates out what is older than max_age (30 days).
const uint64_t kT0 = uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count()) -
                     3600 * kSecond;

std::unique_ptr<StoreSink> open_sink(const std::string& path, StoreSinkOptions so = {},
                                     StoreOptions o = {}) {
    o.path = path;
    auto sink = StoreSink::open(o, so);
    if (!sink.ok())
        throw std::runtime_error(sink.error().message);
    return std::move(*sink);
}

VerifyReport verify(const std::string& path) {
    StoreOptions o;
    o.path = path;
    o.read_only = true;
    auto store = EventStore::open(o);
    if (!store.ok())
        throw std::runtime_error(store.error().message);
    return (*store)->verify();
}

// A tmpfs of `size` mounted for one test, unmounted even when it fails.
class SmallTmpfs {
  public:
    explicit SmallTmpfs(const std::string& size) {
        if (mount("podguard-test", dir_.path().c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                  ("size=" + size + ",mode=0700").c_str()) != 0)
            throw std::runtime_error("mount -t tmpfs -o size=" + size + ": " + strerror(errno) +
                                     " (the test needs root)");
    }
    ~SmallTmpfs() { umount2(dir_.path().c_str(), MNT_DETACH); }
    std::string file(const std::string& name) const { return dir_.file(name); }

  private:
    TempDir dir_;
};

// Writes zeros until the file system says ENOSPC; returns bytes written.
size_t fill(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        throw std::runtime_error("open " + path + ": " + strerror(errno));
    static const char zeros[4096] = {};
    size_t total = 0;
    for (;;) {
        ssize_t n = write(fd, zeros, sizeof(zeros));
        if (n <= 0)
            break;
        total += size_t(n);
    }
    // The last partial page too.
    while (write(fd, zeros, 1) == 1)
        ++total;
    close(fd);
    return total;
}

} // namespace

TEST(StoreSink, CommitsOnFlushAndInBatches) {
    TempDir dir;
    auto path = dir.file("events.db");
    StoreSinkOptions so;
    so.batch_events = 100;
    so.batch_interval = 1h; // only count and flush may commit
    auto sink = open_sink(path, so);
    for (int i = 0; i < 100; ++i)
        sink->consume(bulk_event(i, kT0 + i));
    // A full batch goes without a flush.
    for (int i = 0; i < 500 && sink->stats().stored < 100; ++i)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(sink->stats().stored, 100u);
    for (int i = 100; i < 150; ++i)
        sink->consume(bulk_event(i, kT0 + i));
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(sink->stats().stored, 100u);
    EXPECT_EQ(sink->stats().pending, 50u);
    sink->flush();
    for (int i = 0; i < 500 && sink->stats().stored < 150; ++i)
        std::this_thread::sleep_for(10ms);
    auto s = sink->stats();
    EXPECT_EQ(s.consumed, 150u);
    EXPECT_EQ(s.stored, 150u);
    EXPECT_EQ(s.pending, 0u);
    EXPECT_EQ(s.dropped, 0u);
    EXPECT_EQ(s.write_errors, 0u);
    VerifyReport r = verify(path);
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_EQ(r.rows, 150u);
}

TEST(StoreSink, CommitsAfterTheIntervalWithoutAFlush) {
    TempDir dir;
    StoreSinkOptions so;
    so.batch_interval = 50ms;
    auto sink = open_sink(dir.file("events.db"), so);
    sink->consume(bulk_event(0, kT0));
    // Generous: the writer thread may wait for a busy machine's CPU; what
    // is tested is that no flush is needed, not how fast.
    for (auto until = std::chrono::steady_clock::now() + 30s;
         sink->stats().stored < 1 && std::chrono::steady_clock::now() < until;)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(sink->stats().stored, 1u);
}

TEST(StoreSink, SkipsLifecycleEventsUnlessAsked) {
    TempDir dir;
    auto path = dir.file("events.db");
    Event exec = bulk_event(0, kT0);
    exec.kind = EventKind::Exec;
    exec.detail = ProcessDetail{"/bin/cat", "cat x", 0};
    {
        auto sink = open_sink(path);
        sink->consume(exec);
        sink->consume(bulk_event(1, kT0));
    }
    EXPECT_EQ(verify(path).rows, 1u);
    StoreSinkOptions so;
    so.lifecycle = true;
    {
        auto sink = open_sink(path, so);
        sink->consume(exec);
    }
    EXPECT_EQ(verify(path).rows, 2u);
}

TEST(StoreSink, DestructionCommitsWhatIsQueuedAndARestartChainsOn) {
    TempDir dir;
    auto path = dir.file("events.db");
    StoreSinkOptions so;
    so.batch_interval = 1h;
    for (int run = 0; run < 3; ++run) {
        auto sink = open_sink(path, so);
        for (int i = 0; i < 100; ++i)
            sink->consume(bulk_event(i, kT0 + i));
    }
    VerifyReport r = verify(path);
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_EQ(r.rows, 300u);
}

TEST(StoreSink, SurvivesSigkillOfTheWritingProcess) {
    TempDir dir;
    auto path = dir.file("events.db");
    {
        auto sink = open_sink(path); // the schema exists before the race starts
    }
    test::Proc writer = test::spawn_on_host([path] {
        StoreSinkOptions so;
        so.batch_events = 50;
        StoreOptions o;
        o.path = path;
        auto sink = StoreSink::open(o, so);
        if (!sink.ok())
            return 3;
        for (uint64_t i = 0;; ++i) {
            (*sink)->consume(bulk_event(i, kT0 + i));
            if (i % 50 == 49)
                (*sink)->flush();
        }
    });
    // Let it commit a good number of transactions, then kill it mid-stream.
    int64_t seen = 0;
    for (int i = 0; i < 500 && seen < 3000; ++i) {
        std::this_thread::sleep_for(10ms);
        StoreOptions o;
        o.path = path;
        o.read_only = true;
        if (auto store = EventStore::open(o); store.ok())
            if (auto c = (*store)->chain(); c.ok())
                seen = c->head_id;
    }
    ASSERT_TRUE(writer.running()) << "the writer died on its own";
    test::ExitStatus status = writer.kill_and_reap();
    ASSERT_TRUE(status.signaled()) << status.describe();
    ASSERT_GE(seen, 3000) << "the writer committed too little before the kill";

    // The store opens for writing (recovers the WAL), verifies, and chains on.
    auto sink = open_sink(path);
    VerifyReport r = verify(path);
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_GE(r.last_id, seen);
    const uint64_t before = r.rows;
    for (int i = 0; i < 10; ++i)
        sink->consume(bulk_event(i, kT0));
    ASSERT_TRUE(sink->wait_idle(10s));
    r = verify(path);
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_EQ(r.rows, before + 10);
}

TEST(StoreSink, FullDiskQueuesCountsLossAndResumes) {
    SmallTmpfs fs("512k");
    auto path = fs.file("events.db");
    StoreSinkOptions so;
    so.batch_events = 20;
    so.batch_interval = 10ms;
    so.retry_interval = 50ms;
    // A 512k disk holds about a hundred of these events next to the WAL:
    // the queue must fit in what the filler gives back.
    so.max_pending_events = 30;
    so.max_transaction_events = 10;
    StoreOptions o;
    o.max_bytes = 0;    // rotation would hide the full disk; here it must fill
    o.page_size = 4096; // the schema alone takes 13 pages
    auto sink = open_sink(path, so, o);
    for (int i = 0; i < 20; ++i)
        sink->consume(bulk_event(i, kT0 + i));
    ASSERT_TRUE(sink->wait_idle(10s));
    ASSERT_EQ(sink->stats().stored, 20u);

    // Fill the file system, then keep the events coming.
    ASSERT_GT(fill(fs.file("filler")), 0u);
    for (int i = 0; i < 2000; ++i) {
        sink->consume(bulk_event(i, kT0 + 1000 + i));
        if (i % 20 == 19)
            sink->flush();
    }
    for (int i = 0; i < 300 && sink->stats().write_errors < 2; ++i)
        std::this_thread::sleep_for(10ms);
    StoreSinkStats s = sink->stats();
    EXPECT_GE(s.write_errors, 2u) << "the store kept retrying";
    EXPECT_TRUE(s.failing);
    EXPECT_LT(s.stored, 2020u - so.max_pending_events);
    EXPECT_GT(s.dropped, 0u);
    EXPECT_LE(s.pending, so.max_pending_events);
    EXPECT_EQ(s.consumed, s.stored + s.dropped + s.pending);

    // Space returns: the queue drains, every event is either stored or counted.
    ASSERT_EQ(unlink(fs.file("filler").c_str()), 0);
    ASSERT_TRUE(sink->wait_idle(20s)) << "the sink did not resume";
    s = sink->stats();
    EXPECT_FALSE(s.failing);
    EXPECT_EQ(s.pending, 0u);
    EXPECT_EQ(s.consumed, 2020u);
    EXPECT_EQ(s.stored + s.dropped, 2020u);
    EXPECT_GT(s.stored, 20u);

    VerifyReport r = verify(path);
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_EQ(r.rows, s.stored);
    // (The store now fills the little disk itself: its WAL alone takes
    // ~300k. More events would need rotation or more space.)
}

TEST(StoreSink, RotatesBySizeAsItWrites) {
    TempDir dir;
    auto path = dir.file("events.db");
    StoreOptions o;
    o.max_bytes = 1 << 20;
    StoreSinkOptions so;
    so.batch_events = 500;
    auto sink = open_sink(path, so, o);
    for (int i = 0; i < 8000; ++i)
        sink->consume(bulk_event(i, kT0 + i));
    ASSERT_TRUE(sink->wait_idle(30s));
    StoreSinkStats s = sink->stats();
    sink.reset(); // the writer's last round rotates after its last commit
    EXPECT_EQ(s.stored, 8000u);
    EXPECT_GT(s.pruned, 0u);
    auto store = EventStore::open([&] {
        StoreOptions ro = o;
        ro.path = path;
        ro.read_only = true;
        return ro;
    }());
    ASSERT_TRUE(store.ok());
    auto used = (*store)->used_bytes();
    ASSERT_TRUE(used.ok());
    EXPECT_LE(*used, o.max_bytes);
    VerifyReport r = (*store)->verify();
    EXPECT_TRUE(r.ok) << describe(r);
    EXPECT_EQ(r.last_id, 8000);
    EXPECT_GT(r.chain.anchor_id, 0);
}

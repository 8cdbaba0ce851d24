// End-to-end throughput of the agent's real pipeline, by sink: events per
// second from the ring buffer to the JSON stream only, to the store only, and
// to both (issue 14: at least 300k events/s with the store on, for events
// that carry ancestry). Each figure is the drain measure (bench_drain.h):
// real kill(target, 0) acts fill the ring while the agent is stopped, one
// record each (aggregation and shares off), then the agent is continued and
// timed until every event is counted and, with the store, committed. The
// events come from this benchmark's process, so each carries its ancestry
// (this shell, its parents, up to host init).
//   ./build/bench/podguard_bench_throughput [events] [dir]
// dir (default /var/tmp) holds the JSON file and the store, removed at exit.
// PODGUARD_BENCH_AGENT=path runs another build of the agent (before/after).
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "bench_drain.h"

namespace bench = podguard::bench;

namespace {

constexpr double kTarget = 300000;

// Rows committed to the store so far (its chain head), read beside the
// writer as `podguard events` would, with plain SQLite so that an earlier
// store version reads too (PODGUARD_BENCH_AGENT).
uint64_t stored_rows(const std::string& path) {
    if (access(path.c_str(), F_OK) != 0)
        return 0;
    sqlite3* db = nullptr;
    uint64_t head = 0;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 1000);
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db, "SELECT head_id FROM chain WHERE one = 1", -1, &s, nullptr) ==
                SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW)
            head = uint64_t(sqlite3_column_int64(s, 0));
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return head;
}

uint64_t lines_in(const std::string& path) {
    std::ifstream in(path);
    uint64_t n = 0;
    for (std::string line; std::getline(in, line);)
        n += line.find("\"kind\":\"signal\"") != std::string::npos;
    return n;
}

struct Row {
    std::string what;
    bench::Drain d;
    uint64_t checked = 0; // lines in the stream or rows in the store afterwards
    std::string checked_what;
};

} // namespace

int main(int argc, char** argv) {
    if (geteuid() != 0) {
        std::fprintf(stderr, "throughput_bench needs root\n");
        return 1;
    }
    const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
    const std::string base = argc > 2 ? argv[2] : "/var/tmp";
    const std::string dir = base + "/podguard-throughput-" + std::to_string(getpid());
    std::filesystem::create_directories(dir);
    struct Cleanup {
        std::string dir;
        ~Cleanup() { std::filesystem::remove_all(dir); }
    } cleanup{dir};
    const pid_t target = bench::spawn_sleeper();

    std::vector<Row> rows;
    auto run = [&](const std::string& what, const std::string& tag, bool stream, bool store) {
        const std::string json = dir + "/" + tag + ".jsonl";
        const std::string db = dir + "/" + tag + ".db";
        std::vector<std::string> extra;
        extra.push_back("--events=" + (stream ? json : std::string("/dev/null")));
        // One file holding every line, so that they can be counted after.
        extra.push_back("--events-max-bytes=0");
        if (store)
            extra.push_back("--store=" + db);
        std::function<uint64_t()> done;
        if (store)
            done = [db] { return stored_rows(db); };
        Row r{what, bench::drain_rate("throughput-" + tag, target, n, extra, done), 0, ""};
        if (store) {
            r.checked = stored_rows(db);
            r.checked_what = "rows in the store";
        } else if (stream) {
            r.checked = lines_in(json);
            r.checked_what = "signal lines in the stream";
        }
        std::filesystem::remove(json);
        for (const char* suffix : {"", "-wal", "-shm"})
            std::filesystem::remove(db + suffix);
        std::printf("%-44s %9.0f ev/s  (%lu events in %.2f s, %lu undelivered%s%s)\n", what.c_str(),
                    double(r.d.events) / r.d.seconds, (unsigned long)r.d.events, r.d.seconds,
                    (unsigned long)r.d.lost, r.checked_what.empty() ? "" : ", ",
                    r.checked_what.empty()
                        ? ""
                        : (std::to_string(r.checked) + " " + r.checked_what).c_str());
        std::fflush(stdout);
        rows.push_back(r);
    };

    std::printf("drain of %lu kill(target, 0) events with ancestry, ring pre-filled, aggregation "
                "off\n",
                (unsigned long)n);
    run("floor: pipeline, JSON to /dev/null, no store", "floor", false, false);
    run("stream only: JSON to a file", "stream", true, false);
    run("store only: JSON to /dev/null, store on", "store", false, true);
    run("both: JSON to a file and the store", "both", true, true);

    std::printf("\n%-44s %12s %12s %s\n", "", "measured", "target", "");
    for (const Row& r : rows) {
        const double rate = double(r.d.events) / r.d.seconds;
        const bool with_store =
            r.what.find("store on") != std::string::npos || r.what.rfind("both", 0) == 0;
        std::printf("%-44s %12.0f %12s %s\n", r.what.c_str(), rate, with_store ? ">= 300000" : "-",
                    with_store ? (rate >= kTarget ? "ok" : "UNDER") : "");
    }
    kill(target, SIGKILL);
    waitpid(target, nullptr, 0);
    return 0;
}

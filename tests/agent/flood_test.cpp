// A flood cannot blind podguard (issue 14): processes of one container read a
// neighbour's /proc as fast as they can, and the acts that matter, sent in the
// middle of it from that container and from another one, still reach the JSON
// stream and the store. Every act the flood performs is accounted for:
// delivered (one by one or in a summary's count) or counted lost.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <set>
#include <sstream>
#include <thread>

#include "agent_it.h"

namespace podguard::test {
namespace {

constexpr int kFlooders = 3; // the test machine has 2 cores: enough to saturate them

// Shared with the forked flooders (MAP_SHARED survives fork).
struct FloodBoard {
    std::atomic<int> go{0};
    std::atomic<int> stop{0};
    std::atomic<uint64_t> acts[kFlooders]{};
};

class SharedBoard {
  public:
    SharedBoard() {
        void* p = mmap(nullptr, sizeof(FloodBoard), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            throw FixtureError("mmap of the flood board failed");
        board_ = new (p) FloodBoard;
    }
    ~SharedBoard() { munmap(board_, sizeof(FloodBoard)); }
    FloodBoard* operator->() const { return board_; }
    FloodBoard* get() const { return board_; }

  private:
    FloodBoard* board_;
};

// Opens `path` (or path + a counter: every act distinct) until told to stop,
// counting every call it makes.
Proc spawn_flooder(const SandboxContainer& c, FloodBoard* board, int slot, std::string path,
                   bool distinct) {
    return c.spawn([board, slot, path, distinct]() -> int {
        while (!board->go.load())
            usleep(100);
        uint64_t n = 0;
        char buf[256];
        while (!board->stop.load(std::memory_order_relaxed)) {
            const char* p = path.c_str();
            if (distinct) {
                snprintf(buf, sizeof buf, "%s%llu", path.c_str(), (unsigned long long)n);
                p = buf;
            }
            int fd = ::open(p, O_RDONLY | O_CLOEXEC);
            if (fd >= 0)
                ::close(fd);
            ++n;
            if ((n & 1023) == 0)
                board->acts[slot].store(n, std::memory_order_relaxed);
        }
        board->acts[slot].store(n);
        return 0;
    });
}

std::string num(long n) {
    return std::to_string(n);
}

// The agent's exit report on flood control (one JSON object on stderr).
Json flood_report(const AgentProcess& agent) {
    std::istringstream in(agent.stderr_text());
    std::string line;
    const std::string marker = "podguard flood control: ";
    while (std::getline(in, line))
        if (auto at = line.find(marker); at != std::string::npos)
            return Json::parse(line.substr(at + marker.size()));
    throw FixtureError("no flood control report in the agent's stderr:\n" + agent.stderr_text());
}

struct Needle {
    std::string what;
    std::string kind;
    std::string entry; // proc_access only
    Acted acted;
};

class AgentFlood : public ::testing::Test {
  protected:
    SandboxPod pod;
    SandboxContainer& nginx = pod.add_container("nginx");
    SandboxContainer& noisy = pod.add_container("noisy");
    SandboxContainer& quiet = pod.add_container("quiet");
    Victim victim = spawn_victim(nginx);
    TempDir dir;
    std::string store = dir.file("events.db");
    // The default configuration: embedded policy, aggregation, store on.
    AgentProcess agent{std::vector<std::string>{"--store=" + store}};

    std::string pid_dir() const { return "/proc/" + num(victim.ns_pid()); }

    // The four needles, from one container: a signal, a ptrace, an open of
    // the victim's root and a read of its environment.
    void send_needles(const SandboxContainer& from, std::vector<Needle>& out) {
        pid_t target = victim.ns_pid();
        std::string root = pid_dir() + "/root" + nginx.private_dir() + "/secret";
        std::string environ = pid_dir() + "/environ";
        out.push_back({"signal from " + from.name(), "signal", "",
                       act(from, [target](long*) { return long(::kill(target, SIGUSR1)); })});
        out.push_back({"ptrace from " + from.name(), "ptrace", "", act(from, [target](long*) {
                           return ::ptrace(PTRACE_PEEKDATA, target, nullptr, nullptr);
                       })});
        out.push_back(
            {"root open from " + from.name(), "proc_access", "root", act(from, [root](long*) {
                 int fd = ::open(root.c_str(), O_RDONLY | O_CLOEXEC);
                 if (fd >= 0)
                     ::close(fd);
                 return long(fd);
             })});
        out.push_back({"environ read from " + from.name(), "proc_access", "environ",
                       act(from, [environ](long*) {
                           char buf[512];
                           int fd = ::open(environ.c_str(), O_RDONLY | O_CLOEXEC);
                           if (fd < 0)
                               return -1L;
                           long n = ::read(fd, buf, sizeof buf);
                           ::close(fd);
                           return n;
                       })});
    }

    static bool is_needle(const Json& e, const Needle& n) {
        if (e.value("kind", "") != n.kind || e["source"].value("pid", -1) != n.acted.pid)
            return false;
        return n.entry.empty() || e["proc_access"].value("entry", "") == n.entry;
    }

    // Runs the flood for `seconds`, needles from both containers in the
    // middle; returns the acts each flooder performed.
    std::vector<pid_t> flood(const std::string& path, bool distinct, double seconds,
                             std::vector<Needle>& needles, uint64_t& acts) {
        SharedBoard board;
        std::vector<Proc> flooders;
        std::vector<pid_t> pids;
        for (int i = 0; i < kFlooders; ++i) {
            flooders.push_back(spawn_flooder(noisy, board.get(), i, path, distinct));
            pids.push_back(flooders.back().pid());
        }
        auto start = std::chrono::steady_clock::now();
        board->go = 1;
        std::this_thread::sleep_for(std::chrono::duration<double>(seconds / 2));
        send_needles(noisy, needles);
        send_needles(quiet, needles);
        std::this_thread::sleep_until(start + std::chrono::duration<double>(seconds));
        board->stop = 1;
        acts = 0;
        for (int i = 0; i < kFlooders; ++i) {
            flooders[i].wait_or_throw(10s);
            acts += board->acts[i].load();
        }
        double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("flood: %d processes, %llu acts in %.2f s: %.0f acts/s\n", kFlooders,
                    (unsigned long long)acts, elapsed, acts / elapsed);
        return pids;
    }

    // Acts of `pids` the stream delivered: one per event, a summary's count.
    static uint64_t delivered_acts(const std::vector<Json>& events, const std::set<pid_t>& pids) {
        uint64_t n = 0;
        for (const auto& e : events)
            if (e.value("kind", "") == "proc_access" && pids.count(e["source"].value("pid", -1)))
                n += e.value("count", 1);
        return n;
    }

    std::vector<Json> stored_events() {
        auto r = run_command(
            {podguard_binary(), "events", "--store", store, "--output", "json", "--limit", "0"},
            60s);
        std::vector<Json> out;
        std::istringstream in(r.out);
        std::string line;
        while (std::getline(in, line))
            if (!line.empty() && line[0] == '{')
                out.push_back(Json::parse(line));
        return out;
    }

    void expect_needles(const std::vector<Json>& events, const std::vector<Needle>& needles,
                        const std::string& where) {
        for (const auto& n : needles) {
            bool found = false;
            for (const auto& e : events)
                found = found || is_needle(e, n);
            EXPECT_TRUE(found) << n.what << " (pid " << n.acted.pid << ", "
                               << n.acted.result.describe() << ") is not in the " << where;
        }
    }
};

TEST_F(AgentFlood, IdenticalActsAreAggregatedAndEveryNeedleGetsThrough) {
    std::vector<Needle> needles;
    uint64_t acts = 0;
    auto pids = flood(pid_dir() + "/cmdline", false, 6.0, needles, acts);
    ASSERT_TRUE(agent.stop().success()) << agent.diagnostics();

    const auto& events = agent.events();
    expect_needles(events, needles, "JSON stream");
    std::set<pid_t> flood_pids(pids.begin(), pids.end());
    uint64_t delivered = delivered_acts(events, flood_pids);
    Json report = flood_report(agent);
    uint64_t lost =
        report["lost_acts_total"].get<uint64_t>() + report["unsummarized"].get<uint64_t>();
    std::printf("delivered %llu of %llu acts in %zu records; kernel report %s\n",
                (unsigned long long)delivered, (unsigned long long)acts, events.size(),
                report.dump().c_str());
    // Identical acts fold into a few records.
    size_t flood_records = 0;
    for (const auto& e : events)
        flood_records += flood_pids.count(e["source"].value("pid", -1));
    EXPECT_LT(flood_records, 200u);
    // Every act: delivered, or counted lost (the lost counters are the whole
    // node's, so they bound what is missing here).
    EXPECT_LE(delivered, acts);
    EXPECT_LE(acts, delivered + lost);
    EXPECT_EQ(report["lost_acts_total"].get<uint64_t>(), 0u);

    auto stored = stored_events();
    expect_needles(stored, needles, "store");
    EXPECT_EQ(delivered_acts(stored, flood_pids), delivered);
    // The store keeps ancestors as process records and splices them back:
    // each stored event is one the stream wrote, ancestry and all.
    std::multiset<std::string> streamed;
    for (const auto& e : events)
        streamed.insert(e.dump());
    size_t with_ancestry = 0;
    for (Json e : stored) {
        with_ancestry += e.contains("ancestry");
        e.erase("store"); // the store's proof, which `podguard events -o json` adds
        EXPECT_TRUE(streamed.count(e.dump())) << "stored but not streamed as such: " << e.dump();
    }
    EXPECT_GT(with_ancestry, 0u);
}

TEST_F(AgentFlood, DistinctActsOfOneContainerCannotStarveAnother) {
    std::vector<Needle> needles;
    uint64_t acts = 0;
    // Every path differs: nothing to aggregate, each act a first occurrence.
    auto pids = flood(pid_dir() + "/root/nonexistent-", true, 5.0, needles, acts);
    ASSERT_TRUE(agent.stop().success()) << agent.diagnostics();

    const auto& events = agent.events();
    std::vector<Needle> from_quiet;
    for (const auto& n : needles)
        if (n.what.find("quiet") != std::string::npos)
            from_quiet.push_back(n);
    expect_needles(events, from_quiet, "JSON stream");
    std::set<pid_t> flood_pids(pids.begin(), pids.end());
    uint64_t delivered = delivered_acts(events, flood_pids);
    Json report = flood_report(agent);
    uint64_t lost =
        report["lost_acts_total"].get<uint64_t>() + report["unsummarized"].get<uint64_t>();
    std::printf("delivered %llu of %llu acts; kernel report %s\n", (unsigned long long)delivered,
                (unsigned long long)acts, report.dump().c_str());
    EXPECT_LE(delivered, acts);
    EXPECT_LE(acts, delivered + lost);
    // What the noisy container could not send was its own excess, counted.
    EXPECT_GT(report["lost_acts"]["ordinary/rate_limited"].get<uint64_t>() +
                  report["lost_acts"]["first/rate_limited"].get<uint64_t>() +
                  report["lost_acts"]["policy/rate_limited"].get<uint64_t>(),
              0u);

    auto stored = stored_events();
    expect_needles(stored, from_quiet, "store");
}

} // namespace
} // namespace podguard::test

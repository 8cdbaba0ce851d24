// What every other tenant of the node pays for the agent: ordinary work
// (syscalls the agent does not watch, a pipe, a TCP echo, tar, process
// start-ups) and the syscalls it watches, each timed in one run with
//   detached   nothing attached,
//   floor      empty programs on the agent's hooks (the watched syscalls'
//              tracepoints): the price of the hooks, which no program on
//              them can go below,
//   raw floor  empty programs on raw sys_enter/sys_exit (the hooks the agent
//              used before, which every syscall runs),
//   agent      podguard run,
//   bpftrace   bpftrace doing a comparable job on the same tracepoints,
// and printed as ratios to the same round's detached time.
//   ./build/bench/podguard_bench_tenants [rounds]
// With PODGUARD_BENCH_AGENT_B=<another podguard binary> (an earlier build, to
// compare a change in one run on a noisy machine) a column "agent B" is added.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_agent.h"
#include "bench_bpftrace.h"
#include "bench_timing.h"
#include "floor.skel.h"
#include "loader/syscall_hooks.h"

namespace {

namespace bench = podguard::bench;

enum Phase { kDetached, kFloor, kFloorRaw, kAgent, kBpftrace, kAgentB, kPhases };

// Short runs, the best of several: on a shared VM, time taken by others
// (including time the hypervisor gives to other guests) only ever adds.
constexpr int kBestOf = 5;

// A connected loopback TCP pair whose server side echoes from a thread.
class Echo {
  public:
    Echo() {
        int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (lfd < 0 || bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            listen(lfd, 1) != 0 || getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len))
            die("echo listen");
        client_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(client_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            die("echo connect");
        server_ = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
        close(lfd);
        int one = 1;
        setsockopt(client_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(server_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        thread_ = std::thread([fd = server_] {
            char buf[kSize];
            for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
                if (write(fd, buf, n) != n)
                    return;
        });
    }
    ~Echo() {
        shutdown(client_, SHUT_RDWR);
        thread_.join();
        close(client_);
        close(server_);
    }
    void round_trip() {
        char buf[kSize] = {};
        if (write(client_, buf, kSize) != kSize)
            die("echo write");
        for (ssize_t got = 0, n; got < kSize; got += n)
            if ((n = read(client_, buf + got, kSize - got)) <= 0)
                die("echo read");
    }

  private:
    static constexpr ssize_t kSize = 64;
    [[noreturn]] static void die(const char* what) {
        perror(what);
        std::exit(1);
    }
    int client_ = -1, server_ = -1;
    std::thread thread_;
};

// Runs argv to completion; its output is read and dropped here (tar skips
// reading the files when its archive is /dev/null).
void run(const std::vector<const char*>& argv) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        std::abort();
    pid_t p = fork();
    if (p == 0) {
        dup2(out[1], 1);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        execv(argv[0], const_cast<char* const*>(argv.data()));
        _exit(127);
    }
    close(out[1]);
    char buf[65536];
    while (read(out[0], buf, sizeof buf) > 0) {
    }
    close(out[0]);
    int status;
    waitpid(p, &status, 0);
}

pid_t spawn_sleeper() {
    pid_t p = fork();
    if (p == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); // holds the kernel lock's descriptor too
        pause();
        _exit(0);
    }
    return p;
}

struct Op {
    const char* name;
    std::function<void()> run;
    int iterations;
    // Target: agent / detached at most `ratio`, or when `over_floor` is set,
    // at most that much above the floor's ratio where the floor is higher.
    double ratio;
    double over_floor;
};

} // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 7;
    const char* agent_b = std::getenv("PODGUARD_BENCH_AGENT_B");
    const int phases = agent_b && *agent_b ? kPhases : kAgentB;
    if (geteuid() != 0) {
        std::fprintf(stderr, "tenant_bench needs root\n");
        return 1;
    }
    auto tracepoints = podguard::watched_syscall_tracepoints();
    if (!tracepoints) {
        std::fprintf(stderr, "%s\n", tracepoints.error().message.c_str());
        return 1;
    }
    const std::string script = bench::bpftrace_script(*tracepoints);
    floor_bpf* floor = floor_bpf__open_and_load();
    if (!floor) {
        std::fprintf(stderr, "cannot load the floor programs\n");
        return 1;
    }

    pid_t target = spawn_sleeper();
    const std::string procpath = "/proc/" + std::to_string(target) + "/root/etc/hostname";
    const pid_t self = getpid();
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return 1;
    Echo echo;
    char buf[64] = {};
    const std::vector<Op> ops = {
        {"getppid (not watched)", [] { syscall(SYS_getppid); }, 20000, 0, 0.05},
        {"pipe write+read 64 B",
         [&] {
             if (write(pipefd[1], buf, sizeof buf) != sizeof buf ||
                 read(pipefd[0], buf, sizeof buf) != sizeof buf)
                 std::abort();
         },
         5000, 0, 0.05},
        {"loopback TCP echo 64 B", [&] { echo.round_trip(); }, 200, 1.05, 0.03},
        {"tar of /usr/include/linux",
         [] {
             run({"/bin/tar", "-cf", "-", "-C", "/usr/include", "linux", nullptr});
         },
         1, 1.05, 0.03},
        {"fork+exec /bin/true",
         [] {
             run({"/bin/true", nullptr});
         },
         20, 1.05, 0.03},
        {"openat+close, ordinary file", [] { close(open("/etc/hostname", O_RDONLY)); }, 5000, 1.3,
         0},
        {"kill(self, 0)", [&] { kill(self, 0); }, 10000, 1.5, 0},
        {"open /proc/<pid>/root/... (event)",
         [&] {
             int fd = open(procpath.c_str(), O_RDONLY);
             if (fd >= 0)
                 close(fd);
         },
         2000, 1.3, 0},
    };

    // Attaches one phase; returns what detaches it.
    auto enter = [&](Phase p) -> std::function<void()> {
        switch (p) {
        case kFloor: {
            auto links = podguard::attach_syscall_tracepoints(
                *tracepoints, floor->progs.floor_tp_enter, floor->progs.floor_tp_exit);
            if (!links) {
                std::fprintf(stderr, "%s\n", links.error().message.c_str());
                std::exit(1);
            }
            auto held = std::make_shared<std::vector<podguard::SyscallLink>>(std::move(*links));
            return [held] { podguard::destroy_syscall_links(*held); };
        }
        case kFloorRaw: {
            bpf_link* a = bpf_program__attach(floor->progs.floor_sys_enter);
            bpf_link* b = bpf_program__attach(floor->progs.floor_sys_exit);
            if (!a || !b) {
                std::fprintf(stderr, "cannot attach the raw floor\n");
                std::exit(1);
            }
            return [a, b] {
                bpf_link__destroy(a);
                bpf_link__destroy(b);
            };
        }
        case kAgent: {
            auto agent =
                std::make_shared<bench::Agent>(bench::start_agent("tenants", {"--no-metrics"}));
            return [agent] { bench::stop_agent(*agent); };
        }
        case kAgentB: {
            auto agent = std::make_shared<bench::Agent>(
                bench::start_agent("tenants-b", {"--no-metrics"}, agent_b));
            return [agent] { bench::stop_agent(*agent); };
        }
        case kBpftrace: {
            auto b = std::make_shared<bench::Bpftrace>(bench::start_bpftrace(script));
            return [b] { bench::stop_bpftrace(*b); };
        }
        default:
            return [] {};
        }
    };

    std::vector<std::array<std::vector<double>, kPhases>> ns(ops.size());
    for (const auto& op : ops) // warm-up: page cache, binaries, sockets
        bench::best_ns_per_op(op.run, op.iterations / 10 + 1, 1,
                              bench::process_and_children_cpu_ns);
    // Rounds rotate the order of the phases, so that none always runs first
    // (cold caches) or right after the agent stopped.
    for (int round = 0; round < rounds; ++round) {
        for (int k = 0; k < phases; ++k) {
            Phase p = Phase((k + round) % phases);
            auto leave = enter(p);
            for (size_t i = 0; i < ops.size(); ++i)
                ns[i][p].push_back(bench::best_ns_per_op(ops[i].run, ops[i].iterations, kBestOf,
                                                         bench::process_and_children_cpu_ns));
            leave();
            std::fprintf(stderr, "round %d phase %d done\n", round + 1, int(p));
        }
    }
    floor_bpf__destroy(floor);
    kill(target, SIGKILL);
    waitpid(target, nullptr, 0);

    std::printf(
        "\nCPU time per operation (this process, its threads and its waited-for children), best\n"
        "of %d runs in each of %d rounds; ratios: median over the rounds of (phase / the same\n"
        "round's detached), agent with [min-max]. floor: empty programs on the agent's %zu\n"
        "syscall tracepoints; raw floor: empty programs on raw sys_enter/sys_exit; bpftrace:\n"
        "bpftrace on the same tracepoints (bench/bench_bpftrace.h).\n\n",
        kBestOf, rounds, tracepoints->size());
    std::printf("%-34s %10s %7s %9s %22s %9s  %s\n", "operation", "detached", "floor", "raw floor",
                "agent", "bpftrace", "target");
    if (phases == kPhases)
        std::printf("(agent B, last column: %s)\n", agent_b);
    for (size_t i = 0; i < ops.size(); ++i) {
        const auto& d = ns[i][kDetached];
        auto fl = bench::ratio(ns[i][kFloor], d), raw = bench::ratio(ns[i][kFloorRaw], d),
             ag = bench::ratio(ns[i][kAgent], d), bt = bench::ratio(ns[i][kBpftrace], d);
        const Op& op = ops[i];
        // Unwatched work: within over_floor of the floor; real work: at most
        // `ratio`, or floor + over_floor where the floor is higher; watched
        // calls: at most `ratio`. Every row: at or below bpftrace.
        double limit = op.ratio == 0       ? fl.median * (1 + op.over_floor)
                       : op.over_floor > 0 ? std::max(op.ratio, fl.median + op.over_floor)
                                           : op.ratio;
        char target_text[64];
        std::snprintf(target_text, sizeof target_text, "<= %.3fx %s", limit,
                      op.ratio == 0       ? "(floor+5%)"
                      : op.over_floor > 0 ? "(1.05x|floor+3%)"
                                          : "");
        bool ok = ag.median <= limit, below_bt = ag.median <= bt.median;
        std::printf("%-34s %8.0fns %6.3fx %8.3fx %7.3fx [%.3f-%.3f] %8.3fx  %s %s%s\n", op.name,
                    bench::median(d), fl.median, raw.median, ag.median, ag.low, ag.high, bt.median,
                    target_text, ok ? "ok" : "OVER", below_bt ? "" : " (above bpftrace)");
        if (phases == kPhases) {
            auto b = bench::ratio(ns[i][kAgentB], d);
            std::printf("%-34s %48s agent B %.3fx [%.3f-%.3f]\n", "", "", b.median, b.low, b.high);
        }
    }
    return 0;
}

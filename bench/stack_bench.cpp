// What `podguard run --stacks` adds to each event: the CPU time of a watched
// syscall that produces an event (open of another process' /proc/<pid>/environ)
// with the agent running without and with --stacks, measured in the calling
// thread (the BPF programs run there) and given as a ratio, and the
// pipeline's cost of reading and symbolizing the stacks (the agent's own
// CPU time per event).
//   ./build/bench/podguard_bench_stack [iterations]
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "bench_agent.h"
#include "bench_timing.h"

namespace {

namespace bench = podguard::bench;

// utime + stime of a process, in ns.
double process_cpu_ns(pid_t pid) {
    FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
    if (!f)
        return 0;
    char buf[1024] = {};
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    std::string s(buf, n);
    size_t at = s.rfind(')'); // comm may hold spaces
    unsigned long long utime = 0, stime = 0;
    // Fields after comm start with state (3rd); utime and stime are 14th and 15th.
    if (at == std::string::npos ||
        std::sscanf(s.c_str() + at + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                    &utime, &stime) != 2)
        return 0;
    return double(utime + stime) * 1e9 / double(sysconf(_SC_CLK_TCK));
}

} // namespace

int main(int argc, char** argv) {
    const int iterations = argc > 1 ? std::atoi(argv[1]) : 20000;
    // The target: another process, so that every open is an event.
    pid_t target = fork();
    if (target == 0) {
        for (;;)
            pause();
    }
    const std::string path = "/proc/" + std::to_string(target) + "/environ";
    auto op = [&] {
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            close(fd);
    };
    std::printf("open+close of %s, %d per round, best of 5 rounds (thread CPU time)\n",
                path.c_str(), iterations);
    const double bare = bench::best_cpu_ns_per_op(op, iterations);
    const double events = iterations / 10 + 5.0 * iterations;
    bench::Agent plain = bench::start_agent("stack", {"--no-metrics"});
    double cpu0 = process_cpu_ns(plain.pid);
    const double without = bench::best_cpu_ns_per_op(op, iterations);
    usleep(300000); // the pipeline drains
    const double agent_without = (process_cpu_ns(plain.pid) - cpu0) / events;
    bench::stop_agent(plain);
    bench::Agent stacks = bench::start_agent("stack", {"--no-metrics", "--stacks"});
    cpu0 = process_cpu_ns(stacks.pid);
    const double with = bench::best_cpu_ns_per_op(op, iterations);
    usleep(300000);
    const double agent_with = (process_cpu_ns(stacks.pid) - cpu0) / events;
    bench::stop_agent(stacks);
    kill(target, SIGKILL);
    waitpid(target, nullptr, 0);

    std::printf("\n%-44s %12s\n", "", "ns/event");
    std::printf("%-44s %12.0f\n", "no agent", bare);
    std::printf("%-44s %12.0f\n", "agent", without);
    std::printf("%-44s %12.0f\n", "agent --stacks", with);
    std::printf("%-44s %12.0f\n", "--stacks adds (in the syscall)", with - without);
    std::printf("%-44s %12.2fx\n", "agent --stacks / agent (syscall cost)", with / without);
    std::printf("%-44s %12.2fx\n", "(agent --stacks - bare) / (agent - bare)",
                (with - bare) / std::max(1.0, without - bare));
    std::printf("%-44s %12.0f\n", "agent process CPU per event", agent_without);
    std::printf("%-44s %12.0f\n", "agent process CPU per event, --stacks", agent_with);
    std::printf("%-44s %12.2fx\n", "agent process: --stacks / without",
                agent_with / std::max(1.0, agent_without));
    return 0;
}

// How many events per second the agent delivers without losing one: end to
// end from one generator thread, and the pipeline's capacity on a pre-filled
// ring buffer. What the agent costs each syscall is podguard_bench_tenants
// (bench/tenant_bench.cpp).
#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <memory>
#include <netinet/in.h>
#include <regex>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "bench_agent.h"
#include "bench_drain.h"
#include "bench_timing.h"

namespace {

namespace bench = podguard::bench;

using Clock = std::chrono::steady_clock;

using bench::Agent;
using bench::stop_agent;
using bench::summary_number;

// With a metrics endpoint on a free port unless the caller names one.
Agent start_agent(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = extra;
    bool metrics = false;
    for (const auto& e : extra)
        metrics = metrics || e.rfind("--metrics-address", 0) == 0;
    if (!metrics)
        args.push_back("--metrics-address=127.0.0.1:0");
    return bench::start_agent("overhead", args);
}

} // namespace

int main() {
    if (geteuid() != 0) {
        fprintf(stderr, "overhead_bench needs root\n");
        return 1;
    }
    pid_t target = bench::spawn_sleeper();
    // End to end: kill(target, 0) from one thread is one event each. Offered
    // load rises until the kernel reports an undelivered event or the
    // generator cannot offer more.
    printf("\nend to end (one generator thread on one of the two cores)\n");
    printf("%-16s %14s %14s %14s\n", "offered ev/s", "generated", "delivered", "undelivered");
    double best_rate = 0;
    for (int offered : {100000, 250000, 500000, 0}) {
        Agent a = start_agent({"--ringbuf-size=64M"});
        uint64_t sent = 0;
        const double seconds = 2.0;
        auto t0 = Clock::now();
        while (true) {
            double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
            if (elapsed >= seconds)
                break;
            if (offered && sent >= uint64_t(elapsed * offered)) {
                std::this_thread::yield();
                continue;
            }
            for (int i = 0; i < 64; ++i)
                kill(target, 0);
            sent += 64;
        }
        double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
        usleep(300000);
        std::string alog = stop_agent(a);
        uint64_t read = summary_number(alog, "records read");
        uint64_t lost = summary_number(alog, "not delivered by the kernel");
        double rate = sent / elapsed;
        printf("%-16s %14lu %14lu %14lu   (%.0f ev/s)\n",
               offered ? std::to_string(offered).c_str() : "max", (unsigned long)sent,
               (unsigned long)read, (unsigned long)lost, rate);
        if (lost == 0 && rate > best_rate)
            best_rate = rate;
    }
    printf("highest end-to-end rate with zero undelivered events: %.0f ev/s (generator-bound)\n",
           best_rate);

    bench::Drain d = bench::drain_rate("overhead", target, 500000, {"--ringbuf-size=256M"});
    double drain = d.events / d.seconds;
    printf(
        "\npipeline capacity (ring buffer pre-filled with %lu events, agent continued and timed):\n"
        "  %lu events read in %.3f s = %.0f ev/s, %lu undelivered (target >= 500000 with zero) "
        "%s\n",
        (unsigned long)500000, (unsigned long)d.events, d.seconds, drain, (unsigned long)d.lost,
        drain >= 500000 && d.lost == 0 ? "ok" : "UNDER");
    kill(target, SIGKILL);
    waitpid(target, nullptr, 0);
    return 0;
}

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
#include "bench_timing.h"

namespace {

namespace bench = podguard::bench;

using Clock = std::chrono::steady_clock;

// GET /metrics from the agent and sum podguard_events_total for one kind.
// A plain socket rather than metadata::HttpClient: the drain below is timed by
// these scrapes, and the client's per-request latency was counted as the
// agent's (the same run read 355k instead of 620k events/s through it).
double events_counted(int port, const std::string& kind) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    const std::string req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, req.data(), req.size()) != ssize_t(req.size())) {
        close(fd);
        return -1;
    }
    std::string body;
    char buf[65536];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
        body.append(buf, n);
    close(fd);
    double total = 0;
    std::istringstream lines(body);
    const std::string want = "kind=\"" + kind + "\"";
    for (std::string line; std::getline(lines, line);)
        if (line.rfind("podguard_events_total{", 0) == 0 && line.find(want) != std::string::npos)
            total += std::stod(line.substr(line.rfind(' ') + 1));
    return total;
}

int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    return ntohs(addr.sin_port);
}

using bench::Agent;
using bench::stop_agent;

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

uint64_t summary_number(const std::string& log, const std::string& label) {
    std::smatch m;
    std::regex re("(\\d+) " + label);
    return std::regex_search(log, m, re) ? std::stoull(m[1]) : UINT64_MAX;
}

pid_t spawn_sleeper() {
    pid_t p = fork();
    if (p == 0) {
        signal(SIGHUP, SIG_IGN);
        pause();
        _exit(0);
    }
    return p;
}

// Events the pipeline reads per second when it never waits for the kernel:
// the ring buffer is filled while the agent is stopped (SIGSTOP), then the
// agent is continued and timed until its metrics count them all. This is the
// consumer's capacity (decode, enrich, policy, JSON to /dev/null, metrics);
// an end-to-end loop on this machine is bounded by the generator instead.
struct Drain {
    uint64_t events = 0;
    double seconds = 0;
    uint64_t lost = 0;
};

Drain drain_rate(pid_t target, uint64_t events) {
    const int port = free_port();
    // Every act a record: this measures what the consumer drains, so neither
    // aggregation nor the per-source shares may thin the input.
    Agent a = start_agent({"--ringbuf-size=256M", "--aggregate-window=0", "--source-rate=0",
                           "--source-priority-rate=0",
                           "--metrics-address=127.0.0.1:" + std::to_string(port)});
    Drain d;
    double before = events_counted(port, "signal");
    kill(a.pid, SIGSTOP);
    for (uint64_t i = 0; i < events; ++i)
        kill(target, 0);
    auto t0 = Clock::now();
    kill(a.pid, SIGCONT);
    double seen = before;
    while (seen - before < double(events)) {
        usleep(10000);
        seen = events_counted(port, "signal");
        if (std::chrono::duration<double>(Clock::now() - t0).count() > 120)
            break;
    }
    d.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    d.events = uint64_t(seen - before);
    std::string log = stop_agent(a);
    d.lost = summary_number(log, "not delivered by the kernel");
    return d;
}

} // namespace

int main() {
    if (geteuid() != 0) {
        fprintf(stderr, "overhead_bench needs root\n");
        return 1;
    }
    pid_t target = spawn_sleeper();
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

    Drain d = drain_rate(target, 500000);
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

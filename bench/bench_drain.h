// The "drain measure": how many events per second the agent's pipeline takes
// out of the ring buffer when it never waits for the kernel. The ring is
// filled with real acts (kill(target, 0), one event each) while the agent is
// stopped (SIGSTOP); then it is continued and timed until it has counted (and,
// where asked, stored) them all.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "bench_agent.h"

namespace podguard::bench {

// GET /metrics from the agent and sum podguard_events_total for one kind.
// A plain socket rather than metadata::HttpClient: the drain is timed by
// these scrapes, and the client's per-request latency was counted as the
// agent's (the same run read 355k instead of 620k events/s through it).
inline double events_counted(int port, const std::string& kind) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
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
        body.append(buf, static_cast<size_t>(n));
    close(fd);
    double total = 0;
    std::istringstream lines(body);
    const std::string want = "kind=\"" + kind + "\"";
    for (std::string line; std::getline(lines, line);)
        if (line.rfind("podguard_events_total{", 0) == 0 && line.find(want) != std::string::npos)
            total += std::stod(line.substr(line.rfind(' ') + 1));
    return total;
}

inline int free_port() {
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

inline uint64_t summary_number(const std::string& log, const std::string& label) {
    std::smatch m;
    std::regex re("(\\d+) " + label);
    return std::regex_search(log, m, re) ? std::stoull(m[1]) : UINT64_MAX;
}

inline pid_t spawn_sleeper() {
    pid_t p = fork();
    if (p == 0) {
        signal(SIGHUP, SIG_IGN);
        pause();
        _exit(0);
    }
    return p;
}

struct Drain {
    uint64_t events = 0; // counted by the agent's metrics
    uint64_t done = 0;   // as `done` last reported (the metrics count without one)
    double seconds = 0;
    uint64_t lost = 0; // not delivered by the kernel
    std::string log;
};

// Fills the ring with `events` kill(target, 0) while the agent is stopped,
// continues it and times it until its metrics count them all and `done`
// (when given: e.g. rows committed to the store) reaches `events` too.
// Every act a record: neither aggregation nor the per-source shares thin the
// input; `extra` adds the sinks under test.
inline Drain drain_rate(const std::string& tag, pid_t target, uint64_t events,
                        std::vector<std::string> extra,
                        const std::function<uint64_t()>& done = {}) {
    using Clock = std::chrono::steady_clock;
    const int port = free_port();
    std::vector<std::string> args = {"--aggregate-window=0", "--source-rate=0",
                                     "--source-priority-rate=0",
                                     "--metrics-address=127.0.0.1:" + std::to_string(port)};
    bool ring = false;
    for (const auto& e : extra)
        ring = ring || e.rfind("--ringbuf-size", 0) == 0;
    if (!ring)
        args.push_back("--ringbuf-size=512M");
    args.insert(args.end(), extra.begin(), extra.end());
    Agent a = start_agent(tag, args);
    Drain d;
    const double before = events_counted(port, "signal");
    kill(a.pid, SIGSTOP);
    for (uint64_t i = 0; i < events; ++i)
        kill(target, 0);
    const auto t0 = Clock::now();
    kill(a.pid, SIGCONT);
    double seen = before;
    uint64_t finished = 0;
    for (;;) {
        usleep(10000);
        seen = events_counted(port, "signal");
        finished = done ? done() : uint64_t(seen - before);
        if (seen - before >= double(events) && finished >= events)
            break;
        if (std::chrono::duration<double>(Clock::now() - t0).count() > 180)
            break;
    }
    d.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    d.events = uint64_t(seen - before);
    d.done = finished;
    d.log = stop_agent(a);
    d.lost = summary_number(d.log, "not delivered by the kernel");
    return d;
}

} // namespace podguard::bench

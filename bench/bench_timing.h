// Timing for the benchmarks: CPU time of the calling thread (user + kernel),
// where the BPF programs of its syscalls run. Time the thread spends
// preempted by the agent or anything else on a shared two-core machine is not
// the cost being measured, so wall time is not used.
#pragma once

#include <algorithm>
#include <ctime>
#include <functional>
#include <sys/resource.h>
#include <vector>

namespace podguard::bench {

inline double thread_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

// One round of `iterations` calls: ns per call.
inline double cpu_ns_per_op(const std::function<void()>& op, int iterations) {
    double t0 = thread_cpu_ns();
    for (int i = 0; i < iterations; ++i)
        op();
    return (thread_cpu_ns() - t0) / iterations;
}

// A warm-up, then the best of `rounds`: interference only ever adds.
inline double best_cpu_ns_per_op(const std::function<void()>& op, int iterations, int rounds = 5) {
    for (int i = 0; i < iterations / 10; ++i)
        op();
    double best = 1e18;
    for (int round = 0; round < rounds; ++round)
        best = std::min(best, cpu_ns_per_op(op, iterations));
    return best;
}

// CPU time of this whole process (all its threads) and of its children that
// were waited for: work split over a server thread or child processes (an
// echo, tar, fork+exec) is charged in full.
inline double process_and_children_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    rusage ru{};
    getrusage(RUSAGE_CHILDREN, &ru);
    auto tv = [](const timeval& t) { return double(t.tv_sec) * 1e9 + double(t.tv_usec) * 1e3; };
    return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec) + tv(ru.ru_utime) + tv(ru.ru_stime);
}

// As best_cpu_ns_per_op, on another clock.
inline double best_ns_per_op(const std::function<void()>& op, int iterations, int rounds,
                             double (*clock)()) {
    for (int i = 0; i < iterations / 10; ++i)
        op();
    double best = 1e18;
    for (int round = 0; round < rounds; ++round) {
        double t0 = clock();
        for (int i = 0; i < iterations; ++i)
            op();
        best = std::min(best, (clock() - t0) / iterations);
    }
    return best;
}

inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Per-round ratios against the same round's reference time: drift over the
// run (page cache, another tenant of the VM) moves both sides of a ratio.
struct Ratio {
    double median, low, high;
};

inline Ratio ratio(const std::vector<double>& phase, const std::vector<double>& reference) {
    std::vector<double> r;
    for (size_t i = 0; i < phase.size(); ++i)
        r.push_back(phase[i] / reference[i]);
    return {median(r), *std::min_element(r.begin(), r.end()),
            *std::max_element(r.begin(), r.end())};
}

} // namespace podguard::bench

// Timing for the benchmarks: CPU time of the calling thread (user + kernel),
// where the BPF programs of its syscalls run. Time the thread spends
// preempted by the agent or anything else on a shared two-core machine is not
// the cost being measured, so wall time is not used.
#pragma once

#include <algorithm>
#include <ctime>
#include <functional>

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

} // namespace podguard::bench

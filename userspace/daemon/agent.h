// `podguard run`: assembles loader, process cache, pipeline and sinks, and
// runs until asked to stop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "loader/bpf_objects.h"
#include "metadata/setup.h"
#include "output/rotating_file.h"

namespace podguard {

struct AgentOptions {
    std::string events_path = "-";
    // A file (not stdout) is rotated at this size into FILE.1..FILE.N.
    RotationOptions events_rotation{100ull << 20, 5};
    std::string ready_file; // created once every hook is attached
    uint32_t ringbuf_bytes = 16u << 20;
    FloodOptions flood; // aggregation, priority ring, per-cgroup fairness
    bool report_self = false;
    // Kernel-wide BPF run-time statistics (podguard_bpf_program_run*): every
    // BPF program on the node then reads the clock twice per run.
    bool bpf_stats = false;
    bool lifecycle_events = false;
    // The user and kernel stack of each event's source (symbolized).
    bool stacks = false;
    std::string metrics_address = "127.0.0.1:9417"; // empty: no metrics endpoint
    std::string metrics_pod_labels = "container";   // off | namespace | pod | container
    size_t metrics_max_pod_series = 2000;
    MetadataOptions metadata;
    std::vector<std::string> policy_paths; // empty: the embedded default policy
    // PodGuardPolicy objects from the Kubernetes API (when one is configured).
    bool api_policies = true;
    std::string store_path = "/var/lib/podguard/events.db";           // empty: no store
    uint64_t store_max_bytes = 1ull << 30;                            // 0: no bound
    std::chrono::seconds store_max_age = std::chrono::hours(24 * 30); // 0: no bound
    std::string unidentified = "closed"; // posture for containers not identified yet
    // Pin maps and links under /sys/fs/bpf/podguard: enforcement outlives
    // the daemon and the next one adopts it (fail-closed).
    bool pin = false;
    bool fail_open = false; // with pin: pin maps only, links die with the daemon
};

// Returns the process exit code. Errors are logged as one line each.
// reload, when set, is cleared and the policy reloaded (SIGHUP).
int run_agent(const AgentOptions& options, const std::atomic<bool>& stop,
              std::atomic<bool>* reload = nullptr);

} // namespace podguard

// Owns the loaded BPF object: load with this daemon's settings, attach every
// hook, expose the maps the daemon reads and writes. Destruction detaches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "loader/kernel_probe.h"

struct podguard_bpf; // bpftool skeleton

namespace podguard {

inline constexpr const char* kDefaultPinDir = "/sys/fs/bpf/podguard";

// The maps `run --pin` pins, from the skeleton: all but per-CPU scratch space
// and the stack map.
std::vector<std::string> pinned_map_names();

struct LoadOptions {
    uint32_t ringbuf_bytes = 16u << 20; // power of two
    bool report_self = false;           // events of a process acting on itself
    uint32_t agent_tgid = 0;            // this daemon: never reported
    // What a `block` decision does (kernel_probe decides what works here).
    // Lsm also loads the BPF LSM programs, which only load where the probe
    // found the BPF LSM working.
    EnforcementMode enforcement = EnforcementMode::Monitor;
    // Non-empty: maps are pinned in this bpffs directory, and a map pinned
    // there by an earlier daemon is reused (policy, process cache and ring
    // buffer carry over) when its definition still matches.
    std::string pin_dir;
    // With pin_dir: every attached program's link is pinned too, so the hooks
    // and the policy keep working when the daemon dies (fail-closed). A new
    // daemon attaches its links first and only then drops the pinned ones:
    // no gap. false (fail-open): links live only as long as the daemon's file
    // descriptors, so the kernel detaches them however the daemon ends.
    bool pin_links = true;
    // The source's user and kernel stack on every event (bpf/stack.bpf.h).
    bool stacks = false;
};

// File descriptors of the policy maps (bpf/enforce.bpf.h).
struct PolicyMapFds {
    int config = -1;  // pg_enforce_config
    int gens = -1;    // pg_policy_gens
    int ops = -1;     // pg_policy_ops
    int rules = -1;   // pg_policy_rules
    int cgroups = -1; // pg_cgroups
};

struct ProgramInfo {
    std::string name;
    int fd = -1;
};

class BpfObjects {
  public:
    static Result<std::unique_ptr<BpfObjects>> load(const LoadOptions& options);
    ~BpfObjects();
    BpfObjects(const BpfObjects&) = delete;
    BpfObjects& operator=(const BpfObjects&) = delete;

    Status attach();

    int events_fd() const;
    int lost_fd() const;
    int pids_fd() const;
    int procs_fd() const;
    int inflight_fd() const;
    int stacks_fd() const;      // pg_stacks
    int guard_stats_fd() const; // pg_guard_stats
    PolicyMapFds policy_fds() const;
    uint32_t ringbuf_bytes() const { return ringbuf_bytes_; }
    std::vector<ProgramInfo> programs() const;

  private:
    explicit BpfObjects(struct ::podguard_bpf* skel, const LoadOptions& options)
        : skel_(skel), options_(options), ringbuf_bytes_(options.ringbuf_bytes) {}
    Status fill_proc_names();
    Status set_enforcement_mode(EnforcementMode mode);
    Status pin_after_attach();

    struct ::podguard_bpf* skel_;
    LoadOptions options_;
    uint32_t ringbuf_bytes_;
    std::vector<std::string> fresh_pins_; // maps to pin (no compatible pin existed)
};

// Unpins everything under pin_dir (links detach, maps go once unused) and
// removes the directory: what an uninstall does. Missing dir = success.
Status remove_pinned_state(const std::string& pin_dir);

// Route libbpf's messages to spdlog (debug unless they are warnings).
void route_libbpf_logs_to_spdlog();

} // namespace podguard

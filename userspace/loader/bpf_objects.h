// Owns the loaded BPF object: load with this daemon's settings, attach every
// hook, expose the maps the daemon reads and writes. Destruction detaches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "loader/kernel_probe.h"
#include "loader/syscall_hooks.h"

struct podguard_bpf; // bpftool skeleton

namespace podguard {

inline constexpr const char* kDefaultPinDir = "/sys/fs/bpf/podguard";

// Flood control (bpf/transport.bpf.h): aggregation of identical acts, the
// priority ring and per-cgroup fairness.
struct FloodOptions {
    uint64_t window_ns = 1000000000ull; // 0: no aggregation
    bool by_container = false;          // a tuple's source is the container, not the process
    uint32_t table_entries = 16384;     // tuples kept (LRU)
    uint32_t prio_ringbuf_bytes = 4u << 20;
    // Records per second and burst each source cgroup may send through the
    // priority ring and the shared ring; 0: no limit. Well below what the
    // daemon drains with the store on, so that several flooding containers
    // still leave room for everyone else.
    uint32_t prio_rate = 2000;
    uint32_t prio_burst = 4000;
    uint32_t rate = 2000;
    uint32_t burst = 4000;
};
// The maps `run --pin` pins, from the skeleton: all but per-CPU scratch space
// and the stack map.
std::vector<std::string> pinned_map_names();

struct LoadOptions {
    uint32_t ringbuf_bytes = 16u << 20; // power of two
    FloodOptions flood;
    bool report_self = false; // events of a process acting on itself
    uint32_t agent_tgid = 0;  // this daemon: never reported
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
    int prio_events_fd() const; // pg_events_prio
    int lost_fd() const;
    int flood_fd() const; // pg_flood (per-CPU pg_flood_counters)
    int fair_fd() const;  // pg_fair (cgroup id -> pg_fair_bucket)
    // Sends the summaries of tuples whose window closed (force: of every
    // tuple with acts pending). Runs the pg_flush program; thread-safe
    // against the hooks, not against another flush.
    Status flush_aggregates(bool force);
    // Detaches this daemon's hooks (pinned links stay): after it, a forced
    // flush leaves nothing pending.
    void detach();
    int pids_fd() const;
    int procs_fd() const;
    int inflight_fd() const;
    int stacks_fd() const;      // pg_stacks
    int guard_stats_fd() const; // pg_guard_stats
    PolicyMapFds policy_fds() const;
    uint32_t ringbuf_bytes() const { return ringbuf_bytes_; }
    uint32_t prio_ringbuf_bytes() const { return options_.flood.prio_ringbuf_bytes; }
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
    std::vector<std::string> fresh_pins_;    // maps to pin (no compatible pin existed)
    std::vector<SyscallLink> syscall_links_; // pg_sys_enter/exit, one per tracepoint
};

// Unpins everything under pin_dir (links detach, maps go once unused) and
// removes the directory: what an uninstall does. Missing dir = success.
Status remove_pinned_state(const std::string& pin_dir);

// Route libbpf's messages to spdlog (debug unless they are warnings).
void route_libbpf_logs_to_spdlog();

} // namespace podguard

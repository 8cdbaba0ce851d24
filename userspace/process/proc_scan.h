// Reading what /proc says about processes that existed before the agent
// started. After start, the lifecycle events keep everything current.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "events/event.h"

namespace podguard {

struct ProcSnapshot {
    uint32_t tgid = 0;
    uint32_t tid = 0;
    std::vector<uint32_t> nspids; // NSpid: host first, innermost last
    uint32_t pidns = 0;           // innermost pid namespace inode
    uint32_t mntns = 0;
    uint32_t uid = 0;
    uint32_t euid = 0;
    uint32_t ppid = 0;
    uint64_t start_ns = 0; // since boot
    std::string comm;
    std::string exe;
    std::string args;        // argv joined by spaces
    std::string cgroup_path; // cgroup v2 path ("0::" line)
};

// The snapshot as the party of an event would name it (cgroup_id resolved by
// the caller from cgroup_path): what the process table and the kernel's
// process cache are seeded with.
Party party_of(const ProcSnapshot& snapshot, uint64_t cgroup_id);

// One entry per thread when with_threads, else one per process.
std::vector<ProcSnapshot> scan_processes(bool with_threads);
Result<ProcSnapshot> snapshot_task(uint32_t tgid, uint32_t tid);

uint32_t namespace_inode(const std::string& ns_link_path); // 0 if unreadable
uint32_t host_pidns_inode();
// The host's mount namespace: pid 1's (with the host's pid namespace), else ours.
uint32_t host_mntns_inode();

} // namespace podguard

// User space's view of every process, kept by the lifecycle events and seeded
// from /proc. Exited processes linger so that late events, and the ancestry
// of a process whose parents are gone, can still be told.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "events/event.h"
#include "process/proc_scan.h"

namespace podguard {

struct ProcessRecord {
    uint32_t pid = 0;
    uint32_t ppid = 0;
    uint32_t ns_pid = 0;
    uint32_t pidns = 0;
    uint32_t mntns = 0;
    uint32_t uid = 0;
    uint64_t cgroup_id = 0;
    uint64_t start_ns = 0;  // boot-time ns
    uint64_t exited_ns = 0; // boot-time ns, 0 while alive
    std::string comm;
    std::string exe;
    std::string exe_before_exec; // the image the last exec replaced
    std::string args;
};

// A record as an event's party: the target of an act the kernel could not
// resolve but the table knows.
Party party_of(const ProcessRecord& record);

class ProcessTable {
  public:
    void seed(const std::vector<ProcSnapshot>& snapshots,
              const std::unordered_map<std::string, uint64_t>& cgroup_ids);
    // The process as a lifecycle event's source names it.
    void on_fork(const Party& process);
    void on_exec(const Party& process, std::string filename, std::string args);
    void on_exit(const Party& process, uint64_t now_boot_ns);
    // Forgets processes that exited more than keep_ns ago.
    void expire(uint64_t now_boot_ns, uint64_t keep_ns);

    const ProcessRecord* find(uint32_t pid) const;
    const ProcessRecord* find_in_namespace(uint32_t pidns, uint32_t ns_pid) const;
    // pid, its parent, ... up to (and including) the first process with
    // stop_at_cgroup differing, or init. Bounded by max_depth.
    std::vector<const ProcessRecord*> ancestry(uint32_t pid, size_t max_depth) const;
    size_t size() const { return by_pid_.size(); }

  private:
    ProcessRecord& upsert(const Party& process);
    static uint64_t ns_key(uint32_t pidns, uint32_t ns_pid) {
        return (uint64_t(pidns) << 32) | ns_pid;
    }

    std::unordered_map<uint32_t, ProcessRecord> by_pid_;
    std::unordered_map<uint64_t, uint32_t> by_ns_pid_;
};

} // namespace podguard

// Seeds the in-kernel process cache (pg_pids, pg_procs) with the processes
// that existed before the lifecycle hooks were attached.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "process/proc_scan.h"

namespace podguard {

struct SeedStats {
    size_t threads = 0;
    size_t processes = 0;
    size_t stale_removed = 0; // exited while we were seeding
};

// Entries the hooks already wrote are newer than /proc and are kept.
Result<SeedStats> seed_kernel_cache(int pids_fd, int procs_fd,
                                    const std::vector<ProcSnapshot>& threads,
                                    const std::unordered_map<std::string, uint64_t>& cgroup_ids);

} // namespace podguard

// cgroup v2 id <-> path on this machine. The id is what the kernel's
// bpf_get_current_cgroup_id() returns (the cgroup2 directory's kernfs node id),
// so every event carries one; this turns it into a path and a container identity.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/result.h"
#include "container/cgroup_path.h"

namespace podguard {

// The cgroup2 mount point from a mountinfo text: /sys/fs/cgroup on a pure v2
// machine, /sys/fs/cgroup/unified on a hybrid one.
Result<std::string> find_cgroup2_root_in(std::string_view mountinfo);
// Same, from /proc/self/mountinfo.
Result<std::string> find_cgroup2_root();

class CgroupResolver {
  public:
    struct Stats {
        uint64_t hits = 0;
        uint64_t misses = 0;    // lookups not in the cache
        uint64_t rescans = 0;   // tree walks done
        uint64_t throttled = 0; // misses that did not rescan because one ran too recently
        uint64_t by_handle = 0; // misses resolved from the id alone, without a walk
        size_t known = 0;       // cgroups in the cache (live and removed)
        size_t removed = 0;     // of which no longer exist
    };

    // cgroup2_root: an absolute directory where cgroup2 is mounted.
    explicit CgroupResolver(std::string cgroup2_root);

    // The id bpf_get_current_cgroup_id() returns for tasks in absolute_dir.
    static Result<uint64_t> cgroup_id_of(const std::string& absolute_dir);
    // /proc/<pid>/cgroup's "0::" path, relative to the cgroup2 root.
    static Result<std::string> cgroup_path_of_pid(int pid);

    // Path relative to the root ("/" for the root itself). A miss rescans the
    // tree, at most once per min_rescan_interval. Removed cgroups keep resolving
    // (up to max_removed_retained of them) so an exited container's late events do.
    std::optional<std::string> path_of(uint64_t id);
    // path_of + parse_cgroup_path, parsed once per cgroup. nullopt: host or unknown.
    std::optional<CgroupIdentity> identity_of(uint64_t id);

    // Walks the tree now (rate limit ignored); returns the number of cgroups seen.
    Result<size_t> rescan();

    void set_min_rescan_interval(std::chrono::nanoseconds interval);
    void set_max_removed_retained(size_t count);
    const std::string& root() const { return root_; }
    Stats stats() const;

    static constexpr int kMaxDepth = 16;

  private:
    struct Entry {
        std::string path;
        std::optional<CgroupIdentity> identity;
        uint64_t seen_in_scan = 0;
        bool removed = false;
    };
    using Map = std::unordered_map<uint64_t, Entry>;

    // All take `lock` (on mu_) held and return with it held; the walk releases it meanwhile.
    const Entry* find_locked(uint64_t id, std::unique_lock<std::mutex>& lock);
    Result<size_t> rescan_with(std::unique_lock<std::mutex>& lock, bool only_if_due);
    bool rescan_due_locked() const;
    void merge_locked(std::vector<std::pair<uint64_t, std::string>>& found);

    const std::string root_;
    mutable std::mutex mu_; // guards everything below
    std::mutex scan_mu_;    // one walk at a time; lookups of known ids never wait for it
    Map entries_;
    std::deque<uint64_t> removed_order_; // oldest first, to bound what is kept
    uint64_t scan_generation_ = 0;
    std::chrono::steady_clock::time_point last_scan_{};
    bool scanned_ = false;
    std::chrono::nanoseconds min_rescan_interval_ = std::chrono::milliseconds(20);
    size_t max_removed_retained_ = 4096;
    Stats stats_;
};

} // namespace podguard

// Puts every container's cgroup into the kernel's policy maps as early as
// the daemon can: all that exist at start (a walk of the cgroup2 tree), and
// each new one as its directory appears (inotify on the tree), resolved from
// its path and named by the metadata providers as soon as they know it. The
// kernel does not depend on winning this race (bpf/enforce.bpf.h decides for
// a container not registered yet by the policy's posture); registration
// refines that decision to the container's own name, pod and labels.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/result.h"
#include "events/event.h"

namespace podguard {

class PolicyRuntime;

class CgroupRegistrar {
  public:
    // Fills a container party's name and pod from metadata (may do nothing).
    using Identify = std::function<void(Party&)>;

    struct Stats {
        uint64_t registered = 0;   // writes to the kernel map (new or refined)
        uint64_t containers = 0;   // container cgroups known now
        uint64_t unidentified = 0; // of which metadata does not name yet
        uint64_t scans = 0;
    };

    CgroupRegistrar(std::string cgroup2_root, PolicyRuntime& policy, Identify identify);
    ~CgroupRegistrar();
    CgroupRegistrar(const CgroupRegistrar&) = delete;
    CgroupRegistrar& operator=(const CgroupRegistrar&) = delete;

    // Walks the whole tree now and registers every container cgroup.
    size_t scan();
    // The watching thread: new cgroups at once, metadata refinements every
    // refresh interval, a full walk every rescan interval.
    Status start();
    void stop();
    Stats stats() const;

    std::chrono::milliseconds refresh_interval{200};
    std::chrono::milliseconds rescan_interval{10000};

  private:
    struct Entry {
        std::string path; // relative to the root
        bool container = false;
        bool identified = false;
        uint64_t generation = 0; // last walk that saw it
    };
    void run();
    void walk(const std::string& rel, int depth, uint64_t generation);
    void visit(const std::string& rel, uint64_t generation);
    void refresh();
    void drop_missing(uint64_t generation);
    void handle_inotify();

    const std::string root_;
    PolicyRuntime& policy_;
    Identify identify_;
    int inotify_fd_ = -1;
    int wake_fd_ = -1;
    std::thread thread_;
    std::atomic<bool> stop_{false};

    mutable std::mutex mu_; // everything below
    uint64_t generation_ = 0;
    std::unordered_map<int, std::string> watches_; // wd -> relative path
    std::unordered_map<uint64_t, Entry> entries_;  // cgroup id -> what is known
    Stats stats_;
};

} // namespace podguard

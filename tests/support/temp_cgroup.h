// A throwaway subtree of the real cgroup2 hierarchy for tests, and processes
// parked in it. Everything is undone by the destructor, also when a test fails:
// children are killed and reaped, then the directories removed deepest first.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"

namespace podguard::test {

struct CgroupChild {
    pid_t pid = -1;
    int output_fd = -1; // read end of what the child's task wrote (owned by the tree)
};

class TempCgroupTree {
  public:
    TempCgroupTree() = default;
    TempCgroupTree(const TempCgroupTree&) = delete;
    TempCgroupTree& operator=(const TempCgroupTree&) = delete;
    ~TempCgroupTree();

    // Creates <cgroup2 root>/podguard-test-<random>.
    Status create();
    const std::string& cgroup2_root() const { return root_; }
    // "/podguard-test-<random>": relative to the cgroup2 root, as /proc/<pid>/cgroup shows it.
    const std::string& top() const { return top_; }
    std::string absolute(const std::string& relative_to_root) const {
        return root_ + relative_to_root;
    }

    // Creates top()/<sub> level by level; returns the path relative to the cgroup2 root.
    Result<std::string> make(const std::string& sub);
    // rmdir of a path relative to the cgroup2 root (it must hold no process).
    Status remove(const std::string& relative_to_root);

    // Forks a child, moves it into the cgroup (relative to the root), then lets it
    // run task(fd) (async-signal-safe code only: the parent may have threads),
    // after which it sleeps until killed.
    Result<CgroupChild> spawn_child_in(const std::string& relative_to_root,
                                       std::function<void(int output_fd)> task = {});
    // SIGKILL + reap.
    void kill_child(pid_t pid);

  private:
    std::string root_;
    std::string top_;
    std::vector<std::string> dirs_; // relative, in creation order
    std::vector<CgroupChild> children_;
};

// Random lowercase ids shaped like a container id and like a Kubernetes pod UID.
std::string random_hex64();

} // namespace podguard::test

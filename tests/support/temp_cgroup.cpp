#include "support/temp_cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "container/cgroup_resolver.h"
#include "support/sandbox.h"

namespace podguard::test {
namespace {

bool write_all(int fd, const char* data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

} // namespace

std::string random_hex64() { return random_hex(64); }

TempCgroupTree::~TempCgroupTree() {
    for (const CgroupChild& c : children_) {
        if (c.pid > 0) {
            kill(c.pid, SIGKILL);
            waitpid(c.pid, nullptr, 0);
        }
        if (c.output_fd >= 0)
            close(c.output_fd);
    }
    // Deepest first. A just-reaped child's cgroup can stay busy for a moment.
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
        const std::string dir = root_ + *it;
        for (int attempt = 0; attempt < 100; ++attempt) {
            if (rmdir(dir.c_str()) == 0 || errno == ENOENT || errno != EBUSY)
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
}

Status TempCgroupTree::create() {
    Result<std::string> root = find_cgroup2_root();
    if (!root)
        return root.error();
    root_ = *root;
    top_ = "/podguard-test-" + random_hex(12);
    if (mkdir((root_ + top_).c_str(), 0755) != 0)
        return make_error("mkdir " + root_ + top_ + ": " + std::strerror(errno));
    dirs_.push_back(top_);
    return {};
}

Result<std::string> TempCgroupTree::make(const std::string& sub) {
    if (top_.empty())
        return make_error("TempCgroupTree::make before create()");
    std::string rel = top_;
    size_t pos = 0;
    while (pos < sub.size()) {
        size_t next = sub.find('/', pos);
        if (next == std::string::npos)
            next = sub.size();
        if (next > pos) {
            rel += "/" + sub.substr(pos, next - pos);
            if (std::find(dirs_.begin(), dirs_.end(), rel) == dirs_.end()) {
                if (mkdir((root_ + rel).c_str(), 0755) != 0)
                    return make_error("mkdir " + root_ + rel + ": " + std::strerror(errno));
                dirs_.push_back(rel);
            }
        }
        pos = next + 1;
    }
    return rel;
}

Status TempCgroupTree::remove(const std::string& rel) {
    if (rmdir((root_ + rel).c_str()) != 0)
        return make_error("rmdir " + root_ + rel + ": " + std::strerror(errno));
    dirs_.erase(std::remove(dirs_.begin(), dirs_.end(), rel), dirs_.end());
    return {};
}

Result<CgroupChild> TempCgroupTree::spawn_child_in(const std::string& rel,
                                                   std::function<void(int)> task) {
    int go[2], out[2];
    if (pipe2(go, O_CLOEXEC) != 0)
        return make_error(std::string("pipe: ") + std::strerror(errno));
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(go[0]);
        close(go[1]);
        return make_error(std::string("pipe: ") + std::strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        for (int fd : {go[0], go[1], out[0], out[1]})
            close(fd);
        return make_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        close(go[1]);
        close(out[0]);
        char byte;
        if (read(go[0], &byte, 1) != 1) // the parent died or gave up
            _exit(1);
        if (task)
            task(out[1]);
        for (;;)
            pause();
    }
    close(go[0]);
    close(out[1]);
    children_.push_back({pid, out[0]});

    const std::string procs = root_ + rel + "/cgroup.procs";
    const std::string pid_text = std::to_string(pid);
    int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    bool moved = fd >= 0 && write_all(fd, pid_text.data(), pid_text.size());
    const int move_errno = errno;
    if (fd >= 0)
        close(fd);
    if (moved)
        moved = write_all(go[1], "g", 1);
    close(go[1]); // without the go byte the child exits
    if (!moved) {
        kill_child(pid);
        return make_error("moving " + pid_text + " into " + procs + ": " +
                          std::strerror(move_errno));
    }
    return CgroupChild{pid, out[0]};
}

void TempCgroupTree::kill_child(pid_t pid) {
    for (CgroupChild& c : children_) {
        if (c.pid == pid) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
            c.pid = -1;
        }
    }
}

} // namespace podguard::test

#include "container/cgroup_resolver.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

namespace podguard {
namespace {

std::string errno_text() {
    return std::strerror(errno);
}

// mountinfo escapes blanks and backslashes in paths as \ooo.
std::string unescape_mountinfo(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' &&
            s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            out +=
                static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

// cgroupfs encodes a kernfs node id as an 8-byte handle (FILEID_KERNFS): exactly
// the id BPF sees, both ways (name_to_handle_at, open_by_handle_at).
struct KernfsHandle {
    struct file_handle fh;
    unsigned char bytes[sizeof(uint64_t)];
};
constexpr int kFileIdKernfs = 0xfe;

// st_ino is the same number on 64-bit kernels; it is the fallback.
std::optional<uint64_t> handle_id_at(int dirfd, const char* name) {
    KernfsHandle h{};
    h.fh.handle_bytes = sizeof(uint64_t);
    int mount_id = 0;
    if (name_to_handle_at(dirfd, name, &h.fh, &mount_id, 0) == 0 &&
        h.fh.handle_bytes == sizeof(uint64_t)) {
        uint64_t id = 0;
        std::memcpy(&id, h.fh.f_handle, sizeof id);
        return id;
    }
    struct stat st {};
    if (fstatat(dirfd, name, &st, 0) == 0)
        return static_cast<uint64_t>(st.st_ino);
    return std::nullopt;
}

// The path of one cgroup, below root, from its id alone: the id is a kernfs
// file handle, so the kernel opens the directory without a walk. Empty when
// the cgroup is gone (or handles are refused).
std::optional<std::string> path_by_handle(const std::string& root, uint64_t id) {
    int root_fd = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return std::nullopt;
    KernfsHandle h{};
    h.fh.handle_bytes = sizeof(uint64_t);
    h.fh.handle_type = kFileIdKernfs;
    std::memcpy(h.fh.f_handle, &id, sizeof id);
    int fd = open_by_handle_at(root_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(root_fd);
    if (fd < 0)
        return std::nullopt;
    char buf[4096];
    ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), buf, sizeof buf);
    close(fd);
    if (n <= 0 || size_t(n) >= sizeof buf)
        return std::nullopt;
    std::string full(buf, size_t(n));
    if (full == root)
        return std::string("/");
    if (full.size() <= root.size() || full.compare(0, root.size(), root) != 0 ||
        full[root.size()] != '/')
        return std::nullopt;
    return full.substr(root.size());
}

// Depth-first walk from dir_fd (owned); appends (id, path) of every cgroup below.
void walk(int dir_fd, std::string& path, int depth,
          std::vector<std::pair<uint64_t, std::string>>& out) {
    DIR* dir = fdopendir(dir_fd);
    if (!dir) {
        close(dir_fd);
        return;
    }
    while (const struct dirent* de = readdir(dir)) {
        if (de->d_type != DT_DIR || std::strcmp(de->d_name, ".") == 0 ||
            std::strcmp(de->d_name, "..") == 0)
            continue;
        // A cgroup removed mid-walk fails these calls; skipping it is right.
        std::optional<uint64_t> id = handle_id_at(dirfd(dir), de->d_name);
        if (!id)
            continue;
        const size_t parent_len = path.size();
        if (path.size() > 1)
            path += '/';
        path += de->d_name;
        out.emplace_back(*id, path);
        if (depth < CgroupResolver::kMaxDepth) {
            int child = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (child >= 0)
                walk(child, path, depth + 1, out);
        }
        path.resize(parent_len);
    }
    closedir(dir);
}

} // namespace

Result<std::string> find_cgroup2_root_in(std::string_view mountinfo) {
    std::istringstream in{std::string(mountinfo)};
    std::string line;
    while (std::getline(in, line)) {
        // id parent maj:min root mount_point options [optional...] - fstype source super_options
        std::istringstream fields(line);
        std::vector<std::string> f;
        for (std::string w; fields >> w;)
            f.push_back(std::move(w));
        size_t dash = 6;
        while (dash < f.size() && f[dash] != "-")
            ++dash;
        if (f.size() < 5 || dash + 1 >= f.size() || f[dash + 1] != "cgroup2")
            continue;
        // A bind mount of a sub-cgroup (root != "/") would give paths relative to it.
        if (f[3] == "/")
            return unescape_mountinfo(f[4]);
    }
    return make_error("no cgroup2 mount in mountinfo");
}

Result<std::string> find_cgroup2_root() {
    std::ifstream in("/proc/self/mountinfo");
    if (!in)
        return make_error("cannot read /proc/self/mountinfo: " + errno_text());
    std::stringstream text;
    text << in.rdbuf();
    return find_cgroup2_root_in(text.str());
}

CgroupResolver::CgroupResolver(std::string cgroup2_root) : root_(std::move(cgroup2_root)) {}

Result<uint64_t> CgroupResolver::cgroup_id_of(const std::string& absolute_dir) {
    std::optional<uint64_t> id = handle_id_at(AT_FDCWD, absolute_dir.c_str());
    if (!id)
        return make_error("cgroup id of " + absolute_dir + ": " + errno_text());
    return *id;
}

Result<std::string> CgroupResolver::cgroup_path_of_pid(int pid) {
    const std::string file = "/proc/" + std::to_string(pid) + "/cgroup";
    std::ifstream in(file);
    if (!in)
        return make_error("cannot read " + file + ": " + errno_text());
    for (std::string line; std::getline(in, line);) {
        if (!line.starts_with("0::"))
            continue;
        std::string path = line.substr(3);
        // The kernel marks the cgroup of a task that outlived its (removed) cgroup.
        constexpr std::string_view kDeleted = " (deleted)";
        if (path.ends_with(kDeleted))
            path.resize(path.size() - kDeleted.size());
        return path;
    }
    return make_error(file + " has no cgroup2 (0::) line");
}

const CgroupResolver::Entry* CgroupResolver::find_locked(uint64_t id,
                                                         std::unique_lock<std::mutex>& lock) {
    if (auto it = entries_.find(id); it != entries_.end()) {
        ++stats_.hits;
        return &it->second;
    }
    ++stats_.misses;
    // A cgroup made since the last walk (a container just started: its first
    // actions matter most) is found by its id, without waiting for a walk.
    if (auto path = path_by_handle(root_, id)) {
        ++stats_.by_handle;
        Entry& e = entries_[id];
        e.identity = parse_cgroup_path(*path);
        e.path = std::move(*path);
        e.seen_in_scan = scan_generation_;
        e.removed = false;
        return &e;
    }
    if (!rescan_due_locked()) {
        ++stats_.throttled;
        return nullptr;
    }
    // A failed walk leaves the id unknown, which is all a caller can be told.
    (void)rescan_with(lock, /*only_if_due=*/true);
    auto it = entries_.find(id);
    return it == entries_.end() ? nullptr : &it->second;
}

bool CgroupResolver::rescan_due_locked() const {
    return !scanned_ || std::chrono::steady_clock::now() - last_scan_ >= min_rescan_interval_;
}

Result<size_t> CgroupResolver::rescan_with(std::unique_lock<std::mutex>& lock, bool only_if_due) {
    // Lock order scan_mu_ -> mu_. The walk runs without mu_ so that lookups of
    // known ids (the hot path) never wait for it.
    lock.unlock();
    std::lock_guard scan(scan_mu_);
    lock.lock();
    if (only_if_due && !rescan_due_locked())
        return size_t{0}; // another thread scanned while this one waited
    lock.unlock();

    std::vector<std::pair<uint64_t, std::string>> found;
    std::optional<uint64_t> root_id = handle_id_at(AT_FDCWD, root_.c_str());
    int root_fd = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const int open_errno = errno;
    if (root_id && root_fd >= 0) {
        found.emplace_back(*root_id, "/");
        std::string path = "/";
        walk(root_fd, path, 1, found);
    } else if (root_fd >= 0) {
        close(root_fd);
    }

    lock.lock();
    last_scan_ = std::chrono::steady_clock::now();
    scanned_ = true;
    ++stats_.rescans;
    if (found.empty())
        return make_error("cannot walk cgroup2 root " + root_ + ": " + std::strerror(open_errno));
    merge_locked(found);
    return found.size();
}

void CgroupResolver::merge_locked(std::vector<std::pair<uint64_t, std::string>>& found) {
    const uint64_t generation = ++scan_generation_;
    for (auto& [id, path] : found) {
        Entry& e = entries_[id];
        if (e.path != path) { // new, or renamed (cgroup2 allows renames within a parent)
            e.identity = parse_cgroup_path(path);
            e.path = std::move(path);
        }
        e.seen_in_scan = generation;
        e.removed = false;
    }
    for (auto& [id, e] : entries_) {
        if (e.seen_in_scan != generation && !e.removed) {
            e.removed = true;
            removed_order_.push_back(id);
        }
    }
    while (removed_order_.size() > max_removed_retained_) {
        auto it = entries_.find(removed_order_.front());
        if (it != entries_.end() && it->second.removed)
            entries_.erase(it);
        removed_order_.pop_front();
    }
}

std::optional<std::string> CgroupResolver::path_of(uint64_t id) {
    std::unique_lock lock(mu_);
    const Entry* e = find_locked(id, lock);
    return e ? std::optional<std::string>(e->path) : std::nullopt;
}

std::optional<CgroupIdentity> CgroupResolver::identity_of(uint64_t id) {
    std::unique_lock lock(mu_);
    const Entry* e = find_locked(id, lock);
    return e ? e->identity : std::nullopt;
}

Result<size_t> CgroupResolver::rescan() {
    std::unique_lock lock(mu_);
    return rescan_with(lock, /*only_if_due=*/false);
}

void CgroupResolver::set_min_rescan_interval(std::chrono::nanoseconds interval) {
    std::lock_guard lock(mu_);
    min_rescan_interval_ = interval;
}

void CgroupResolver::set_max_removed_retained(size_t count) {
    std::lock_guard lock(mu_);
    max_removed_retained_ = count;
}

CgroupResolver::Stats CgroupResolver::stats() const {
    std::lock_guard lock(mu_);
    Stats s = stats_;
    s.known = entries_.size();
    for (const auto& [id, e] : entries_)
        s.removed += e.removed ? 1 : 0;
    return s;
}

} // namespace podguard

#include "daemon/cgroup_registrar.h"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "container/cgroup_path.h"
#include "container/cgroup_resolver.h"
#include "daemon/policy_runtime.h"

namespace podguard {

namespace {

constexpr uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_ONLYDIR;

std::string join(const std::string& rel, const char* name) {
    return rel == "/" ? std::string("/") + name : rel + "/" + name;
}

} // namespace

CgroupRegistrar::CgroupRegistrar(std::string cgroup2_root, PolicyRuntime& policy, Identify identify)
    : root_(std::move(cgroup2_root)), policy_(policy), identify_(std::move(identify)) {}

CgroupRegistrar::~CgroupRegistrar() {
    stop();
}

void CgroupRegistrar::visit(const std::string& rel, uint64_t generation) {
    auto id = CgroupResolver::cgroup_id_of(root_ + rel);
    if (!id)
        return; // gone already
    auto identity = parse_cgroup_path(rel);
    bool fresh;
    {
        std::lock_guard lock(mu_);
        auto [it, inserted] = entries_.try_emplace(*id);
        fresh = inserted;
        it->second.path = rel;
        it->second.container = identity.has_value();
        it->second.generation = generation;
        if (!fresh && (!identity || it->second.identified))
            return;
    }
    if (!identity) {
        // A host cgroup among containers (conmon, a pod's own cgroup): the
        // kernel would take a task joining it for an unidentified container.
        if (rel.find("libpod_parent") != std::string::npos ||
            rel.find("kubepods") != std::string::npos ||
            rel.find("machine.slice") != std::string::npos)
            policy_.register_host_cgroup(*id);
        return;
    }
    Party p;
    p.known = true;
    p.cgroup_id = *id;
    ContainerInfo c;
    c.id = identity->container_id;
    c.runtime = identity->runtime;
    c.pod_uid = !identity->pod_uid.empty() ? identity->pod_uid : identity->pod_id;
    p.container = std::move(c);
    if (identify_)
        identify_(p);
    const bool wrote = policy_.register_party(p, true);
    std::lock_guard lock(mu_);
    auto& e = entries_[*id];
    e.identified = policy_.registered(*id);
    if (wrote)
        ++stats_.registered;
}

void CgroupRegistrar::walk(const std::string& rel, int depth, uint64_t generation) {
    if (depth > CgroupResolver::kMaxDepth)
        return;
    // Watch before listing: a child created in between is then seen by one
    // or the other (twice is harmless).
    if (inotify_fd_ >= 0) {
        int wd = inotify_add_watch(inotify_fd_, (root_ + rel).c_str(), kWatchMask);
        if (wd >= 0) {
            std::lock_guard lock(mu_);
            watches_[wd] = rel;
        }
    }
    visit(rel, generation);
    DIR* d = opendir((root_ + rel).c_str());
    if (!d)
        return;
    std::vector<std::string> children;
    while (struct dirent* e = readdir(d))
        if (e->d_type == DT_DIR && e->d_name[0] != '.')
            children.push_back(join(rel, e->d_name));
    closedir(d);
    for (const auto& c : children)
        walk(c, depth + 1, generation);
}

void CgroupRegistrar::drop_missing(uint64_t generation) {
    std::vector<uint64_t> gone;
    {
        std::lock_guard lock(mu_);
        for (auto it = entries_.begin(); it != entries_.end();) {
            if (it->second.generation < generation) {
                gone.push_back(it->first);
                it = entries_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (uint64_t id : gone)
        policy_.forget_cgroup(id);
}

size_t CgroupRegistrar::scan() {
    uint64_t generation;
    {
        std::lock_guard lock(mu_);
        generation = ++generation_;
        ++stats_.scans;
    }
    walk("/", 0, generation);
    drop_missing(generation);
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& [id, e] : entries_)
        n += e.container;
    return n;
}

// Containers the metadata did not name yet: asked again until it does.
void CgroupRegistrar::refresh() {
    std::vector<std::string> pending;
    uint64_t generation;
    {
        std::lock_guard lock(mu_);
        generation = generation_;
        for (const auto& [id, e] : entries_)
            if (e.container && !e.identified)
                pending.push_back(e.path);
    }
    for (const auto& rel : pending)
        visit(rel, generation);
}

void CgroupRegistrar::handle_inotify() {
    alignas(struct inotify_event) char buf[16384];
    for (;;) {
        ssize_t n = read(inotify_fd_, buf, sizeof(buf));
        if (n <= 0)
            return;
        for (char* p = buf; p < buf + n;) {
            auto* ev = reinterpret_cast<struct inotify_event*>(p);
            p += sizeof(struct inotify_event) + ev->len;
            std::string parent;
            {
                std::lock_guard lock(mu_);
                auto it = watches_.find(ev->wd);
                if (ev->mask & IN_IGNORED) {
                    if (it != watches_.end())
                        watches_.erase(it);
                    continue;
                }
                if (it == watches_.end() || ev->len == 0)
                    continue;
                parent = it->second;
            }
            if (!(ev->mask & IN_ISDIR))
                continue;
            if (ev->mask & IN_CREATE) {
                uint64_t generation;
                {
                    std::lock_guard lock(mu_);
                    generation = generation_;
                }
                walk(join(parent, ev->name), 1, generation);
            }
            // Deletions are collected by the next full walk: a late event
            // of the container still finds its entry meanwhile.
        }
    }
}

Status CgroupRegistrar::start() {
    inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0)
        return make_error(std::string("inotify: ") + strerror(errno));
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0)
        return make_error(std::string("eventfd: ") + strerror(errno));
    size_t n = scan();
    spdlog::info("policy: {} container cgroups registered at start", n);
    thread_ = std::thread([this] { run(); });
    return {};
}

void CgroupRegistrar::run() {
    auto last_scan = std::chrono::steady_clock::now();
    while (!stop_.load()) {
        struct pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        int r = poll(fds, 2, static_cast<int>(refresh_interval.count()));
        if (stop_.load())
            break;
        try {
            if (r > 0 && (fds[0].revents & POLLIN))
                handle_inotify();
            refresh();
            if (std::chrono::steady_clock::now() - last_scan >= rescan_interval) {
                scan();
                last_scan = std::chrono::steady_clock::now();
            }
        } catch (const std::exception& e) {
            spdlog::warn("cgroup registrar: {}", e.what());
        }
    }
}

void CgroupRegistrar::stop() {
    if (thread_.joinable()) {
        stop_.store(true);
        uint64_t one = 1;
        (void)!write(wake_fd_, &one, sizeof(one));
        thread_.join();
    }
    if (inotify_fd_ >= 0)
        close(inotify_fd_);
    if (wake_fd_ >= 0)
        close(wake_fd_);
    inotify_fd_ = wake_fd_ = -1;
}

CgroupRegistrar::Stats CgroupRegistrar::stats() const {
    std::lock_guard lock(mu_);
    Stats s = stats_;
    for (const auto& [id, e] : entries_) {
        s.containers += e.container;
        s.unidentified += e.container && !e.identified;
    }
    return s;
}

} // namespace podguard

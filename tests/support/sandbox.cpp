#include "support/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

namespace podguard::test {

namespace {

namespace fs = std::filesystem;

std::string errno_text(int err) {
    return std::to_string(err) + " (" + std::strerror(err) + ")";
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool write_file(const std::string& path, const std::string& data) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
    ::close(fd);
    return ok;
}

std::mt19937_64& rng() {
    static thread_local std::mt19937_64 gen{std::random_device{}() ^
                                            (static_cast<uint64_t>(::getpid()) << 32)};
    return gen;
}

void clean_once() {
    static std::once_flag once;
    std::call_once(once, clean_stale_test_leftovers);
}

bool populated(const std::string& dir) {
    std::istringstream events(read_file(dir + "/cgroup.events"));
    std::string key;
    int value = 0;
    while (events >> key >> value)
        if (key == "populated")
            return value != 0;
    return false;
}

void init_loop() {
    // Reap orphans the way a pod's pause process does; a handler (not
    // SIG_IGN) so pause() wakes up.
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    ::sigaction(SIGCHLD, &sa, nullptr);
    for (;;) {
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
        ::pause();
    }
}

} // namespace

pid_t owner_pid_of(const std::string& name) {
    std::string prefix = kTestPrefix;
    if (name.rfind(prefix, 0) != 0)
        return -1;
    try {
        long pid = std::stol(name.substr(prefix.size()));
        return pid > 0 ? static_cast<pid_t>(pid) : -1;
    } catch (...) {
        return -1;
    }
}

bool is_stale_name(const std::string& name) {
    pid_t owner = owner_pid_of(name);
    return owner > 0 && owner != ::getpid() && ::kill(owner, 0) != 0 && errno == ESRCH;
}

std::string owned_name() {
    return std::string(kTestPrefix) + std::to_string(::getpid()) + "-" + random_hex(8);
}

TempDir::TempDir() : path_((fs::temp_directory_path() / owned_name()).string()) {
    clean_once();
    if (::mkdir(path_.c_str(), 0755) != 0)
        throw FixtureError("mkdir " + path_ + ": " + errno_text(errno));
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

const std::string& cgroup2_mount() {
    static const std::string mount = [] {
        std::ifstream in("/proc/self/mountinfo");
        std::string line;
        std::string found;
        while (std::getline(in, line)) {
            // "<id> <parent> <maj:min> <root> <mount point> <opts> ... - <fstype> ..."
            auto dash = line.find(" - ");
            if (dash == std::string::npos)
                continue;
            std::istringstream tail(line.substr(dash + 3));
            std::string fstype;
            tail >> fstype;
            if (fstype != "cgroup2")
                continue;
            std::istringstream head(line.substr(0, dash));
            std::string id, parent, dev, root, point;
            head >> id >> parent >> dev >> root >> point;
            // Prefer the canonical locations when several exist.
            if (found.empty() || point == "/sys/fs/cgroup/unified" || point == "/sys/fs/cgroup")
                found = point;
        }
        return found;
    }();
    if (mount.empty())
        throw FixtureError("no cgroup2 mount in /proc/self/mountinfo");
    return mount;
}

uint64_t cgroup_id_of(const std::string& absolute_path) {
    alignas(file_handle) char storage[sizeof(file_handle) + 64];
    auto* fh = reinterpret_cast<file_handle*>(storage);
    fh->handle_bytes = 64;
    int mount_id = 0;
    if (::name_to_handle_at(AT_FDCWD, absolute_path.c_str(), fh, &mount_id, 0) != 0)
        throw FixtureError("name_to_handle_at " + absolute_path + ": " + errno_text(errno));
    if (fh->handle_bytes != sizeof(uint64_t))
        throw FixtureError("unexpected cgroup file handle size " +
                           std::to_string(fh->handle_bytes) + " for " + absolute_path);
    uint64_t id = 0;
    std::memcpy(&id, fh->f_handle, sizeof id);
    return id;
}

std::string cgroup2_path_of(pid_t pid) {
    std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/cgroup"));
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("0::", 0) == 0)
            return line.substr(3);
    throw FixtureError("no cgroup v2 entry in /proc/" + std::to_string(pid) + "/cgroup");
}

std::string random_hex(size_t chars) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(chars);
    for (size_t i = 0; i < chars; ++i)
        out.push_back(digits[rng()() & 0xf]);
    return out;
}

std::string random_uuid() {
    return random_hex(8) + "-" + random_hex(4) + "-" + random_hex(4) + "-" + random_hex(4) + "-" +
           random_hex(12);
}

std::string remove_cgroup_tree(const std::string& dir) {
    if (!fs::exists(dir))
        return {};
    // cgroup.kill (5.14+) SIGKILLs the whole subtree in one go.
    bool killed = write_file(dir + "/cgroup.kill", "1");
    std::string errors;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec))
        if (entry.is_directory(ec)) {
            auto e = remove_cgroup_tree(entry.path());
            if (!e.empty())
                errors += e + "; ";
        }
    auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
        if (!killed || populated(dir)) {
            std::istringstream procs(read_file(dir + "/cgroup.procs"));
            pid_t p;
            while (procs >> p)
                ::kill(p, SIGKILL);
        }
        if (::rmdir(dir.c_str()) == 0 || errno == ENOENT)
            return errors;
        // EBUSY while killed tasks finish exiting.
        if (errno != EBUSY || std::chrono::steady_clock::now() > deadline)
            return errors + "rmdir " + dir + ": " + errno_text(errno);
        std::this_thread::sleep_for(10ms);
    }
}

void clean_stale_test_leftovers() {
    std::error_code ec;
    std::vector<fs::path> stale;
    for (const auto& root : {fs::path(cgroup2_mount()), fs::temp_directory_path(ec)}) {
        for (const auto& entry : fs::directory_iterator(root, ec)) {
            if (is_stale_name(entry.path().filename()))
                stale.push_back(entry.path());
        }
    }
    for (const auto& path : stale) {
        if (path.string().rfind(cgroup2_mount(), 0) == 0) {
            auto err = remove_cgroup_tree(path);
            if (!err.empty())
                std::fprintf(stderr, "podguard test support: stale cgroup %s: %s\n", path.c_str(),
                             err.c_str());
        } else {
            fs::remove_all(path, ec);
        }
    }
}

// --- CgroupDir ---------------------------------------------------------------

CgroupDir::CgroupDir(std::string relative) {
    clean_once();
    if (relative.empty() || relative.front() != '/')
        relative.insert(relative.begin(), '/');
    relative_ = relative;
    path_ = cgroup2_mount() + relative_;
    std::string partial = cgroup2_mount();
    std::istringstream parts(relative_.substr(1));
    std::string part;
    while (std::getline(parts, part, '/')) {
        if (part.empty())
            continue;
        partial += "/" + part;
        if (::mkdir(partial.c_str(), 0755) == 0) {
            created_.push_back(partial);
        } else if (errno != EEXIST) {
            int err = errno;
            release();
            throw FixtureError("mkdir " + partial + ": " + errno_text(err));
        }
    }
}

CgroupDir CgroupDir::kubepods_container(std::string pod_uid, std::string container_id,
                                        const std::string& qos) {
    return CgroupDir(owned_name() + "/kubepods/" + qos + "/pod" + pod_uid + "/" + container_id);
}

CgroupDir::CgroupDir(CgroupDir&& other) noexcept
    : relative_(std::move(other.relative_)), path_(std::move(other.path_)),
      created_(std::move(other.created_)) {
    other.created_.clear();
}

CgroupDir& CgroupDir::operator=(CgroupDir&& other) noexcept {
    if (this != &other) {
        release();
        relative_ = std::move(other.relative_);
        path_ = std::move(other.path_);
        created_ = std::move(other.created_);
        other.created_.clear();
    }
    return *this;
}

CgroupDir::~CgroupDir() {
    release();
}

void CgroupDir::release() {
    // The outermost created dir takes everything below it along.
    if (!created_.empty()) {
        auto err = remove_cgroup_tree(created_.front());
        if (!err.empty())
            std::fprintf(stderr, "podguard test support: cleanup: %s\n", err.c_str());
    }
    created_.clear();
}

std::string CgroupDir::container_id() const {
    return relative_.substr(relative_.rfind('/') + 1);
}

std::string CgroupDir::pod_uid() const {
    std::istringstream parts(relative_);
    std::string part;
    std::string uid;
    while (std::getline(parts, part, '/'))
        if (part.size() > 3 && part.rfind("pod", 0) == 0)
            uid = part.substr(3);
    return uid;
}

uint64_t CgroupDir::id() const {
    return cgroup_id_of(path_);
}

std::vector<pid_t> CgroupDir::procs() const {
    std::istringstream in(read_file(path_ + "/cgroup.procs"));
    std::vector<pid_t> out;
    pid_t p;
    while (in >> p)
        out.push_back(p);
    return out;
}

void CgroupDir::add(pid_t pid) const {
    if (!write_file(path_ + "/cgroup.procs", std::to_string(pid)))
        throw FixtureError("move " + std::to_string(pid) + " into " + path_ + ": " +
                           errno_text(errno));
}

// --- SandboxContainer ----------------------------------------------------------

SandboxContainer::SandboxContainer(std::string name, const std::string& pod_relative,
                                   std::string pod_uid, int pod_pidns_fd,
                                   const std::string& tmp_root)
    : name_(std::move(name)), id_(random_hex(64)), pod_uid_(std::move(pod_uid)),
      cgroup_(pod_relative + "/" + id_), private_dir_(tmp_root + "/" + name_) {
    if (::mkdir(private_dir_.c_str(), 0755) != 0)
        throw FixtureError("mkdir " + private_dir_ + ": " + errno_text(errno));
    SpawnSpec spec;
    if (pod_pidns_fd >= 0)
        spec.join_pidns_fd = pod_pidns_fd;
    else
        spec.new_pidns = true;
    spec.new_mntns = true;
    spec.cgroup_dir = cgroup_.path();
    spec.comm = "main";
    std::string dir = private_dir_;
    std::string secret = "secret of " + name_ + "\n";
    spec.setup = [dir, secret]() -> int {
        // A /proc of the container's own pid namespace, as a runtime mounts
        // it: /proc/<pid>/... inside the container takes namespace pids.
        if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
            return -1;
        if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=64k,mode=0755") != 0)
            return -1;
        std::string file = dir + "/secret";
        int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return -1;
        bool ok = ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size());
        ::close(fd);
        return ok ? 0 : -1;
    };
    try {
        main_ = spawn_process(spec, [] {
            init_loop();
            return 0;
        });
        std::string ns = "/proc/" + std::to_string(main_.pid()) + "/ns/";
        pidns_fd_ = ::open((ns + "pid").c_str(), O_RDONLY | O_CLOEXEC);
        mntns_fd_ = ::open((ns + "mnt").c_str(), O_RDONLY | O_CLOEXEC);
        if (pidns_fd_ < 0 || mntns_fd_ < 0)
            throw FixtureError("open " + ns + "{pid,mnt}: " + errno_text(errno));
    } catch (...) {
        main_.kill_and_reap();
        if (pidns_fd_ >= 0)
            ::close(pidns_fd_);
        if (mntns_fd_ >= 0)
            ::close(mntns_fd_);
        ::rmdir(private_dir_.c_str());
        throw;
    }
}

SandboxContainer::~SandboxContainer() {
    if (main_.ns_pid() == 1)
        main_.kill_pid1(has_nested_children({main_.pid()}));
    else
        main_.kill_and_reap();
    if (pidns_fd_ >= 0)
        ::close(pidns_fd_);
    if (mntns_fd_ >= 0)
        ::close(mntns_fd_);
    ::rmdir(private_dir_.c_str());
}

SpawnSpec SandboxContainer::spec() const {
    SpawnSpec spec;
    spec.join_pidns_fd = pidns_fd_;
    spec.join_mntns_fd = mntns_fd_;
    spec.cgroup_dir = cgroup_.path();
    return spec;
}

Proc SandboxContainer::spawn(std::function<int()> body) const {
    return spawn_process(spec(), std::move(body));
}

Proc SandboxContainer::spawn_exec(std::vector<std::string> argv) const {
    return spawn_process(spec(), exec_body(std::move(argv)));
}

Proc SandboxContainer::spawn_sleeper() const {
    auto s = spec();
    s.comm = "sleeper";
    return spawn_process(s, [] {
        for (;;)
            ::pause();
        return 0;
    });
}

SyscallResult SandboxContainer::run(std::function<long()> fn,
                                    std::chrono::milliseconds timeout) const {
    return run_syscall(spec(), std::move(fn), timeout);
}

SyscallResult run_in(const SandboxContainer& container, std::function<long()> fn,
                     std::chrono::milliseconds timeout) {
    return container.run(std::move(fn), timeout);
}

// --- SandboxPod ----------------------------------------------------------------

SandboxPod::SandboxPod(bool shared_pidns)
    : shared_pidns_(shared_pidns), uid_(random_uuid()),
      tmp_root_((std::filesystem::temp_directory_path() / owned_name()).string()),
      pod_cgroup_(owned_name() + "/kubepods/besteffort/pod" + uid_), pause_id_(random_hex(64)) {
    if (::mkdir(tmp_root_.c_str(), 0755) != 0)
        throw FixtureError("mkdir " + tmp_root_ + ": " + errno_text(errno));
    try {
        pause_cgroup_ = std::make_unique<CgroupDir>(pod_cgroup_.relative() + "/" + pause_id_);
        SpawnSpec spec;
        spec.new_pidns = true;
        spec.cgroup_dir = pause_cgroup_->path();
        spec.comm = "pause";
        pause_ = spawn_process(spec, [] {
            init_loop();
            return 0;
        });
        std::string ns = "/proc/" + std::to_string(pause_.pid()) + "/ns/pid";
        pidns_fd_ = ::open(ns.c_str(), O_RDONLY | O_CLOEXEC);
        if (pidns_fd_ < 0)
            throw FixtureError("open " + ns + ": " + errno_text(errno));
    } catch (...) {
        pause_.kill_and_reap();
        pause_cgroup_.reset();
        ::rmdir(tmp_root_.c_str());
        throw;
    }
}

SandboxPod::~SandboxPod() {
    containers_.clear();
    // As pid 1 it takes its namespace's processes along; those the test still
    // owns keep it from finishing until their Procs reap them.
    pause_.kill_pid1(has_nested_children({pause_.pid()}));
    if (pidns_fd_ >= 0)
        ::close(pidns_fd_);
    pause_cgroup_.reset();
    std::error_code ec;
    std::filesystem::remove_all(tmp_root_, ec);
    // pod_cgroup_ (and its podguard-test-* root) goes with the members.
}

SandboxContainer& SandboxPod::add_container(std::string name) {
    containers_.push_back(std::unique_ptr<SandboxContainer>(new SandboxContainer(
        std::move(name), pod_cgroup_.relative(), uid_, shared_pidns_ ? pidns_fd_ : -1, tmp_root_)));
    return *containers_.back();
}

unsigned long SandboxPod::pidns_inode() const {
    return namespace_inode(pause_.pid(), "pid");
}

} // namespace podguard::test

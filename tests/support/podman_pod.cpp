#include "support/podman_pod.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

namespace podguard::test {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Outside /tmp on purpose: shared by every test run, not a per-run leftover.
constexpr const char* kStateDir = "/run/podguard-test";

constexpr const char* kContainersConf = R"(# Written by podguard's test fixtures.
[containers]
# Without CAP_SYS_RESOURCE the default rlimits cannot be set.
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
# crun refuses hybrid cgroup setups.
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
)";

constexpr const char* kNginxConf = R"(user nginx;
worker_processes 1;

events {
    worker_connections 64;
}

http {
    server {
        listen 8080;
        root /usr/share/nginx/html;
    }
}
)";

std::string errno_text(int err) {
    return std::to_string(err) + " (" + std::strerror(err) + ")";
}

void write_text(const fs::path& path, const std::string& text, fs::perms perms = fs::perms(0644)) {
    std::ofstream(path) << text;
    fs::permissions(path, perms);
}

long long ms_since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Exclusive flock on a file under kStateDir for the lifetime of the object.
class FileLock {
  public:
    explicit FileLock(const std::string& path) {
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0)
            throw FixtureError("lock " + path + ": " + errno_text(errno));
    }
    ~FileLock() { ::close(fd_); }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

  private:
    int fd_ = -1;
};

void build_rootfs(const fs::path& root) {
    const fs::path busybox = "/bin/busybox";
    if (!fs::exists(busybox))
        throw FixtureError("/bin/busybox missing: apt-get install busybox-static");
    {
        // A dynamically linked busybox would not run in an image without libc.
        std::ifstream in(busybox, std::ios::binary);
        std::string head(8192, '\0');
        in.read(head.data(), static_cast<std::streamsize>(head.size()));
        if (head.find("ld-linux") != std::string::npos)
            throw FixtureError("/bin/busybox is dynamically linked: install busybox-static");
    }
    for (const char* dir : {"bin", "etc/nginx", "proc", "sys", "dev", "root", "var/cache/nginx",
                            "usr/share/nginx/html", "run"})
        fs::create_directories(root / dir);
    fs::create_directories(root / "tmp");
    fs::permissions(root / "tmp", fs::perms(01777));
    fs::create_directory_symlink("bin", root / "sbin");
    fs::create_directory_symlink("../bin", root / "usr/bin");
    fs::create_directory_symlink("../bin", root / "usr/sbin");
    fs::copy_file(busybox, root / "bin/busybox");
    fs::permissions(root / "bin/busybox", fs::perms(0755));

    auto list = run_command({busybox.string(), "--list"}, 10s);
    if (!list.success())
        throw FixtureError("busybox --list: " + list.describe());
    std::istringstream applets(list.out);
    std::string applet;
    while (std::getline(applets, applet))
        if (!applet.empty() && applet != "busybox")
            fs::create_symlink("busybox", root / "bin" / applet);

    write_text(root / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                                    "nginx:x:101:101:nginx:/var/cache/nginx:/bin/false\n"
                                    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
    write_text(root / "etc/group", "root:x:0:\nnginx:x:101:\nnogroup:x:65534:\n");
    write_text(root / "etc/nginx/nginx.conf", kNginxConf);
    write_text(root / "usr/share/nginx/html/index.html", "<h1>podguard test</h1>\n");
}

nlohmann::json parse_json(const CommandResult& r, const std::string& what) {
    try {
        return nlohmann::json::parse(r.out);
    } catch (const nlohmann::json::exception& e) {
        throw FixtureError(what + ": output is not JSON (" + e.what() + ")\n" + r.describe());
    }
}

} // namespace

const std::string& podman_containers_conf() {
    static const std::string path = [] {
        std::error_code ec;
        fs::create_directories(kStateDir, ec);
        std::string target = std::string(kStateDir) + "/containers.conf";
        std::ifstream current(target);
        std::stringstream ss;
        ss << current.rdbuf();
        if (ss.str() != kContainersConf) {
            // Atomic: a concurrent podman never reads half a file.
            std::string tmp = target + "." + std::to_string(::getpid());
            std::ofstream(tmp) << kContainersConf;
            if (::rename(tmp.c_str(), target.c_str()) != 0)
                throw FixtureError("rename " + tmp + ": " + errno_text(errno));
        }
        return target;
    }();
    return path;
}

CommandResult podman(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
    std::vector<std::string> argv = {"podman"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, timeout, {"CONTAINERS_CONF=" + podman_containers_conf()});
}

void ensure_busybox_image() {
    static std::mutex mutex;
    static bool present = false;
    std::lock_guard guard(mutex);
    if (present)
        return;
    if (podman({"image", "exists", kBusyboxImage}).success()) {
        present = true;
        return;
    }
    podman_containers_conf(); // creates kStateDir
    FileLock lock(std::string(kStateDir) + "/image.lock");
    if (!podman({"image", "exists", kBusyboxImage}).success()) {
        TempDir tmp;
        fs::path root = fs::path(tmp.path()) / "rootfs";
        build_rootfs(root);
        std::string tar = tmp.file("rootfs.tar");
        auto packed = run_command({"tar", "-C", root.string(), "-cf", tar, "."}, 60s);
        if (!packed.success())
            throw FixtureError("tar rootfs: " + packed.describe());
        auto imported = podman({"import", "--change", "ENV=PATH=/bin:/sbin:/usr/bin:/usr/sbin",
                                "--change", "CMD=/bin/sh", tar, kBusyboxImage},
                               120s);
        if (!imported.success())
            throw FixtureError(std::string("podman import ") + kBusyboxImage + ": " +
                               imported.describe());
    }
    present = true;
}

void clean_stale_podman_pods() {
    auto pods = podman({"pod", "ps", "--format", "{{.Name}}"});
    if (!pods.success())
        throw FixtureError("podman pod ps: " + pods.describe());
    std::istringstream names(pods.out);
    std::string name;
    while (std::getline(names, name))
        if (is_stale_name(name)) {
            auto rm = podman({"pod", "rm", "-f", "-t", "0", name});
            if (!rm.success())
                std::fprintf(stderr, "podguard test support: stale pod %s: %s\n", name.c_str(),
                             rm.describe().c_str());
        }
}

std::vector<PodmanContainerSpec> PodmanPodOptions::default_containers() {
    return {
        // Ignoring SIGHUP like nginx (which reloads on it): `kill -HUP` leaves it running.
        {"nginx", {"/bin/sh", "-c", "trap '' HUP; exec /bin/sleep 1000000"}, {}},
        {"shell", {"/bin/sleep", "1000000"}, {"SYS_PTRACE"}},
    };
}

PodmanPod::PodmanPod(PodmanPodOptions options) : options_(std::move(options)) {
    static std::once_flag stale_once;
    std::call_once(stale_once, clean_stale_podman_pods);
    ensure_busybox_image();

    name_ = options_.name.empty() ? owned_name() : options_.name;
    nlohmann::json containers = nlohmann::json::array();
    for (const auto& c : options_.containers) {
        nlohmann::json spec = {{"name", c.name}, {"image", kBusyboxImage}, {"command", c.command}};
        if (!c.add_capabilities.empty())
            spec["securityContext"] = {{"capabilities", {{"add", c.add_capabilities}}}};
        containers.push_back(spec);
    }
    nlohmann::json manifest = {{"apiVersion", "v1"},
                               {"kind", "Pod"},
                               {"metadata", {{"name", name_}, {"labels", options_.labels}}},
                               {"spec",
                                {{"shareProcessNamespace", options_.share_process_namespace},
                                 // Never: a container the agent kills must stay dead.
                                 {"restartPolicy", "Never"},
                                 {"containers", containers}}}};
    manifest_ = manifest.dump(2);
    std::string file = dir_.file("pod.json");
    std::ofstream(file) << manifest_;

    auto started = Clock::now();
    auto played = podman({"kube", "play", "--network", "none", file}, options_.timeout);
    play_time_ = std::chrono::milliseconds(ms_since(started));
    try {
        if (!played.success())
            throw FixtureError("podman kube play " + name_ + ": " + played.describe() +
                               "\nmanifest:\n" + manifest_);
        load_metadata();
    } catch (...) {
        remove();
        throw;
    }
}

PodmanPod::~PodmanPod() {
    remove();
}

void PodmanPod::load_metadata() {
    auto pod = parse_json(podman({"pod", "inspect", name_}), "podman pod inspect");
    if (pod.is_array())
        pod = pod.at(0);
    id_ = pod.value("Id", "");
    std::string infra_id = pod.value("InfraContainerID", "");
    std::vector<std::string> args = {"inspect", "--type", "container"};
    for (const auto& c : pod.value("Containers", nlohmann::json::array()))
        args.push_back(c.value("Id", ""));
    auto inspected = podman(args);
    if (!inspected.success())
        throw FixtureError("podman inspect: " + inspected.describe());
    auto list = parse_json(inspected, "podman inspect");

    containers_.clear();
    for (const auto& spec : options_.containers) {
        PodmanContainer c;
        c.name = spec.name;
        c.full_name = name_ + "-" + spec.name;
        containers_.push_back(c);
    }
    for (const auto& item : list) {
        std::string id = item.value("Id", "");
        std::string full_name = item.value("Name", "");
        PodmanContainer* target = nullptr;
        if (id == infra_id) {
            target = &infra_;
            infra_.name = "infra";
        } else {
            for (auto& c : containers_)
                if (c.full_name == full_name)
                    target = &c;
        }
        if (!target)
            continue;
        target->id = id;
        target->full_name = full_name;
        target->pid = item["State"].value("Pid", -1);
    }
    std::vector<PodmanContainer*> all = {&infra_};
    for (auto& c : containers_)
        all.push_back(&c);
    for (auto* c : all) {
        if (c->id.empty() || c->pid <= 0) {
            auto logs = podman({"logs", c->full_name.empty() ? name_ : c->full_name});
            throw FixtureError("pod " + name_ + ": container " + c->name +
                               " is not running\npodman logs: " + logs.describe() +
                               "\npod inspect: " + pod.dump(2));
        }
        auto nspids = read_nspids(c->pid);
        c->ns_pid = nspids.empty() ? -1 : nspids.back();
        c->cgroup = cgroup2_path_of(c->pid);
        c->cgroup_id = cgroup_id_of(cgroup2_mount() + c->cgroup);
    }
}

const PodmanContainer& PodmanPod::container(const std::string& name) const {
    for (const auto& c : containers_)
        if (c.name == name)
            return c;
    if (name == "infra")
        return infra_;
    throw FixtureError("pod " + name_ + " has no container " + name);
}

CommandResult PodmanPod::exec(const std::string& container, const std::vector<std::string>& argv,
                              std::chrono::milliseconds timeout) const {
    std::vector<std::string> args = {"exec", this->container(container).full_name};
    args.insert(args.end(), argv.begin(), argv.end());
    return podman(args, timeout);
}

std::chrono::milliseconds PodmanPod::remove() {
    if (removed_)
        return std::chrono::milliseconds(0);
    removed_ = true;
    auto started = Clock::now();
    auto rm = podman({"pod", "rm", "-f", "-t", "0", name_}, options_.timeout);
    auto took = std::chrono::milliseconds(ms_since(started));
    if (!rm.success() && rm.err.find("no pod with name or ID") == std::string::npos)
        ADD_FAILURE() << "podman pod rm " << name_ << " failed: " << rm.describe();
    return took;
}

} // namespace podguard::test

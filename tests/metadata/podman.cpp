#include "podman.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace podguard::test::meta {

namespace fs = std::filesystem;

namespace {

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

std::string make_temp_dir(const char* stem) {
    std::string tmpl = std::string("/tmp/") + stem + "-XXXXXX";
    if (!mkdtemp(tmpl.data()))
        return {};
    return tmpl;
}

std::string last_line(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    size_t nl = s.rfind('\n');
    return nl == std::string::npos ? s : s.substr(nl + 1);
}

fs::path g_conf_dir;

void remove_conf_dir() {
    std::error_code ec;
    if (!g_conf_dir.empty())
        fs::remove_all(g_conf_dir, ec);
}

} // namespace

CommandResult run_command(const std::string& command) {
    CommandResult r;
    FILE* p = popen((command + " 2>&1").c_str(), "r");
    if (!p) {
        r.output = "popen failed";
        return r;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        r.output.append(buf, n);
    int status = pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

std::string unique_name(const std::string& stem) {
    static std::atomic<int> counter{0};
    return stem + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

std::string prepare_podman() {
    static std::once_flag once;
    static std::string error;
    std::call_once(once, [] {
        if (run_command("podman --version").status != 0) {
            error = "podman is not installed (apt-get install podman runc catatonit)";
            return;
        }
        if (!getenv("CONTAINERS_CONF")) {
            // See ../shared/notes/pods.md (beside this repository): crun fails here and the default
            // rlimits need CAP_SYS_RESOURCE.
            g_conf_dir = make_temp_dir("pgmeta-conf");
            std::ofstream(g_conf_dir / "containers.conf")
                << "[containers]\ndefault_ulimits = [\"nofile=4096:4096\", "
                   "\"nproc=4096:4096\"]\n[engine]\nruntime = \"runc\"\n";
            setenv("CONTAINERS_CONF", (g_conf_dir / "containers.conf").c_str(), 1);
            std::atexit(remove_conf_dir);
        }
        if (run_command(std::string("podman image exists ") + kBusyboxImage).status == 0)
            return;
        std::string dir = make_temp_dir("pgmeta-img");
        fs::path root = fs::path(dir) / "rootfs";
        fs::create_directories(root / "bin");
        fs::create_directories(root / "etc");
        fs::create_directories(root / "tmp");
        std::error_code ec;
        fs::copy_file("/bin/busybox", root / "bin/busybox", ec);
        if (ec) {
            error = "cannot copy /bin/busybox (apt-get install busybox-static): " + ec.message();
        } else {
            for (const char* tool : {"sh", "sleep", "ps", "cat", "ls", "kill"})
                fs::create_symlink("busybox", root / "bin" / tool);
            auto r = run_command("tar -C " + quote(root.string()) + " -cf " + quote(dir) +
                                 "/img.tar . && podman import " + quote(dir) + "/img.tar " +
                                 kBusyboxImage);
            if (r.status != 0)
                error = "podman import failed: " + r.output;
        }
        fs::remove_all(dir, ec);
    });
    return error;
}

PodmanContainer::PodmanContainer(const std::string& name,
                                 const std::map<std::string, std::string>& labels)
    : name_(name) {
    std::string cmd = "podman --runtime runc run -d --network none --name " + quote(name);
    for (const auto& [k, v] : labels)
        cmd += " --label " + quote(k + "=" + v);
    cmd += std::string(" ") + kBusyboxImage + " /bin/sleep 600";
    auto r = run_command(cmd);
    if (r.status != 0) {
        error_ = "podman run failed: " + r.output;
        return;
    }
    id_ = last_line(r.output);
}

void PodmanContainer::remove() {
    run_command("podman rm -f -t 0 " + quote(name_));
    id_.clear();
}

PodmanContainer::~PodmanContainer() {
    run_command("podman rm -f -t 0 " + quote(name_));
}

KubePlayedPod::KubePlayedPod(const std::string& name,
                             const std::map<std::string, std::string>& labels,
                             const std::vector<std::string>& containers)
    : name_(name) {
    dir_ = make_temp_dir("pgmeta-pod");
    nlohmann::json spec_containers = nlohmann::json::array();
    for (const auto& c : containers)
        spec_containers.push_back(
            {{"name", c}, {"image", kBusyboxImage}, {"command", {"/bin/sleep", "600"}}});
    // JSON is YAML: kube play reads it as a manifest.
    nlohmann::json pod = {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", {{"name", name}, {"labels", labels}}},
        {"spec", {{"shareProcessNamespace", true}, {"containers", spec_containers}}}};
    std::string file = dir_ + "/pod.yaml";
    std::ofstream(file) << pod.dump(2);
    auto r = run_command("podman --runtime runc kube play --network none " + quote(file));
    if (r.status != 0) {
        error_ = "podman kube play failed: " + r.output;
        return;
    }
    auto id = run_command("podman pod inspect --format '{{.Id}}' " + quote(name));
    if (id.status != 0) {
        error_ = "podman pod inspect failed: " + id.output;
        return;
    }
    pod_id_ = last_line(id.output);
    for (const auto& c : containers) {
        auto cid = run_command("podman inspect --format '{{.Id}}' " + quote(name + "-" + c));
        if (cid.status != 0) {
            error_ = "podman inspect failed: " + cid.output;
            return;
        }
        ids_[c] = last_line(cid.output);
    }
}

KubePlayedPod::~KubePlayedPod() {
    run_command("podman pod rm -f -t 0 " + quote(name_));
    std::error_code ec;
    if (!dir_.empty())
        fs::remove_all(dir_, ec);
}

std::string KubePlayedPod::container_id(const std::string& container) const {
    auto it = ids_.find(container);
    return it == ids_.end() ? "" : it->second;
}

PodmanService::PodmanService() {
    dir_ = make_temp_dir("pgmeta-svc");
    socket_ = dir_ + "/api.sock";
    launch();
}

PodmanService::~PodmanService() {
    kill();
    std::error_code ec;
    if (!dir_.empty())
        fs::remove_all(dir_, ec);
}

bool PodmanService::launch() {
    error_.clear();
    std::string log = dir_ + "/service.log";
    std::string uri = "unix://" + socket_;
    pid_ = fork();
    if (pid_ < 0) {
        error_ = "fork failed";
        return false;
    }
    if (pid_ == 0) {
        setpgid(0, 0);
        int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("podman", "podman", "system", "service", "--time=0", uri.c_str(), nullptr);
        _exit(127);
    }
    setpgid(pid_, pid_);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_.c_str());
        bool connected = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        close(fd);
        if (connected)
            return true;
        int status;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            std::ifstream in(log);
            error_ = "podman system service exited: " +
                     std::string(std::istreambuf_iterator<char>(in), {});
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    error_ = "podman system service did not open " + socket_ + " within 15 s";
    kill();
    return false;
}

void PodmanService::kill() {
    if (pid_ <= 0)
        return;
    ::kill(-pid_, SIGTERM);
    for (int i = 0; i < 250; ++i) { // 5 s
        if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
            pid_ = -1;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid_ > 0) {
        ::kill(-pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    unlink(socket_.c_str());
}

bool PodmanService::restart() {
    kill();
    return launch();
}

} // namespace podguard::test::meta

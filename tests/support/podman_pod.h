// The seed scenario with a real container runtime: a Kubernetes Pod manifest
// played by podman (runc, no network, a busybox image built locally since
// there is no registry), with a shared pid namespace.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "support/agent.h"

namespace podguard::test {

inline constexpr const char* kBusyboxImage = "localhost/podguard-bb:1";

// The containers.conf the fixtures pass to podman through CONTAINERS_CONF
// (runc, lowered ulimits, cgroupfs, file events): written on first use, so a
// fresh machine needs no hand edits under /etc.
const std::string& podman_containers_conf();
// run_command({"podman", args...}) with that configuration.
CommandResult podman(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 60s);

// Builds kBusyboxImage once (busybox-static + applet symlinks, /etc/passwd,
// /etc/group, /etc/nginx/nginx.conf); a cheap `podman image exists` when it is
// there. Serialised across processes with a file lock. Throws FixtureError.
void ensure_busybox_image();

// Removes pods named kTestPrefix<pid>-… whose owner process is gone.
void clean_stale_podman_pods();

struct PodmanContainerSpec {
    std::string name;
    std::vector<std::string> command;
    std::vector<std::string> add_capabilities; // e.g. "SYS_PTRACE"
};

struct PodmanPodOptions {
    std::string name; // empty: kTestPrefix<pid>-<rand>, unique per test
    std::map<std::string, std::string> labels = {{"app", "demo"}};
    bool share_process_namespace = true;
    // Default: the seed's "nginx" (a sleeper that ignores SIGHUP the way
    // nginx survives a reload signal) and "shell" (a sleeper with SYS_PTRACE).
    std::vector<PodmanContainerSpec> containers = default_containers();
    std::chrono::milliseconds timeout = 60s;

    static std::vector<PodmanContainerSpec> default_containers();
};

struct PodmanContainer {
    std::string name;      // as in the manifest ("nginx"), "infra" for the infra container
    std::string full_name; // podman's name: "<pod>-nginx", "<pod id prefix>-infra"
    std::string id;        // 64 hex
    pid_t pid = -1;        // host pid of the main process
    pid_t ns_pid = -1;     // its pid in the container's (the pod's) pid namespace
    std::string cgroup;    // cgroup v2 path, relative to cgroup2_mount()
    uint64_t cgroup_id = 0;
};

class PodmanPod {
  public:
    explicit PodmanPod(PodmanPodOptions options = {});
    ~PodmanPod(); // remove() unless done
    PodmanPod(const PodmanPod&) = delete;
    PodmanPod& operator=(const PodmanPod&) = delete;

    const std::string& name() const { return name_; }
    const std::string& id() const { return id_; }
    const std::string& manifest() const { return manifest_; }        // as played (JSON is YAML)
    const PodmanContainer& container(const std::string& name) const; // throws if unknown
    const PodmanContainer& infra() const { return infra_; }
    const std::vector<PodmanContainer>& containers() const { return containers_; }

    // `podman exec <pod>-<container> argv...`
    CommandResult exec(const std::string& container, const std::vector<std::string>& argv,
                       std::chrono::milliseconds timeout = 30s) const;

    // `podman pod rm -f -t 0`; returns how long it took. Idempotent.
    std::chrono::milliseconds remove();
    std::chrono::milliseconds play_time() const { return play_time_; }

  private:
    void load_metadata();

    PodmanPodOptions options_;
    std::string name_;
    std::string id_;
    std::string manifest_;
    TempDir dir_;
    PodmanContainer infra_;
    std::vector<PodmanContainer> containers_;
    std::chrono::milliseconds play_time_{0};
    bool removed_ = false;
};

} // namespace podguard::test

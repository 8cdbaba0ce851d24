// Real podman for the metadata tests: a busybox image, containers, kube-played
// pods and a `podman system service` API socket. Everything made here is
// removed by destructors, even when a test fails. Own namespace: the shared
// fixtures (tests/support) have a PodmanContainer, kBusyboxImage and
// CommandResult of their own in podguard::test, and the two would clash (ODR)
// in the one test binary.
#pragma once

#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

namespace podguard::test::meta {

struct CommandResult {
    int status = -1;
    std::string output; // stdout and stderr
};
CommandResult run_command(const std::string& command);

// Once per process: containers.conf for this machine (runc, lower ulimits) via
// CONTAINERS_CONF, and the image localhost/podguard-meta-bb:1 (busybox-static).
// Returns an empty string, or why podman cannot be used.
std::string prepare_podman();
inline constexpr const char* kBusyboxImage = "localhost/podguard-meta-bb:1";
std::string unique_name(const std::string& stem); // stem-<pid>-<n>

class PodmanContainer {
  public:
    PodmanContainer(const std::string& name, const std::map<std::string, std::string>& labels);
    ~PodmanContainer();
    bool ok() const { return !id_.empty(); }
    const std::string& id() const { return id_; }
    const std::string& name() const { return name_; }
    const std::string& error() const { return error_; }
    void remove(); // podman rm -f -t 0

  private:
    std::string name_, id_, error_;
};

// `podman kube play` of a Pod manifest with sleeping busybox containers.
class KubePlayedPod {
  public:
    KubePlayedPod(const std::string& name, const std::map<std::string, std::string>& labels,
                  const std::vector<std::string>& containers);
    ~KubePlayedPod();
    bool ok() const { return error_.empty(); }
    const std::string& error() const { return error_; }
    const std::string& name() const { return name_; }
    const std::string& pod_id() const { return pod_id_; }
    std::string container_id(const std::string& container) const; // by manifest name

  private:
    std::string name_, dir_, pod_id_, error_;
    std::map<std::string, std::string> ids_;
};

class PodmanService {
  public:
    PodmanService(); // socket in a fresh temp dir
    ~PodmanService();
    bool ok() const { return error_.empty(); }
    const std::string& error() const { return error_; }
    const std::string& socket() const { return socket_; }
    void kill();
    bool restart();

  private:
    bool launch();
    std::string dir_, socket_, error_;
    pid_t pid_ = -1;
};

} // namespace podguard::test::meta

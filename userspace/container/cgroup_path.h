// Which container (and pod) a cgroup v2 path belongs to, told from the path
// alone: the layouts podman, containerd, cri-o, docker and the kubelet create.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace podguard {

struct CgroupIdentity {
    std::string container_id; // 64 lowercase hex
    std::string runtime;      // libpod, containerd, crio, docker, kubernetes (runtime not in path)
    std::string pod_uid;      // Kubernetes pod UID (dashed form), empty outside Kubernetes
    std::string pod_id;       // libpod pod id, empty outside a podman pod

    bool operator==(const CgroupIdentity&) const = default;
};

// cgroup_path is relative to the cgroup2 root, as in /proc/<pid>/cgroup's
// "0::" line ("/libpod_parent/<pod>/libpod-<cid>"). nullopt: a host cgroup.
// When containers nest (kind nodes, docker in podman) the innermost one wins:
// it is the container the process runs in, and the pod around it is its pod.
std::optional<CgroupIdentity> parse_cgroup_path(std::string_view cgroup_path);

} // namespace podguard

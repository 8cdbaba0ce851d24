// Copies cached metadata into the event model (events/event.h) for the
// pipeline: one call per party once the container id and pod uid are known.
#pragma once

#include "events/event.h"
#include "metadata/metadata.h"

namespace podguard::metadata {

// Fills the empty fields of `info` (the cgroup parser's id/runtime/pod uid win).
inline void enrich(ContainerInfo& info, const ContainerMeta& meta) {
    if (info.id.empty())
        info.id = meta.id;
    if (info.runtime.empty())
        info.runtime = meta.runtime;
    if (info.name.empty())
        info.name = meta.name;
    if (info.image.empty())
        info.image = meta.image;
    if (info.pod_uid.empty())
        info.pod_uid = meta.pod_uid;
}

// podman kube play names a pod's container "<pod>-<container>": policies
// written for Kubernetes name it "<container>". Kubernetes' name becomes the
// name, podman's is kept as runtime_name.
inline void kubernetes_container_name(ContainerInfo& info, const std::string& pod_name) {
    if (info.runtime != "libpod" || pod_name.empty() || !info.runtime_name.empty())
        return;
    const std::string prefix = pod_name + "-";
    if (info.name.size() <= prefix.size() || info.name.compare(0, prefix.size(), prefix) != 0)
        return;
    info.runtime_name = info.name;
    info.name = info.name.substr(prefix.size());
}

inline PodInfo to_pod_info(const PodMeta& meta) {
    return PodInfo{meta.namespace_, meta.name, meta.uid, meta.labels};
}

} // namespace podguard::metadata

// Kubernetes Pod JSON -> PodMeta and the ContainerMeta of every container that
// has a runtime id (containers, init containers, ephemeral containers).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "metadata/metadata.h"

namespace podguard::metadata::kubernetes {

struct PodLimits {
    // Bounds on what one pod may cost; Kubernetes validation allows far more
    // than a security log needs, and a hostile or broken server more still.
    size_t max_labels = 256;
    size_t max_annotations = 64;
    size_t max_value_bytes = 4096;
    // Annotation keys to keep; "prefix*" keeps every key starting with prefix.
    std::vector<std::string> annotation_keys = {"kubectl.kubernetes.io/default-container",
                                                "podguard.io/*"};
};

struct PodRecords {
    PodMeta pod;
    std::vector<ContainerMeta> containers;
    std::string resource_version;
    std::vector<std::string> warnings; // limits applied: worth a log line and an error count
};

struct RuntimeId {
    std::string runtime; // containerd, crio, docker, or the scheme as given
    std::string id;
};

// "containerd://<id>", "cri-o://<id>", "docker://<id>"; nullopt when not of that form.
std::optional<RuntimeId> parse_container_id(std::string_view container_id);

bool annotation_selected(std::string_view key, const std::vector<std::string>& selectors);

// Error when the object is not a pod with metadata.uid; unknown fields are ignored.
Result<PodRecords> pod_records(const nlohmann::json& pod, const PodLimits& limits);

} // namespace podguard::metadata::kubernetes

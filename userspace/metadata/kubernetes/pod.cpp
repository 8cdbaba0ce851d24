#include "metadata/kubernetes/pod.h"

#include <fmt/format.h>

#include "metadata/json_util.h"

namespace podguard::metadata::kubernetes {

namespace {

using nlohmann::json;

void bound_values(std::map<std::string, std::string>& m, size_t max_bytes, const char* what,
                  std::vector<std::string>& warnings) {
    size_t cut = 0;
    for (auto& [k, v] : m) {
        if (v.size() > max_bytes) {
            v.resize(max_bytes);
            ++cut;
        }
    }
    if (cut)
        warnings.push_back(
            fmt::format("{} {} values longer than {} bytes truncated", cut, what, max_bytes));
}

} // namespace

std::optional<RuntimeId> parse_container_id(std::string_view container_id) {
    size_t sep = container_id.find("://");
    if (sep == std::string_view::npos || sep == 0 || sep + 3 >= container_id.size())
        return std::nullopt;
    RuntimeId out;
    std::string_view scheme = container_id.substr(0, sep);
    out.runtime = scheme == "cri-o" ? "crio" : std::string(scheme);
    out.id = std::string(container_id.substr(sep + 3));
    return out;
}

bool annotation_selected(std::string_view key, const std::vector<std::string>& selectors) {
    for (const auto& s : selectors) {
        if (!s.empty() && s.back() == '*') {
            if (key.substr(0, s.size() - 1) == std::string_view(s).substr(0, s.size() - 1))
                return true;
        } else if (key == s) {
            return true;
        }
    }
    return false;
}

Result<PodRecords> pod_records(const json& pod, const PodLimits& limits) {
    if (!pod.is_object())
        return make_error("pod object is not a JSON object");
    const json& meta = safe_json::object(pod, "metadata");
    PodRecords out;
    out.pod.uid = safe_json::string(meta, "uid");
    if (out.pod.uid.empty())
        return make_error("pod without metadata.uid");
    out.pod.namespace_ = safe_json::string(meta, "namespace");
    out.pod.name = safe_json::string(meta, "name");
    out.resource_version = safe_json::string(meta, "resourceVersion");
    const json& spec = safe_json::object(pod, "spec");
    out.pod.node = safe_json::string(spec, "nodeName");

    size_t nlabels = 0;
    out.pod.labels = safe_json::string_map(meta, "labels", limits.max_labels, &nlabels);
    if (nlabels > limits.max_labels)
        out.warnings.push_back(
            fmt::format("{} labels, kept the first {}", nlabels, limits.max_labels));
    bound_values(out.pod.labels, limits.max_value_bytes, "label", out.warnings);

    size_t selected = 0;
    for (const auto& [k, v] : safe_json::object(meta, "annotations").items()) {
        if (!v.is_string() || !annotation_selected(k, limits.annotation_keys))
            continue;
        if (++selected <= limits.max_annotations)
            out.pod.annotations.emplace(k, v.get<std::string>());
    }
    if (selected > limits.max_annotations)
        out.warnings.push_back(fmt::format("{} selected annotations, kept the first {}", selected,
                                           limits.max_annotations));
    bound_values(out.pod.annotations, limits.max_value_bytes, "annotation", out.warnings);

    // The status carries the runtime id; the spec image is the fallback while
    // a status has none (yet).
    std::map<std::string, std::string> spec_images;
    for (const char* list : {"containers", "initContainers", "ephemeralContainers"})
        for (const auto& c : safe_json::array(spec, list))
            spec_images.emplace(safe_json::string(c, "name"), safe_json::string(c, "image"));

    const json& status = safe_json::object(pod, "status");
    for (const char* list :
         {"containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"}) {
        for (const auto& cs : safe_json::array(status, list)) {
            auto rid = parse_container_id(safe_json::string(cs, "containerID"));
            if (!rid)
                continue; // not started yet
            ContainerMeta c;
            c.id = std::move(rid->id);
            c.runtime = std::move(rid->runtime);
            c.name = safe_json::string(cs, "name");
            c.image = safe_json::string(cs, "image");
            if (c.image.empty())
                if (auto it = spec_images.find(c.name); it != spec_images.end())
                    c.image = it->second;
            c.pod_uid = out.pod.uid;
            out.containers.push_back(std::move(c));
        }
    }
    return out;
}

} // namespace podguard::metadata::kubernetes

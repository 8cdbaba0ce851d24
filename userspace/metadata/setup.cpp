#include "metadata/setup.h"

#include <cstdlib>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "metadata/event_info.h"
#include "metadata/kubernetes/config.h"
#include "metadata/kubernetes/provider.h"
#include "metadata/runtime/provider.h"

namespace podguard {

namespace {

bool is_socket(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

} // namespace

Result<std::unique_ptr<metadata::MetadataCache>> start_metadata(const MetadataOptions& options) {
    auto cache = std::make_unique<metadata::MetadataCache>();
    if (!options.enabled)
        return cache;
    const bool in_cluster = std::getenv("KUBERNETES_SERVICE_HOST") != nullptr;
    if (!options.kubeconfig.empty() || in_cluster) {
        auto config = metadata::kubernetes::resolve_config(options.kubeconfig);
        if (!config)
            return make_error("kubernetes metadata: " + config.error().message);
        metadata::kubernetes::KubernetesOptions k;
        k.config = std::move(*config);
        k.node_name = options.node_name.empty() ? metadata::kubernetes::default_node_name()
                                                : options.node_name;
        spdlog::info("metadata: kubernetes API, pods of node {}", k.node_name);
        if (auto st = cache->add_provider(
                std::make_unique<metadata::kubernetes::KubernetesProvider>(std::move(k)));
            !st)
            return st.error();
    }
    std::string socket = options.runtime_socket;
    if (socket.empty())
        for (const char* candidate : {"/run/podman/podman.sock", "/var/run/docker.sock"})
            if (is_socket(candidate)) {
                socket = candidate;
                break;
            }
    if (!socket.empty()) {
        metadata::runtime::RuntimeOptions r;
        r.socket_path = socket;
        spdlog::info("metadata: container runtime API at {}", socket);
        if (auto st = cache->add_provider(
                std::make_unique<metadata::runtime::RuntimeProvider>(std::move(r)));
            !st)
            return st.error();
    }
    // Providers that are down reconnect on their own; start never blocks on them.
    if (auto st = cache->start(); !st)
        return st.error();
    return cache;
}

void MetadataEnricher::enrich(Party& party) const {
    const metadata::MetadataCache& cache = cache_;
    if (!party.container)
        return;
    auto meta = cache.lookup_container(party.container->id);
    if (!meta)
        return;
    metadata::enrich(*party.container, *meta);
    const std::string& pod_uid = !meta->pod_uid.empty() ? meta->pod_uid : party.container->pod_uid;
    if (pod_uid.empty())
        return;
    if (auto pod = cache.lookup_pod(pod_uid)) {
        party.pod = metadata::to_pod_info(*pod);
        metadata::kubernetes_container_name(*party.container, pod->name);
    }
}

} // namespace podguard

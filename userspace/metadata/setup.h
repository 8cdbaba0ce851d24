// Chooses and starts the metadata providers for `podguard run`: the
// Kubernetes API when in a cluster or given a kubeconfig, a container
// runtime socket when one is there.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "events/event.h"
#include "metadata/cache.h"

namespace podguard {

struct MetadataOptions {
    bool enabled = true;
    std::string kubeconfig;     // empty: in-cluster config if KUBERNETES_SERVICE_HOST is set
    std::string node_name;      // empty: $NODE_NAME or the hostname
    std::string runtime_socket; // empty: the first standard socket that exists
};

// A cache with no provider is valid: events then carry cgroup identity only.
Result<std::unique_ptr<metadata::MetadataCache>> start_metadata(const MetadataOptions& options);

// Adds names, image and pod to a party that the cgroup layer placed in a
// container. Lookups are lock-light reads of immutable records.
void apply_metadata(const metadata::MetadataCache& cache, Party& party);

} // namespace podguard

// Chooses and starts the metadata providers for `podguard run`: the
// Kubernetes API when in a cluster or given a kubeconfig, a container
// runtime socket when one is there; and the enrichment they feed.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "enrich/party_enricher.h"
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
class MetadataEnricher : public PartyEnricher {
  public:
    explicit MetadataEnricher(const metadata::MetadataCache& cache) : cache_(cache) {}
    void enrich(Party& party) const override;

  private:
    const metadata::MetadataCache& cache_;
};

} // namespace podguard

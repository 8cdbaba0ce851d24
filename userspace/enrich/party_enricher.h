// One source of identity layered onto an event's parties after the process
// table and the cgroup (like Falco libsinsp's enrichment engines): container
// names, image, pod and labels from the runtime or Kubernetes
// (metadata/setup.h's MetadataEnricher). The daemon picks the sources; the
// Enricher only runs them in order.
#pragma once

#include "events/event.h"

namespace podguard {

class PartyEnricher {
  public:
    virtual ~PartyEnricher() = default;
    // Adds what it knows to a known party; may do nothing. Runs on the
    // pipeline thread for every event: lookups only, no blocking I/O.
    virtual void enrich(Party& party) const = 0;
};

} // namespace podguard

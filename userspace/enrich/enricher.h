// Layers identity onto both sides of a decoded event (Falco libsinsp style):
// process table (exe, args), cgroup (container id, runtime, pod uid),
// then the PartyEnrichers the daemon chose (names, image, pod labels).
#pragma once

#include <vector>

#include "container/cgroup_resolver.h"
#include "enrich/party_enricher.h"
#include "events/event.h"
#include "process/process_table.h"

namespace podguard {

class Enricher {
  public:
    Enricher(CgroupResolver& cgroups, const ProcessTable& processes)
        : cgroups_(cgroups), processes_(processes) {}
    // Runs after the cgroup layer, in the order added; not owned.
    void add_party_enricher(const PartyEnricher& enricher) {
        party_enrichers_.push_back(&enricher);
    }

    // Fills both parties and the relation.
    void enrich(Event& event);
    void enrich_party(Party& party);

  private:
    void resolve_unknown_target(Event& event);
    std::optional<ContainerInfo> container_of(uint64_t cgroup_id);

    CgroupResolver& cgroups_;
    const ProcessTable& processes_;
    std::vector<const PartyEnricher*> party_enrichers_;
};

} // namespace podguard

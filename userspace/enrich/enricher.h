// Layers identity onto both sides of a decoded event (Falco libsinsp style):
// process table (exe, args), cgroup (container id, runtime, pod uid),
// then metadata providers (names, image, pod labels) when present.
#pragma once

#include <functional>

#include "container/cgroup_resolver.h"
#include "events/event.h"
#include "process/process_table.h"

namespace podguard {

// Fills container/pod names from a metadata source; may leave them empty.
using MetadataLookup = std::function<void(Party&)>;

class Enricher {
  public:
    Enricher(CgroupResolver& cgroups, const ProcessTable& processes)
        : cgroups_(cgroups), processes_(processes) {}
    void set_metadata_lookup(MetadataLookup lookup) { metadata_ = std::move(lookup); }

    // Fills both parties and the relation.
    void enrich(Event& event);
    void enrich_party(Party& party);

  private:
    void resolve_unknown_target(Event& event);
    std::optional<ContainerInfo> container_of(uint64_t cgroup_id);

    CgroupResolver& cgroups_;
    const ProcessTable& processes_;
    MetadataLookup metadata_;
};

} // namespace podguard

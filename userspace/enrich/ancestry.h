// Who started the source: its exec chain from the process table, which keeps
// exited processes for a while, so the chain survives a parent that exited
// between the act and the event (a shell that exec'd a tool and is gone).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "events/event.h"
#include "process/process_table.h"

namespace podguard {

// Container of a cgroup id; nullopt for the host (or unknown).
using ContainerLookup = std::function<std::optional<ContainerInfo>(uint64_t cgroup_id)>;

// Replaces event.ancestry with the source's parent, grandparent, ... nearest
// first. Stops after the first ancestor outside the source's container (that
// one is included: it started the container's process, e.g. runc or conmon),
// at pid 1, at a pid the table does not know, at a record that started after
// its child (a reused pid), or after max_depth ancestors. An ancestor in the
// source's own cgroup takes the source's container without a lookup.
void fill_ancestry(Event& event, const ProcessTable& processes, const ContainerLookup& container_of,
                   size_t max_depth = 16);

} // namespace podguard

// Who acts on whom: the relation between the two sides of an event.
#pragma once

#include "events/event.h"

namespace podguard {

// same_pod: different containers of one pod (known pod identity, or a shared
// pid namespace: the seed's case). A target that could not be resolved is
// Unknown rather than a guess.
Relation classify_relation(const Party& source, const Party& target);

} // namespace podguard

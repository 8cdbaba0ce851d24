#include "events/event.h"
#include "events/kinds.h"

namespace podguard {

const char* to_string(EventKind kind) {
    auto i = static_cast<std::size_t>(kind);
    return i < kEventKinds.size() ? kEventKinds[i].name : "unknown";
}

const char* to_string(Relation relation) {
    switch (relation) {
    case Relation::SameContainer:
        return "same_container";
    case Relation::SamePod:
        return "same_pod";
    case Relation::HostToContainer:
        return "host_to_container";
    case Relation::ContainerToHost:
        return "container_to_host";
    case Relation::CrossPod:
        return "cross_pod";
    case Relation::Host:
        return "host";
    case Relation::Unknown:
        return "unknown";
    }
    return "unknown";
}

const char* to_string(Action action) {
    switch (action) {
    case Action::Allowed:
        return "allowed";
    case Action::Audited:
        return "audited";
    case Action::Blocked:
        return "blocked";
    case Action::Killed:
        return "killed";
    }
    return "unknown";
}

} // namespace podguard

#include "events/event.h"

namespace podguard {

const char* to_string(EventKind kind) {
    switch (kind) {
    case EventKind::Signal:
        return "signal";
    case EventKind::Ptrace:
        return "ptrace";
    case EventKind::ProcAccess:
        return "proc_access";
    case EventKind::Fork:
        return "fork";
    case EventKind::Exec:
        return "exec";
    case EventKind::Exit:
        return "exit";
    }
    return "unknown";
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

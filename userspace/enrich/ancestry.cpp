#include "enrich/ancestry.h"

#include <algorithm>

namespace podguard {

namespace {

// Records seeded from /proc carry the start time in clock ticks (10 ms),
// the kernel's in ns: the same process can differ by up to one tick.
constexpr uint64_t kStartSlackNs = 10'000'000;

bool same_start(uint64_t a, uint64_t b) {
    return (a > b ? a - b : b - a) <= kStartSlackNs;
}

bool same_container(const std::optional<ContainerInfo>& a, const std::optional<ContainerInfo>& b) {
    if (a.has_value() != b.has_value())
        return false;
    return !a || a->id == b->id;
}

} // namespace

void fill_ancestry(Event& event, const ProcessTable& processes, const ContainerLookup& container_of,
                   size_t max_depth) {
    event.ancestry.clear();
    const Party& source = event.source;
    if (!source.known || max_depth == 0)
        return;

    // The table's record of the source names the parent it was forked by;
    // the event's ppid may already be a reaper the source was re-parented to.
    std::vector<const ProcessRecord*> chain = processes.ancestry(source.pid, max_depth + 1);
    size_t first = 1;
    if (chain.empty() || !same_start(chain.front()->start_ns, source.start_ns)) {
        chain = source.ppid && source.ppid != source.pid
                    ? processes.ancestry(source.ppid, max_depth)
                    : std::vector<const ProcessRecord*>{};
        first = 0;
    }

    event.ancestry.reserve(std::min(chain.size(), max_depth));
    uint64_t child_start = source.start_ns;
    for (size_t i = first; i < chain.size() && event.ancestry.size() < max_depth; ++i) {
        const ProcessRecord* r = chain[i];
        // A parent cannot start after its child: this pid was reused after
        // the real parent was forgotten.
        if (r->start_ns > child_start + kStartSlackNs)
            break;
        AncestorInfo a;
        a.pid = r->pid;
        a.start_ns = r->start_ns;
        // No exe known (a process older than the agent whose /proc link was
        // unreadable): its comm in brackets, as ps shows such processes.
        a.exe = r->exe.empty() && !r->comm.empty() ? "[" + r->comm + "]" : r->exe;
        a.args = r->args;
        if (r->cgroup_id == source.cgroup_id)
            a.container = source.container;
        else if (container_of)
            a.container = container_of(r->cgroup_id);
        const bool outside = !same_container(a.container, source.container);
        event.ancestry.push_back(std::move(a));
        if (outside || r->pid <= 1)
            break;
        child_start = r->start_ns;
    }
}

} // namespace podguard

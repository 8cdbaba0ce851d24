#include "daemon/flood_reporter.h"

#include "pipeline/flood_stats.h"

namespace podguard {

FloodSource FloodReporter::source_of(uint64_t cgroup_id) {
    Party p;
    p.known = true;
    p.cgroup_id = cgroup_id;
    enricher_.enrich_party(p);
    FloodSource s;
    if (!p.container) {
        s.container = "host";
        return s;
    }
    s.container = !p.container->name.empty() ? p.container->name : p.container->id.substr(0, 12);
    s.pod = p.pod ? p.pod->name : p.container->pod_uid;
    if (p.pod)
        s.namespace_ = p.pod->namespace_;
    return s;
}

void FloodReporter::update() {
    metrics_.set_flood(read_flood_totals(flood_fd_).kernel);
    // Only sources that ever lost or aggregated something get a series: a
    // node has many cgroups that never flood.
    for (const auto& s : read_source_floods(fair_fd_))
        if (s.bucket.suppressed || s.bucket.aggregated)
            metrics_.set_source_flood(s.cgroup_id, source_of(s.cgroup_id), s.bucket.suppressed,
                                      s.bucket.aggregated);
}

} // namespace podguard

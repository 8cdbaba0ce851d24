#include "relation/relation.h"

namespace podguard {

namespace {

bool same_pod(const Party& a, const Party& b) {
    const std::string& pa = a.pod ? a.pod->uid : a.container->pod_uid;
    const std::string& pb = b.pod ? b.pod->uid : b.container->pod_uid;
    if (!pa.empty() && !pb.empty())
        return pa == pb;
    return a.pidns != 0 && a.pidns == b.pidns;
}

} // namespace

Relation classify_relation(const Party& source, const Party& target) {
    if (!target.known)
        return Relation::Unknown;
    const bool src_in = source.container.has_value();
    const bool tgt_in = target.container.has_value();
    if (!src_in && !tgt_in)
        return Relation::Host;
    if (!src_in)
        return Relation::HostToContainer;
    if (!tgt_in)
        return Relation::ContainerToHost;
    if (source.container->id == target.container->id)
        return Relation::SameContainer;
    return same_pod(source, target) ? Relation::SamePod : Relation::CrossPod;
}

} // namespace podguard

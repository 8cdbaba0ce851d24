// Apart from policy_maps.cpp so that a program that has the map fds but not
// BpfObjects (the static loader of the LSM VM test) can link the rest.
#include "enforce/policy_maps.h"

namespace podguard::enforce {

PolicyMaps::PolicyMaps(const BpfObjects& objects) : fds_(objects.policy_fds()) {}

Status load_policy(BpfObjects& objects, const policy::CompiledPolicy& policy,
                   const CgroupFactsProvider& cgroups) {
    PolicyMaps maps(objects);
    return maps.load(policy, cgroups);
}

} // namespace podguard::enforce

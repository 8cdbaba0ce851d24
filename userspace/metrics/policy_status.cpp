#include "metrics/policy_status.h"

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace podguard {

PolicyStatusMetrics::PolicyStatusMetrics(prometheus::Registry& registry)
    : family_(&prometheus::BuildGauge()
                   .Name("podguard_policy_object_loaded")
                   .Help("1 when the PodGuardPolicy object's current version is in force, 0 "
                         "when it was refused (its previous version stays in force).")
                   .Register(registry)) {}

void PolicyStatusMetrics::set(const std::string& policy, bool loaded) {
    family_->Add({{"policy", policy}}).Set(loaded ? 1 : 0);
}

void PolicyStatusMetrics::forget(const std::string& policy) {
    auto& g = family_->Add({{"policy", policy}});
    family_->Remove(&g);
}

} // namespace podguard

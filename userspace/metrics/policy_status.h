// podguard_policy_object_loaded{policy="<name>"}: 1 when the PodGuardPolicy
// object's current version is in force, 0 when it was refused (the previous
// version, if any, stays in force). The series goes with the object.
#pragma once

#include <string>

namespace prometheus {
class Registry;
template <typename T> class Family;
class Gauge;
} // namespace prometheus

namespace podguard {

class PolicyStatusMetrics {
  public:
    explicit PolicyStatusMetrics(prometheus::Registry& registry);
    void set(const std::string& policy, bool loaded);
    void forget(const std::string& policy);

  private:
    prometheus::Family<prometheus::Gauge>* family_;
};

} // namespace podguard

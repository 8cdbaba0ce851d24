// The PodGuardPolicy objects from the API as part of the policy: each object
// is validated on its own, so that one broken object is refused (logged,
// podguard_policy_object_loaded 0) while its previous version, if any, and
// every other object stay in force. Files stay the second source.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "metadata/kubernetes/policy_watch.h"
#include "policy/load.h"

namespace podguard {

class Metrics;
class PolicyStatusMetrics;

class ApiPolicies {
  public:
    ApiPolicies(metadata::kubernetes::PolicyWatch& watch, Metrics* metrics);
    ~ApiPolicies();

    // Takes the watch's changes, if any, and validates them; true when the
    // set in force should be rebuilt.
    bool refresh();
    // Adds the accepted documents to `set` (names must not repeat a file's:
    // such an object is refused) and orders it by precedence again.
    void merge_into(policy::PolicySet& set);
    // The API was listed and its objects were part of a load.
    bool synced() const { return synced_; }
    void mark_applied() { synced_ = seen_list_; }

  private:
    void report(const std::string& name, bool ok, const std::string& why);

    metadata::kubernetes::PolicyWatch& watch_;
    std::unique_ptr<PolicyStatusMetrics> metrics_;
    // name -> the last version that validated (kept when a newer one fails)
    std::map<std::string, policy::PolicyDocument> accepted_;
    std::map<std::string, std::string> last_text_;
    bool seen_list_ = false;
    bool synced_ = false;
};

} // namespace podguard

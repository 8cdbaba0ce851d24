// The policy in force: compiled from files (or the embedded default) into
// the kernel's maps, told about every container cgroup as it appears, and
// reloaded on SIGHUP or when a policy file changes. A policy that fails to
// load never replaces the one in force.
#pragma once

#include <cstdint>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "enforce/policy_image.h"
#include "enforce/policy_maps.h"
#include "policy/names.h"
#include "sinks/event_sink.h"

namespace podguard {

class ApiPolicies;
class Metrics;

class PolicyRuntime : public EventSink {
  public:
    // paths empty: the embedded default policy.
    PolicyRuntime(BpfObjects& objects, std::vector<std::string> paths, Metrics* metrics);

    ~PolicyRuntime() override;
    // PodGuardPolicy objects from the API, beside the files (or the default).
    void set_api_policies(ApiPolicies* api) { api_ = api; }
    // A policy is in force (and, with the API, its objects were listed).
    bool ready() const;

    // Compiles and installs; on failure the previous policy stays.
    Status reload();
    // Reloads when asked (SIGHUP) or when a policy file's mtime changed.
    void maybe_reload(bool requested);

    // Registers the containers of both sides with the kernel maps.
    void consume(const Event& event) noexcept override;
    size_t rules() const { return rules_; }

    // The party's container cgroup, with what is known of it now; again
    // whenever that changes (metadata arrived). Thread-safe: the cgroup
    // registrar calls it from its own thread. Returns true when written.
    // refresh: compare with what was registered even when identified (the
    // registrar's passes; events only register what is not identified).
    bool register_party(const Party& party, bool refresh = false);
    // The cgroup is gone.
    void forget_cgroup(uint64_t cgroup_id);
    // Host cgroups under a container parent (conmon, the pod's own cgroup):
    // registered as host so that the kernel does not take them for
    // unidentified containers.
    void register_host_cgroup(uint64_t cgroup_id);
    bool registered(uint64_t cgroup_id) const;
    // Posture of policies that do not set spec.unidentified.
    void set_default_posture(policy::Posture p) { default_posture_ = p; }

  private:
    std::vector<enforce::CgroupFacts> known_facts();
    std::map<std::string, time_t> mtimes() const;

    enforce::PolicyMaps maps_;
    std::vector<std::string> paths_;
    Metrics* metrics_;
    enforce::NumberAssigner pods_;
    enforce::NumberAssigner containers_;
    mutable std::mutex mu_; // everything below; reload() and registrations
    // cgroup id -> facts registered
    std::unordered_map<uint64_t, enforce::CgroupFacts> cgroups_;
    policy::Posture default_posture_ = policy::Posture::Closed;
    std::map<std::string, time_t> last_mtimes_;
    size_t rules_ = 0;
    bool loaded_ = false;
    ApiPolicies* api_ = nullptr;
};

} // namespace podguard

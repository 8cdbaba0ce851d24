// Shared by the enforcement tests: the real BPF object loaded in the test
// process (the test process is the agent), its ring buffer read raw, and a
// policy written for one sandbox pod only, so that nothing else on the
// machine can match a rule while a test runs.
#pragma once

#include <bpf/libbpf.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "enforce/policy_maps.h"
#include "loader/bpf_objects.h"
#include "podguard.h"
#include "policy/compiled.h"
#include "support/sandbox.h"

namespace podguard::test {

struct RawEvent {
    pg_header hdr{};
    pg_task source{};
    pg_task target{};
    int32_t sig = 0;
    int64_t request = 0;
    uint16_t entry = 0;
};

class EventReader {
  public:
    // Both rings: first occurrences and policy matches take the priority one.
    EventReader(int events_fd, int prio_events_fd);
    ~EventReader();
    EventReader(const EventReader&) = delete;
    EventReader& operator=(const EventReader&) = delete;

    // First event so far (or within timeout) matching pred.
    std::optional<RawEvent> wait_for(const std::function<bool(const RawEvent&)>& pred,
                                     std::chrono::milliseconds timeout = 5s);
    std::string describe_recent(size_t n = 10) const;

  private:
    static int on_record(void* ctx, void* data, size_t size);
    struct ring_buffer* rb_ = nullptr;
    std::vector<RawEvent> events_;
};

// Loads the BPF object for enforcement and seeds the process cache with the
// processes that exist already (the test process above all: it is the agent
// the self-protection rule protects).
std::unique_ptr<BpfObjects> load_enforcing_objects(LoadOptions options);

// deploy-style YAML for one pod: `action` for the cross-container rule.
std::string test_policy_yaml(const std::string& pod, const std::string& action);
policy::CompiledPolicy compile_yaml(const std::string& yaml);
uint32_t rule_id(const policy::CompiledPolicy& policy, const std::string& name);

// Facts of a sandbox container as the daemon would give them.
enforce::CgroupFacts container_facts(const SandboxContainer& c, const std::string& pod,
                                     uint32_t pod_id, uint32_t container_id);

} // namespace podguard::test

// A compiled policy as the kernel holds it (bpf/podguard.h, "policy
// enforcement"): rule bitmaps per operation bit, per relation, per selector
// and per cgroup. Pure data, no file descriptors: built and checked in full
// before anything is written to a map.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "events/event.h"
#include "podguard.h"
#include "policy/compiled.h"
#include "policy/evaluate.h"

namespace podguard::enforce {

// What the daemon knows about one cgroup. Host cgroups may be given too
// (party.in_container = false); a cgroup without facts counts as a host one.
struct CgroupFacts {
    uint64_t cgroup_id = 0;
    // Daemon-assigned numbers (NumberAssigner): equal numbers = same pod /
    // same container. 0 = unknown: same container then means same cgroup, and
    // same pod means a shared pid namespace (as podguard::classify_relation).
    uint32_t pod_id = 0;
    uint32_t container_id = 0;
    policy::PartyFacts party; // container-level fields only; binary/agent unused
    // A container whose name and pod are not known yet: its rules are the
    // policy's posture for the unidentified (pg_policy_gen.unident_*).
    bool unidentified = false;
};

// Called once per policy load, for every cgroup the daemon knows right now.
using CgroupFactsProvider = std::function<std::vector<CgroupFacts>()>;

struct PolicyImage {
    pg_policy_gen gen{};                      // rule_count, relation, host and agent sets
    std::vector<pg_rule_set> ops;             // PG_OP_SLOTS: [kind * 64 + bit]
    std::vector<pg_rule> rules;               // [i] = rule id i + 1
    std::vector<pg_rule_set> by_src_selector; // [selector id]: rules with it as source
    std::vector<pg_rule_set> by_tgt_selector;
    // Rules the kernel can never match (a `binaries` clause: decided in user
    // space only), by id.
    std::vector<uint32_t> user_space_only;
};

Result<PolicyImage> build_image(const policy::CompiledPolicy& policy);

// The cgroup's entry: rules whose source / target selector its facts match.
pg_cgroup_info cgroup_info(const policy::CompiledPolicy& policy, const PolicyImage& image,
                           const CgroupFacts& facts);

// Small stable numbers for pod uids / container ids (never 0, never reused
// while the key is known).
class NumberAssigner {
  public:
    uint32_t number(const std::string& key);
    void forget(const std::string& key);

  private:
    std::map<std::string, uint32_t> numbers_;
    uint32_t next_ = 1;
};

// Facts of the cgroup a Party (from the pipeline's enricher) runs in.
CgroupFacts cgroup_facts(const Party& party, NumberAssigner& pods, NumberAssigner& containers);

inline bool rule_set_test(const pg_rule_set& s, uint32_t bit) {
    return (s.w[bit / 64] >> (bit % 64)) & 1;
}
inline void rule_set_add(pg_rule_set& s, uint32_t bit) {
    s.w[bit / 64] |= 1ULL << (bit % 64);
}
inline void rule_set_or(pg_rule_set& into, const pg_rule_set& from) {
    for (int i = 0; i < PG_RULE_WORDS; ++i)
        into.w[i] |= from.w[i];
}

} // namespace podguard::enforce

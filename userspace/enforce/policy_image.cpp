#include "enforce/policy_image.h"

#include <map>

namespace podguard::enforce {
namespace {

static_assert(policy::kMaxCompiledRules <= PG_MAX_RULES);
static_assert(static_cast<int>(policy::PolicyAction::Allow) == PG_ACT_ALLOWED);
static_assert(static_cast<int>(policy::PolicyAction::Audit) == PG_ACT_AUDITED);
static_assert(static_cast<int>(policy::PolicyAction::Block) == PG_ACT_BLOCKED);
static_assert(policy::kOperationKinds == PG_OP_KINDS);
static_assert(static_cast<int>(Relation::Unknown) == PG_REL_UNKNOWN);
static_assert(static_cast<int>(Relation::CrossPod) == PG_REL_CROSS_POD);
static_assert(policy::kPtraceBitOther == PG_PTRACE_BIT_OTHER);
static_assert(policy::kPtraceBitProcessVmReadv == PG_PTRACE_BIT_VM_READV);
static_assert(policy::kPtraceBitProcessVmWritev == PG_PTRACE_BIT_VM_WRITEV);

struct SelectorTraits {
    bool binary = false;
    bool names_containers = false; // a namespace, pod, label or container clause
    bool need_agent = false;
    bool need_not_agent = false;
};

SelectorTraits traits(const policy::Selector& s) {
    SelectorTraits t;
    for (const auto& c : s.clauses) {
        if (c.field == policy::SelectorField::Binary)
            t.binary = true;
        else if (c.field != policy::SelectorField::Agent)
            t.names_containers = true;
        else if (c.field == policy::SelectorField::Agent)
            (c.negate ? t.need_not_agent : t.need_agent) = true;
    }
    return t;
}

// Whether a selector matches a container not identified yet: one that names
// no container matches it (it is in a container); one that does, as the
// rule's posture says.
bool matches_unidentified(const SelectorTraits& s, const policy::CompiledRule& r) {
    if (!s.names_containers)
        return true;
    const bool denies = r.action != policy::PolicyAction::Allow;
    return r.unidentified == policy::Posture::Closed ? denies : !denies;
}

} // namespace

Result<PolicyImage> build_image(const policy::CompiledPolicy& policy) {
    if (policy.rules.size() > PG_MAX_RULES)
        return make_error("policy has " + std::to_string(policy.rules.size()) +
                          " rules; the kernel holds at most " + std::to_string(PG_MAX_RULES));
    PolicyImage img;
    img.ops.assign(PG_OP_SLOTS, pg_rule_set{});
    img.by_src_selector.assign(policy.selectors.size(), pg_rule_set{});
    img.by_tgt_selector.assign(policy.selectors.size(), pg_rule_set{});
    std::vector<SelectorTraits> sel;
    for (const auto& s : policy.selectors)
        sel.push_back(traits(s));

    for (size_t i = 0; i < policy.rules.size(); ++i) {
        const auto& r = policy.rules[i];
        if (r.id != i + 1)
            return make_error("compiled rule " + r.name + " has id " + std::to_string(r.id) +
                              ", expected " + std::to_string(i + 1));
        if (r.source_selector >= sel.size() || r.target_selector >= sel.size())
            return make_error("compiled rule " + r.name + " names an unknown selector");
        img.rules.push_back(pg_rule{r.id, static_cast<uint8_t>(r.action), {}});
        const auto& src = sel[r.source_selector];
        const auto& tgt = sel[r.target_selector];
        if (src.binary || tgt.binary) {
            img.user_space_only.push_back(r.id);
            continue; // in no operation set: never matches in the kernel
        }
        const uint32_t bit = static_cast<uint32_t>(i);
        const uint64_t masks[PG_OP_KINDS] = {r.signals, r.ptrace, r.proc_entries};
        for (int k = 0; k < PG_OP_KINDS; ++k) {
            if (!(r.op_kinds & (1u << k)))
                continue;
            for (int b = 0; b < PG_OP_BITS; ++b)
                if (masks[k] & (1ULL << b))
                    rule_set_add(img.ops[k * PG_OP_BITS + b], bit);
        }
        for (int rel = 0; rel < PG_RELATIONS; ++rel)
            if (r.relations & (1u << rel))
                rule_set_add(img.gen.relation[rel], bit);
        if (src.need_agent)
            rule_set_add(img.gen.src_agent, bit);
        if (src.need_not_agent)
            rule_set_add(img.gen.src_not_agent, bit);
        if (tgt.need_agent)
            rule_set_add(img.gen.tgt_agent, bit);
        if (tgt.need_not_agent)
            rule_set_add(img.gen.tgt_not_agent, bit);
        if (matches_unidentified(src, r))
            rule_set_add(img.gen.unident_src, bit);
        if (matches_unidentified(tgt, r))
            rule_set_add(img.gen.unident_tgt, bit);
        if (src.names_containers)
            rule_set_add(img.gen.ident_src, bit);
        if (tgt.names_containers)
            rule_set_add(img.gen.ident_tgt, bit);
        rule_set_add(img.by_src_selector[r.source_selector], bit);
        rule_set_add(img.by_tgt_selector[r.target_selector], bit);
    }
    img.gen.rule_count = static_cast<uint32_t>(policy.rules.size());
    CgroupFacts host; // not in a container
    pg_cgroup_info h = cgroup_info(policy, img, host);
    img.gen.host_src = h.src;
    img.gen.host_tgt = h.tgt;
    return img;
}

pg_cgroup_info cgroup_info(const policy::CompiledPolicy& policy, const PolicyImage& image,
                           const CgroupFacts& facts) {
    pg_cgroup_info info{};
    info.pod_id = facts.pod_id;
    info.container_id = facts.container_id;
    info.in_container = facts.party.in_container ? 1 : 0;
    if (facts.party.in_container && facts.unidentified) {
        info.unidentified = 1;
        info.src = image.gen.unident_src;
        info.tgt = image.gen.unident_tgt;
        return info;
    }
    for (size_t s = 0; s < policy.selectors.size() && s < image.by_src_selector.size(); ++s) {
        if (!policy::matches_container(policy.selectors[s], facts.party))
            continue;
        rule_set_or(info.src, image.by_src_selector[s]);
        rule_set_or(info.tgt, image.by_tgt_selector[s]);
    }
    return info;
}

uint32_t NumberAssigner::number(const std::string& key) {
    auto [it, fresh] = numbers_.emplace(key, next_);
    if (fresh)
        ++next_;
    return it->second;
}

void NumberAssigner::forget(const std::string& key) {
    numbers_.erase(key);
}

CgroupFacts cgroup_facts(const Party& party, NumberAssigner& pods, NumberAssigner& containers) {
    CgroupFacts f;
    f.cgroup_id = party.cgroup_id;
    f.party = policy::party_facts(party, 0);
    f.party.binary.clear();
    f.party.is_agent = false;
    if (party.container) {
        if (!party.container->id.empty())
            f.container_id = containers.number(party.container->id);
        const std::string& pod_uid = party.pod ? party.pod->uid : party.container->pod_uid;
        if (!pod_uid.empty())
            f.pod_id = pods.number(pod_uid);
        // Named by no provider yet, or in a pod whose name and labels are
        // not known yet: a selector naming containers cannot be judged.
        f.unidentified = party.container->name.empty() || (!pod_uid.empty() && !party.pod);
    }
    return f;
}

} // namespace podguard::enforce

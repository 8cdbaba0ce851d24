// Puts a compiled policy into the kernel's policy maps and keeps the
// per-cgroup entries current. A load writes the inactive generation in full
// and then flips pg_enforce_config.active_gen with one map update: the kernel
// sees the old policy or the new one, never a mix, and a load that fails
// half-way leaves the live policy untouched.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "common/result.h"
#include "enforce/policy_image.h"
#include "loader/bpf_objects.h"
#include "policy/compiled.h"

namespace podguard::enforce {

class PolicyMaps {
  public:
    explicit PolicyMaps(PolicyMapFds fds) : fds_(fds) {}
    explicit PolicyMaps(const BpfObjects& objects);

    // Builds the image, writes it and every cgroup `cgroups` returns (may be
    // empty) into the inactive generation, then switches to it.
    Status load(const policy::CompiledPolicy& policy, const CgroupFactsProvider& cgroups = {});
    // A container (or host cgroup) appeared or its facts changed: its entry
    // for the active policy. Needs a load() first (an adopted pinned policy
    // was compiled by someone else: reload it).
    Status put_cgroup(const CgroupFacts& facts);
    // The cgroup is gone: drop its entries of both generations.
    Status remove_cgroup(uint64_t cgroup_id);

    Result<uint32_t> active_generation() const;
    std::shared_ptr<const policy::CompiledPolicy> active_policy() const;
    // Rule ids the kernel cannot decide (see PolicyImage::user_space_only).
    std::vector<uint32_t> user_space_only() const;

  private:
    Status write_generation(uint32_t gen, const PolicyImage& image,
                            const std::vector<pg_cgroup_info>& infos,
                            const std::vector<CgroupFacts>& facts);
    Status drop_generation_cgroups(uint32_t gen);

    mutable std::mutex mu_;
    PolicyMapFds fds_;
    std::shared_ptr<const policy::CompiledPolicy> policy_;
    std::shared_ptr<const PolicyImage> image_;
};

// One-shot form: what `podguard run --policy` does at startup. The daemon
// keeps a PolicyMaps instead when it must add cgroups later.
Status load_policy(BpfObjects& objects, const policy::CompiledPolicy& policy,
                   const CgroupFactsProvider& cgroups = {});

} // namespace podguard::enforce

#include "enforce/policy_maps.h"

#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>

namespace podguard::enforce {
namespace {

Error map_error(const char* what) {
    return Error{std::string("cannot write policy map (") + what + "): " + strerror(errno)};
}

// Array updates in one syscall when the kernel can, one by one otherwise.
Status update_array(int fd, const std::vector<uint32_t>& keys, const void* values,
                    size_t value_size, const char* what) {
    if (keys.empty())
        return {};
    uint32_t count = static_cast<uint32_t>(keys.size());
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    if (bpf_map_update_batch(fd, keys.data(), values, &count, &opts) == 0 && count == keys.size())
        return {};
    const auto* bytes = static_cast<const unsigned char*>(values);
    for (size_t i = 0; i < keys.size(); ++i)
        if (bpf_map_update_elem(fd, &keys[i], bytes + i * value_size, BPF_ANY) != 0)
            return map_error(what);
    return {};
}

} // namespace

Result<uint32_t> PolicyMaps::active_generation() const {
    uint32_t zero = 0;
    pg_enforce_config cfg{};
    if (bpf_map_lookup_elem(fds_.config, &zero, &cfg) != 0)
        return make_error("cannot read enforcement config: " + std::string(strerror(errno)));
    return cfg.active_gen & 1;
}

std::shared_ptr<const policy::CompiledPolicy> PolicyMaps::active_policy() const {
    std::lock_guard lock(mu_);
    return policy_;
}

std::vector<uint32_t> PolicyMaps::user_space_only() const {
    std::lock_guard lock(mu_);
    return image_ ? image_->user_space_only : std::vector<uint32_t>{};
}

Status PolicyMaps::drop_generation_cgroups(uint32_t gen) {
    std::vector<pg_cgroup_key> doomed;
    pg_cgroup_key key{}, next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fds_.cgroups, prev, &next) == 0) {
        if (next.gen == gen)
            doomed.push_back(next);
        key = next;
        prev = &key;
    }
    for (const auto& k : doomed)
        if (bpf_map_delete_elem(fds_.cgroups, &k) != 0 && errno != ENOENT)
            return map_error("pg_cgroups delete");
    return {};
}

Status PolicyMaps::write_generation(uint32_t gen, const PolicyImage& image,
                                    const std::vector<pg_cgroup_info>& infos,
                                    const std::vector<CgroupFacts>& facts) {
    // Leftovers of the policy before the live one (still there so that a
    // decision racing the last switch found its entries).
    if (auto st = drop_generation_cgroups(gen); !st)
        return st;
    std::vector<uint32_t> keys(image.rules.size());
    for (size_t i = 0; i < keys.size(); ++i)
        keys[i] = gen * PG_MAX_RULES + static_cast<uint32_t>(i);
    if (auto st =
            update_array(fds_.rules, keys, image.rules.data(), sizeof(pg_rule), "pg_policy_rules");
        !st)
        return st;
    keys.resize(PG_OP_SLOTS);
    for (uint32_t i = 0; i < PG_OP_SLOTS; ++i)
        keys[i] = gen * PG_OP_SLOTS + i;
    if (auto st =
            update_array(fds_.ops, keys, image.ops.data(), sizeof(pg_rule_set), "pg_policy_ops");
        !st)
        return st;
    for (size_t i = 0; i < facts.size(); ++i) {
        pg_cgroup_key k{facts[i].cgroup_id, gen, 0};
        if (bpf_map_update_elem(fds_.cgroups, &k, &infos[i], BPF_ANY) != 0)
            return map_error("pg_cgroups");
    }
    // The facts of a cgroup without an entry of its own (bpf/podguard.h).
    pg_cgroup_info host{}, unidentified{};
    host.src = image.gen.host_src;
    host.tgt = image.gen.host_tgt;
    unidentified.in_container = 1;
    unidentified.unidentified = 1;
    unidentified.src = image.gen.unident_src;
    unidentified.tgt = image.gen.unident_tgt;
    for (auto [id, info] : {std::pair{PG_CGROUP_KEY_HOST, &host},
                            std::pair{PG_CGROUP_KEY_UNIDENTIFIED, &unidentified}}) {
        pg_cgroup_key k{id, gen, 0};
        if (bpf_map_update_elem(fds_.cgroups, &k, info, BPF_ANY) != 0)
            return map_error("pg_cgroups");
    }
    if (bpf_map_update_elem(fds_.gens, &gen, &image.gen, BPF_ANY) != 0)
        return map_error("pg_policy_gens");
    return {};
}

Status PolicyMaps::load(const policy::CompiledPolicy& policy, const CgroupFactsProvider& cgroups) {
    auto image = build_image(policy);
    if (!image)
        return image.error();
    std::vector<CgroupFacts> facts = cgroups ? cgroups() : std::vector<CgroupFacts>{};
    std::vector<pg_cgroup_info> infos;
    infos.reserve(facts.size());
    for (const auto& f : facts)
        infos.push_back(cgroup_info(policy, *image, f));

    std::lock_guard lock(mu_);
    uint32_t zero = 0;
    pg_enforce_config cfg{};
    if (bpf_map_lookup_elem(fds_.config, &zero, &cfg) != 0)
        return make_error("cannot read enforcement config: " + std::string(strerror(errno)));
    const uint32_t next = (cfg.active_gen & 1) ^ 1;
    if (auto st = write_generation(next, *image, infos, facts); !st)
        return make_error(st.error().message + " (the active policy is unchanged)");
    cfg.active_gen = next; // the switch: one element, one store
    if (bpf_map_update_elem(fds_.config, &zero, &cfg, BPF_ANY) != 0)
        return map_error("pg_enforce_config");
    policy_ = std::make_shared<const policy::CompiledPolicy>(policy);
    image_ = std::make_shared<const PolicyImage>(std::move(*image));
    return {};
}

Status PolicyMaps::put_cgroup(const CgroupFacts& facts) {
    std::lock_guard lock(mu_);
    if (!policy_)
        return make_error("no policy loaded by this daemon yet");
    auto gen = active_generation();
    if (!gen)
        return gen.error();
    pg_cgroup_info info = cgroup_info(*policy_, *image_, facts);
    pg_cgroup_key k{facts.cgroup_id, *gen, 0};
    if (bpf_map_update_elem(fds_.cgroups, &k, &info, BPF_ANY) != 0)
        return map_error("pg_cgroups");
    return {};
}

Status PolicyMaps::remove_cgroup(uint64_t cgroup_id) {
    std::lock_guard lock(mu_);
    for (uint32_t gen = 0; gen < PG_POLICY_GENS; ++gen) {
        pg_cgroup_key k{cgroup_id, gen, 0};
        if (bpf_map_delete_elem(fds_.cgroups, &k) != 0 && errno != ENOENT)
            return map_error("pg_cgroups delete");
    }
    return {};
}

} // namespace podguard::enforce

#include "daemon/policy_runtime.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "daemon/api_policies.h"
#include "metrics/health.h"
#include "metrics/metrics.h"
#include "output/event_identity.h"
#include "policy/compiled.h"
#include "policy/load.h"
#include "policy/shadow.h"

namespace podguard {

namespace {

time_t mtime_of(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 ? st.st_mtime : 0;
}

void publish_rules(const policy::CompiledPolicy& compiled) {
    std::vector<RuleIdentity> ids;
    ids.reserve(compiled.rules.size());
    for (const auto& r : compiled.rules) {
        std::string rule = r.name.substr(std::min(r.name.size(), r.policy.size() + 1));
        ids.push_back({r.policy, std::move(rule), r.severity});
    }
    publish_rule_identities(std::move(ids));
}

} // namespace

PolicyRuntime::PolicyRuntime(BpfObjects& objects, std::vector<std::string> paths, Metrics* metrics)
    : maps_(objects), paths_(std::move(paths)), metrics_(metrics) {}

std::map<std::string, time_t> PolicyRuntime::mtimes() const {
    std::map<std::string, time_t> out;
    for (const auto& p : paths_) {
        out[p] = mtime_of(p);
        if (DIR* d = opendir(p.c_str())) {
            while (struct dirent* e = readdir(d))
                if (e->d_name[0] != '.')
                    out[p + "/" + e->d_name] = mtime_of(p + "/" + e->d_name);
            closedir(d);
        }
    }
    return out;
}

std::vector<enforce::CgroupFacts> PolicyRuntime::known_facts() {
    std::vector<enforce::CgroupFacts> out;
    out.reserve(cgroups_.size());
    for (const auto& [id, entry] : cgroups_)
        out.push_back(entry.first);
    return out;
}

PolicyRuntime::~PolicyRuntime() = default;

bool PolicyRuntime::ready() const {
    return loaded_ && (!api_ || api_->synced());
}

Status PolicyRuntime::reload() {
    last_mtimes_ = mtimes();
    auto set = paths_.empty() ? policy::load_default_policy() : policy::load_policies(paths_);
    if (set && api_)
        api_->merge_into(*set);
    Status result;
    if (!set) {
        result = set.error();
    } else if (auto compiled = policy::compile(*set); !compiled) {
        result = compiled.error();
    } else if (auto st = maps_.load(*compiled, [this] { return known_facts(); }); !st) {
        result = st;
    } else {
        rules_ = compiled->rules.size();
        publish_rules(*compiled);
        loaded_ = true;
        if (api_)
            api_->mark_applied();
        health_set_policy_loaded(ready());
        spdlog::info("policy loaded: {} rules from {}{} (fingerprint {})", rules_,
                     paths_.empty() ? std::string("the embedded default")
                                    : fmt::format("{}", fmt::join(paths_, ", ")),
                     api_ ? " and PodGuardPolicy objects" : "", compiled->fingerprint_hex());
        for (const auto& s : policy::find_shadowed(*compiled))
            spdlog::warn("policy: {}", policy::format(s));
        if (auto user_only = maps_.user_space_only(); !user_only.empty())
            spdlog::warn("{} rule(s) match on the source binary and are not enforced in the "
                         "kernel",
                         user_only.size());
    }
    if (!result.ok())
        spdlog::error("policy not loaded, the previous policy stays in force: {}",
                      result.error().message);
    if (metrics_)
        metrics_->record_policy_reload(result.ok(), rules_);
    return result;
}

void PolicyRuntime::maybe_reload(bool requested) {
    const bool api_changed = api_ && api_->refresh();
    if (requested || api_changed || (!paths_.empty() && mtimes() != last_mtimes_))
        (void)reload();
}

void PolicyRuntime::register_party(const Party& party) {
    if (!party.known || !party.container || party.cgroup_id == 0)
        return;
    auto it = cgroups_.find(party.cgroup_id);
    const bool has_pod = party.pod.has_value();
    // Register once, and again when metadata (pod name, labels) arrives.
    if (it != cgroups_.end() && (it->second.second || !has_pod))
        return;
    enforce::CgroupFacts facts = enforce::cgroup_facts(party, pods_, containers_);
    if (auto st = maps_.put_cgroup(facts); !st) {
        spdlog::warn("cannot register cgroup {} with the policy: {}", party.cgroup_id,
                     st.error().message);
        return;
    }
    cgroups_[party.cgroup_id] = {std::move(facts), has_pod};
}

void PolicyRuntime::consume(const Event& event) noexcept {
    try {
        register_party(event.source);
        register_party(event.target);
    } catch (const std::exception& e) {
        spdlog::warn("policy registration failed: {}", e.what());
    }
}

} // namespace podguard

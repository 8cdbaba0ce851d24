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
    for (const auto& [id, facts] : cgroups_)
        out.push_back(facts);
    return out;
}

PolicyRuntime::~PolicyRuntime() = default;

bool PolicyRuntime::ready() const {
    return loaded_ && (!api_ || api_->synced());
}

Status PolicyRuntime::reload() {
    std::lock_guard lock(mu_);
    last_mtimes_ = mtimes();
    auto set = paths_.empty() ? policy::load_default_policy() : policy::load_policies(paths_);
    if (set && api_)
        api_->merge_into(*set);
    Status result;
    policy::CompileOptions options;
    options.unidentified = default_posture_;
    if (!set) {
        result = set.error();
    } else if (auto compiled = policy::compile(*set, options); !compiled) {
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
    bool changed;
    {
        std::lock_guard lock(mu_);
        changed = !paths_.empty() && mtimes() != last_mtimes_;
    }
    if (requested || api_changed || changed)
        (void)reload();
}

namespace {

bool same_facts(const enforce::CgroupFacts& a, const enforce::CgroupFacts& b) {
    return a.pod_id == b.pod_id && a.container_id == b.container_id &&
           a.unidentified == b.unidentified && a.party.in_container == b.party.in_container &&
           a.party.namespace_ == b.party.namespace_ && a.party.pod == b.party.pod &&
           a.party.container == b.party.container && a.party.pod_labels == b.party.pod_labels;
}

} // namespace

bool PolicyRuntime::register_party(const Party& party, bool refresh) {
    if (!party.known || !party.container || party.cgroup_id == 0)
        return false;
    std::lock_guard lock(mu_);
    if (!refresh)
        if (auto it = cgroups_.find(party.cgroup_id);
            it != cgroups_.end() && !it->second.unidentified)
            return false; // the event path: identified once is enough
    enforce::CgroupFacts facts = enforce::cgroup_facts(party, pods_, containers_);
    auto it = cgroups_.find(party.cgroup_id);
    // Once, and again when what is known changes (names and pod arrived).
    // An event's party may know less than the registrar did: never go back.
    if (it != cgroups_.end() &&
        (same_facts(it->second, facts) || (!it->second.unidentified && facts.unidentified)))
        return false;
    if (auto st = maps_.put_cgroup(facts); !st) {
        spdlog::warn("cannot register cgroup {} with the policy: {}", party.cgroup_id,
                     st.error().message);
        return false;
    }
    cgroups_[party.cgroup_id] = std::move(facts);
    return true;
}

void PolicyRuntime::register_host_cgroup(uint64_t cgroup_id) {
    std::lock_guard lock(mu_);
    if (cgroups_.count(cgroup_id))
        return;
    enforce::CgroupFacts facts;
    facts.cgroup_id = cgroup_id;
    if (auto st = maps_.put_cgroup(facts); !st)
        return;
    cgroups_[cgroup_id] = std::move(facts);
}

void PolicyRuntime::forget_cgroup(uint64_t cgroup_id) {
    std::lock_guard lock(mu_);
    if (cgroups_.erase(cgroup_id))
        (void)maps_.remove_cgroup(cgroup_id);
}

bool PolicyRuntime::registered(uint64_t cgroup_id) const {
    std::lock_guard lock(mu_);
    auto it = cgroups_.find(cgroup_id);
    return it != cgroups_.end() && !it->second.unidentified;
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

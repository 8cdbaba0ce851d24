#include "daemon/api_policies.h"

#include <set>
#include <spdlog/spdlog.h>

#include "metrics/metrics.h"
#include "metrics/policy_status.h"

namespace podguard {

ApiPolicies::ApiPolicies(metadata::kubernetes::PolicyWatch& watch, Metrics* metrics)
    : watch_(watch) {
    if (metrics)
        metrics_ = std::make_unique<PolicyStatusMetrics>(metrics->registry());
}

ApiPolicies::~ApiPolicies() = default;

void ApiPolicies::report(const std::string& name, bool ok, const std::string& why) {
    if (ok)
        spdlog::info("policy: PodGuardPolicy {} loaded", name);
    else
        spdlog::error("policy: PodGuardPolicy {} refused{}: {}", name,
                      accepted_.count(name) ? " (its previous version stays in force)" : "", why);
    if (metrics_)
        metrics_->set(name, ok);
}

bool ApiPolicies::refresh() {
    auto changes = watch_.take_changes();
    if (!changes)
        return false;
    seen_list_ = true;
    for (auto it = accepted_.begin(); it != accepted_.end();) {
        if (!changes->count(it->first)) {
            spdlog::info("policy: PodGuardPolicy {} removed", it->first);
            if (metrics_)
                metrics_->forget(it->first);
            last_text_.erase(it->first);
            it = accepted_.erase(it);
        } else {
            ++it;
        }
    }
    for (auto it = last_text_.begin(); it != last_text_.end();)
        it = changes->count(it->first) ? std::next(it) : last_text_.erase(it);
    for (const auto& [name, text] : *changes) {
        if (last_text_[name] == text)
            continue; // unchanged: its result stands
        last_text_[name] = text;
        auto set = policy::load_policy_text(text, "podguardpolicy/" + name);
        if (!set) {
            report(name, false, set.error().message);
            continue;
        }
        if (set->policies.size() != 1 || set->policies[0].name.value != name) {
            report(name, false, "not one policy named as the object");
            continue;
        }
        accepted_[name] = std::move(set->policies[0]);
        report(name, true, "");
    }
    return true;
}

void ApiPolicies::merge_into(policy::PolicySet& set) {
    std::set<std::string> taken;
    for (const auto& d : set.policies)
        taken.insert(d.name.value);
    for (const auto& [name, doc] : accepted_) {
        if (taken.count(name)) {
            report(name, false, "a policy file already uses this name");
            continue;
        }
        set.policies.push_back(doc);
        set.files.push_back("podguardpolicy/" + name);
    }
    policy::sort_by_precedence(set.policies);
}

} // namespace podguard

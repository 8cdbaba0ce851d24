#include "policy/check.h"

#include <map>

#include "policy/compiled.h"
#include "policy/load.h"
#include "policy/shadow.h"

namespace podguard::policy {

int policy_check_main(const std::vector<std::string>& paths, std::ostream& out, std::ostream& err) {
    if (paths.empty()) {
        err << "podguard policy check: give one or more policy files or directories\n";
        return 1;
    }
    std::vector<Diagnostic> diags;
    auto set = load_policies(paths, &diags);
    if (!set) {
        for (const auto& d : diags)
            err << format(d) << "\n";
        err << diags.size() << (diags.size() == 1 ? " error" : " errors") << "\n";
        return 1;
    }
    auto compiled = compile(*set);
    if (!compiled) {
        err << "podguard policy check: " << compiled.error().message << "\n";
        return 1;
    }
    size_t rules = 0;
    for (const auto& p : set->policies)
        rules += p.rules.size();
    out << "OK: " << set->policies.size()
        << (set->policies.size() == 1 ? " policy, " : " policies, ") << rules
        << (rules == 1 ? " rule" : " rules") << " in " << set->files.size()
        << (set->files.size() == 1 ? " file" : " files") << "\n";
    // Precedence made visible: the order the kernel will walk.
    std::map<std::string, std::pair<uint32_t, uint32_t>> span;
    for (const auto& r : compiled->rules) {
        auto [it, fresh] = span.emplace(r.policy, std::make_pair(r.id, r.id));
        if (!fresh)
            it->second.second = r.id;
    }
    for (const auto& name : compiled->policies) {
        auto [first, last] = span[name];
        out << "  rules " << first << "-" << last << "  " << name << "\n";
    }
    // A rule that an earlier one always pre-empts is almost always a mistake
    // (e.g. observe-only's allow-everything before seed-pod in one folder).
    auto shadowed = find_shadowed(*compiled);
    for (const auto& s : shadowed)
        err << format(s) << "\n";
    out << "compiled: " << compiled->rules.size() << " table rules, " << compiled->selectors.size()
        << " selectors, fingerprint " << compiled->fingerprint_hex() << "\n";
    return 0;
}

} // namespace podguard::policy

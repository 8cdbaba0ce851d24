#include "policy/validate.h"

#include <map>
#include <unordered_map>

#include "policy/names.h"

namespace podguard::policy {
namespace {

// Kubernetes object names (RFC 1123 subdomain), so policies can later be CRDs.
bool valid_name(const std::string& s, size_t max) {
    if (s.empty() || s.size() > max)
        return false;
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(s.front()) || !alnum(s.back()))
        return false;
    for (char c : s)
        if (!alnum(c) && c != '-' && c != '.')
            return false;
    return true;
}

class Checker {
  public:
    Checker(const PolicyDocument& d, std::vector<Diagnostic>& out) : d_(d), out_(out) {}

    void run() {
        Pos doc = d_.pos.known() ? d_.pos : Pos{1, 1};
        if (!d_.api_version.present())
            error(doc, std::string("missing apiVersion (expected ") + kApiVersion + ")");
        else if (d_.api_version.value != kApiVersion)
            error(d_.api_version.pos, "unsupported apiVersion '" + d_.api_version.value +
                                          "' (expected " + kApiVersion + ")");
        if (!d_.kind.present())
            error(doc, std::string("missing kind (expected ") + kKind + ")");
        else if (d_.kind.value != kKind)
            error(d_.kind.pos, "unsupported kind '" + d_.kind.value + "' (expected " + kKind + ")");
        if (!d_.metadata_pos.known())
            error(doc, "missing metadata.name");
        else if (!d_.name.present())
            error(d_.metadata_pos, "missing metadata.name");
        else if (!valid_name(d_.name.value, 253))
            error(d_.name.pos, "invalid metadata.name '" + d_.name.value +
                                   "': use lowercase letters, digits, '-' and '.', starting and "
                                   "ending with a letter or digit");
        if (!d_.spec_pos.known()) {
            error(doc, "missing spec");
            return;
        }
        if (d_.priority &&
            (d_.priority->value < -kMaxPriority || d_.priority->value > kMaxPriority))
            error(d_.priority->pos, "spec.priority " + std::to_string(d_.priority->value) +
                                        " is out of range -" + std::to_string(kMaxPriority) + ".." +
                                        std::to_string(kMaxPriority));
        if (d_.default_action)
            action(*d_.default_action, [] { return std::string("spec.defaultAction"); });
        if (d_.unidentified && !parse_posture(d_.unidentified->value))
            error(d_.unidentified->pos, "unknown posture '" + d_.unidentified->value +
                                            "' in spec.unidentified (expected closed or open)");
        selector(d_.selector, [] { return std::string("spec.selector"); });
        selector(d_.target_selector, [] { return std::string("spec.targetSelector"); });
        if (!d_.rules_written.present())
            error(d_.spec_pos, "missing spec.rules");
        else if (d_.rules_written.value == 0)
            error(d_.rules_written.pos, "spec.rules is empty: a policy needs at least one rule");
        std::unordered_map<std::string, Pos> names;
        names.reserve(d_.rules.size());
        for (size_t i = 0; i < d_.rules.size(); ++i)
            rule(d_.rules[i], names, [&] { return "spec.rules[" + std::to_string(i) + "]"; });
    }

  private:
    void error(Pos p, std::string msg) {
        out_.push_back(Diagnostic{d_.file, p.line, p.column, std::move(msg)});
    }

    // `where()` spells the place for a message ("spec.rules[3].source"): called
    // only when there is an error to report, not for every value of every rule.
    template <class Where> void action(const Located<std::string>& a, const Where& where) {
        if (!parse_action(a.value))
            error(a.pos, "unknown action '" + a.value + "' in " + where() +
                             " (expected allow, audit or block)" +
                             did_you_mean(a.value, action_names()));
    }

    template <class Where>
    void pattern(const Located<std::string>& v, bool path, const Where& where) {
        const std::string& s = v.value;
        if (s.empty()) {
            error(v.pos, "empty value in " + where());
            return;
        }
        auto star = s.find('*');
        if (star != std::string::npos && star != s.size() - 1) {
            error(v.pos, "'" + s + "' in " + where() +
                             ": '*' is only allowed at the end (a prefix match)");
            return;
        }
        if (path && s != "*" && s[0] != '/')
            error(v.pos, "'" + s + "' in " + where() +
                             ": binaries are absolute executable paths (e.g. /bin/kill or "
                             "/usr/bin/*)");
    }

    template <class Where>
    void patterns(const std::vector<Located<std::string>>& values, bool path, const Where& where) {
        for (const auto& v : values)
            pattern(v, path, where);
    }

    template <class Where> void selector(const SelectorSpec& s, const Where& where) {
        patterns(s.namespaces, false, [&] { return where() + ".namespaces"; });
        patterns(s.pods, false, [&] { return where() + ".pods"; });
        patterns(s.containers, false, [&] { return where() + ".containers"; });
        patterns(s.binaries, true, [&] { return where() + ".binaries"; });
        for (const auto& label : s.pod_labels) {
            const Located<std::string>& k = label.first; // a lambda cannot capture a binding
            if (k.value.empty())
                error(k.pos, "empty label key in " + where() + ".podLabels");
            pattern(label.second, false, [&] { return where() + ".podLabels." + k.value; });
        }
    }

    template <class Where> void operation(const OperationSpec& op, const Where& where) {
        for (const auto& v : op.values) {
            switch (op.kind) {
            case OperationKind::Signal:
                if (!parse_signal(v.value))
                    error(v.pos, "unknown signal '" + v.value + "' in " + where() +
                                     " (a name like SIGHUP or HUP, or a number 1..64)" +
                                     did_you_mean(v.value, signal_names()));
                break;
            case OperationKind::Ptrace:
                if (!parse_ptrace_bit(v.value))
                    error(v.pos, "unknown ptrace request '" + v.value + "' in " + where() +
                                     " (a name like PTRACE_ATTACH or ATTACH, a request number, "
                                     "process_vm_readv or process_vm_writev)" +
                                     did_you_mean(v.value, ptrace_names()));
                break;
            case OperationKind::ProcAccess:
                if (!parse_proc_entry(v.value))
                    error(v.pos, "unknown /proc entry '" + v.value + "' in " + where() +
                                     did_you_mean(v.value, proc_entry_names()));
                break;
            }
        }
    }

    template <class Where>
    void rule(const RuleSpec& r, std::unordered_map<std::string, Pos>& names, const Where& where) {
        Pos at = r.pos.known() ? r.pos : d_.spec_pos;
        if (!r.name.present()) {
            error(at, "missing name in " + where());
        } else if (!valid_name(r.name.value, 63)) {
            error(r.name.pos, "invalid rule name '" + r.name.value +
                                  "': use lowercase letters, digits, '-' and '.' (at most 63), "
                                  "starting and ending with a letter or digit");
        } else {
            auto [it, fresh] = names.emplace(r.name.value, r.name.pos);
            if (!fresh)
                error(r.name.pos, "duplicate rule name '" + r.name.value + "' (first at line " +
                                      std::to_string(it->second.line) + ")");
        }
        if (!r.action.present())
            error(at, "missing action in " + where() + " (allow, audit or block)");
        else
            action(r.action, [&] { return where() + ".action"; });
        if (r.severity.present() && !parse_severity(r.severity.value))
            error(r.severity.pos, "unknown severity '" + r.severity.value + "' in " + where() +
                                      ".severity (info, low, medium, high or critical)");
        if (!r.operations_written.present())
            error(at, "missing operations in " + where() +
                          " (a list of signal, ptrace and/or procAccess)");
        else if (r.operations_written.value == 0)
            error(r.operations_written.pos, where() + ".operations is empty");
        for (size_t i = 0; i < r.operations.size(); ++i)
            operation(r.operations[i],
                      [&] { return where() + ".operations[" + std::to_string(i) + "]"; });
        selector(r.source, [&] { return where() + ".source"; });
        selector(r.target, [&] { return where() + ".target"; });
        for (const auto& rel : r.relations)
            if (!parse_relation(rel.value))
                error(rel.pos, "unknown relation '" + rel.value + "' in " + where() +
                                   ".relations (same_container, same_pod, host_to_container, "
                                   "container_to_host, cross_pod, host)" +
                                   did_you_mean(rel.value, relation_names()));
    }

    const PolicyDocument& d_;
    std::vector<Diagnostic>& out_;
};

} // namespace

std::vector<Diagnostic> validate(const PolicyDocument& doc) {
    std::vector<Diagnostic> out;
    Checker(doc, out).run();
    return out;
}

std::vector<Diagnostic> validate(const std::vector<PolicyDocument>& docs) {
    std::vector<Diagnostic> out;
    std::map<std::string, const PolicyDocument*> seen;
    for (const auto& d : docs) {
        Checker(d, out).run();
        if (!d.name.present() || d.name.value.empty())
            continue;
        if (d.name.value == kSelfProtectionName) {
            out.push_back({d.file, d.name.pos.line, d.name.pos.column,
                           std::string("metadata.name '") + kSelfProtectionName +
                               "' is reserved for the built-in self-protection policy"});
            continue;
        }
        auto [it, fresh] = seen.emplace(d.name.value, &d);
        if (!fresh)
            out.push_back({d.file, d.name.pos.line, d.name.pos.column,
                           "duplicate policy name '" + d.name.value + "' (first in " +
                               it->second->file + ":" + std::to_string(it->second->name.pos.line) +
                               ")"});
    }
    return out;
}

} // namespace podguard::policy

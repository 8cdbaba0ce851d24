#include "policy/compiled.h"

#include <algorithm>
#include <cstdio>
#include <tuple>
#include <unordered_map>

#include "policy/parse.h"
#include "policy/validate.h"

namespace podguard::policy {
namespace {

// Nothing in a container (or another pod, when the agent runs in one) may
// touch the agent; host processes (systemd, kubelet, an admin) still may.
const char kSelfProtection[] = R"(apiVersion: podguard.io/v1alpha1
kind: PodGuardPolicy
metadata:
  name: podguard-self-protection
spec:
  rules:
    - name: agent-is-untouchable
      description: no container may signal, trace or read /proc of the podguard agent
      action: block
      severity: critical
      operations: [signal, ptrace, procAccess]
      target: {agent: true}
      relations: [container_to_host, cross_pod, same_pod]
)";

class Fnv {
  public:
    void bytes(const void* p, size_t n) {
        auto* b = static_cast<const unsigned char*>(p);
        for (size_t i = 0; i < n; ++i) {
            h_ ^= b[i];
            h_ *= 0x100000001b3ULL;
        }
    }
    void u64(uint64_t v) {
        unsigned char b[8];
        for (int i = 0; i < 8; ++i)
            b[i] = static_cast<unsigned char>(v >> (8 * i)); // fixed byte order
        bytes(b, 8);
    }
    void str(const std::string& s) {
        u64(s.size());
        bytes(s.data(), s.size());
    }
    uint64_t value() const { return h_; }

  private:
    uint64_t h_ = 0xcbf29ce484222325ULL;
};

class Builder {
  public:
    Builder() {
        out_.strings.push_back("");
        interned_[""] = 0;
        out_.selectors.push_back(Selector{});
        selector_ids_[key_of({})] = 0;
        selector_keys_.push_back(key_of({}));
    }

    uint32_t intern(const std::string& s) {
        auto [it, fresh] = interned_.emplace(s, static_cast<uint32_t>(out_.strings.size()));
        if (fresh)
            out_.strings.push_back(s);
        return it->second;
    }

    static Pattern pattern(const std::string& s) {
        Pattern p;
        p.prefix = !s.empty() && s.back() == '*';
        p.text = p.prefix ? s.substr(0, s.size() - 1) : s;
        return p;
    }

    Clause clause(SelectorField f, const std::vector<Located<std::string>>& values) {
        Clause c;
        c.field = f;
        for (const auto& v : values)
            c.any_of.push_back(pattern(v.value));
        return c;
    }

    void add_clauses(const SelectorSpec& s, std::vector<Clause>& out) {
        if (!s.namespaces.empty())
            out.push_back(clause(SelectorField::Namespace, s.namespaces));
        if (!s.pods.empty())
            out.push_back(clause(SelectorField::Pod, s.pods));
        for (const auto& [k, v] : s.pod_labels) {
            Clause c = clause(SelectorField::PodLabel, {v});
            c.key_text = k.value;
            out.push_back(std::move(c));
        }
        if (!s.containers.empty())
            out.push_back(clause(SelectorField::Container, s.containers));
        if (!s.binaries.empty())
            out.push_back(clause(SelectorField::Binary, s.binaries));
        if (s.agent) {
            Clause c;
            c.field = SelectorField::Agent;
            c.negate = !s.agent->value;
            out.push_back(std::move(c));
        }
    }

    // Equal predicates share one id, whatever order they were written in.
    Result<uint32_t> selector(const SelectorSpec& outer, const SelectorSpec& inner) {
        std::vector<Clause> written;
        add_clauses(outer, written);
        add_clauses(inner, written);
        // Each clause's key is computed once: comparing by clause_key inside the
        // sort allocated two strings per comparison.
        std::vector<std::pair<std::string, Clause*>> keyed;
        keyed.reserve(written.size());
        for (auto& c : written) {
            std::sort(c.any_of.begin(), c.any_of.end(), [](const Pattern& a, const Pattern& b) {
                return std::tie(a.text, a.prefix) < std::tie(b.text, b.prefix);
            });
            c.any_of.erase(std::unique(c.any_of.begin(), c.any_of.end(),
                                       [](const Pattern& a, const Pattern& b) {
                                           return a.text == b.text && a.prefix == b.prefix;
                                       }),
                           c.any_of.end());
            keyed.emplace_back(clause_key(c), &c);
        }
        // Equal keys mean equal clauses, so which of them stays does not matter.
        std::sort(keyed.begin(), keyed.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        keyed.erase(std::unique(keyed.begin(), keyed.end(),
                                [](const auto& a, const auto& b) { return a.first == b.first; }),
                    keyed.end());
        std::vector<Clause> clauses;
        clauses.reserve(keyed.size());
        std::string key;
        for (auto& [k, c] : keyed) {
            key += k + ";";
            clauses.push_back(std::move(*c));
        }
        // Interned only now, in canonical order, so the string table (and the
        // fingerprint) does not depend on how the YAML listed things.
        for (auto& c : clauses) {
            c.key = intern(c.key_text);
            for (auto& p : c.any_of)
                p.str = intern(p.text);
        }
        auto it = selector_ids_.find(key);
        if (it != selector_ids_.end())
            return it->second;
        if (out_.selectors.size() >= kMaxSelectors)
            return make_error("too many distinct selectors (at most " +
                              std::to_string(kMaxSelectors) + ")");
        Selector s;
        s.id = static_cast<uint32_t>(out_.selectors.size());
        for (const auto& c : clauses)
            if (c.field == SelectorField::Binary || c.field == SelectorField::Agent)
                s.process_level = true;
        s.clauses = std::move(clauses);
        selector_ids_[key] = s.id;
        selector_keys_.push_back(std::move(key));
        out_.selectors.push_back(std::move(s));
        return out_.selectors.back().id;
    }

    Status rule(const PolicyDocument& d, const RuleSpec& r) {
        CompiledRule c;
        c.name = d.name.value + "/" + r.name.value;
        c.policy = d.name.value;
        c.action = *parse_action(r.action.value);
        c.severity = r.severity.present() ? r.severity.value : default_severity(c.action);
        c.unidentified = posture_of(d);
        for (const auto& op : r.operations) {
            c.op_kinds |= static_cast<uint8_t>(1u << static_cast<int>(op.kind));
            uint64_t mask = 0;
            for (const auto& v : op.values) {
                switch (op.kind) {
                case OperationKind::Signal:
                    mask |= signal_bit(*parse_signal(v.value));
                    break;
                case OperationKind::Ptrace:
                    mask |= 1ULL << *parse_ptrace_bit(v.value);
                    break;
                case OperationKind::ProcAccess:
                    mask |= 1ULL << *parse_proc_entry(v.value);
                    break;
                }
            }
            switch (op.kind) {
            case OperationKind::Signal:
                c.signals |= op.values.empty() ? kAllSignals : mask;
                break;
            case OperationKind::Ptrace:
                c.ptrace |= op.values.empty() ? kAllPtrace : mask;
                break;
            case OperationKind::ProcAccess:
                c.proc_entries |= op.values.empty() ? all_proc_entries() : mask;
                break;
            }
        }
        for (const auto& rel : r.relations)
            c.relations |= static_cast<uint8_t>(1u << static_cast<int>(*parse_relation(rel.value)));
        if (r.relations.empty())
            c.relations = kAllRelations;
        auto src = selector(d.selector, r.source);
        if (!src)
            return src.error();
        auto tgt = selector(d.target_selector, r.target);
        if (!tgt)
            return tgt.error();
        c.source_selector = *src;
        c.target_selector = *tgt;
        c.origin = d.file + ":" + std::to_string(r.pos.line);
        return push(std::move(c));
    }

    // defaultAction: everything the policy's selectors cover that no rule took.
    Status catch_all(const PolicyDocument& d) {
        CompiledRule c;
        c.name = d.name.value + "/default";
        c.policy = d.name.value;
        c.action = *parse_action(d.default_action->value);
        c.severity = default_severity(c.action);
        c.unidentified = posture_of(d);
        c.op_kinds = (1u << kOperationKinds) - 1;
        c.signals = kAllSignals;
        c.ptrace = kAllPtrace;
        c.proc_entries = all_proc_entries();
        c.relations = kAllRelations;
        auto src = selector(d.selector, {});
        if (!src)
            return src.error();
        auto tgt = selector(d.target_selector, {});
        if (!tgt)
            return tgt.error();
        c.source_selector = *src;
        c.target_selector = *tgt;
        c.origin = d.file + ":" + std::to_string(d.default_action->pos.line);
        return push(std::move(c));
    }

    Status policy(const PolicyDocument& d) {
        out_.policies.push_back(d.name.value);
        for (const auto& r : d.rules)
            if (auto s = rule(d, r); !s)
                return s;
        if (d.default_action)
            return catch_all(d);
        return {};
    }

    CompiledPolicy finish() {
        Fnv h;
        h.str("podguard-policy-v1");
        h.u64(out_.strings.size());
        for (const auto& s : out_.strings)
            h.str(s);
        h.u64(out_.selectors.size());
        for (const auto& k : selector_keys_) // == key_of(selector.clauses)
            h.str(k);
        h.u64(out_.rules.size());
        for (const auto& r : out_.rules) {
            h.u64(r.id);
            h.str(r.name);
            h.u64(static_cast<uint64_t>(r.action));
            h.u64(r.op_kinds);
            h.u64(r.signals);
            h.u64(r.ptrace);
            h.u64(r.proc_entries);
            h.u64(r.relations);
            h.u64(r.source_selector);
            h.u64(r.target_selector);
            // Only when not the default: fingerprints of policies from before stay.
            if (r.unidentified != Posture::Closed)
                h.u64(static_cast<uint64_t>(r.unidentified));
        }
        h.u64(out_.policies.size());
        for (const auto& p : out_.policies)
            h.str(p);
        out_.fingerprint = h.value();
        return std::move(out_);
    }

    Posture default_posture = Posture::Closed;

  private:
    Posture posture_of(const PolicyDocument& d) const {
        if (d.unidentified)
            if (auto p = parse_posture(d.unidentified->value))
                return *p;
        return default_posture;
    }

    Status push(CompiledRule c) {
        if (out_.rules.size() >= kMaxCompiledRules)
            return make_error("too many rules (at most " + std::to_string(kMaxCompiledRules) +
                              " after compilation, including defaultAction and self-protection)");
        c.id = static_cast<uint32_t>(out_.rules.size() + 1);
        out_.rules.push_back(std::move(c));
        return {};
    }

    static std::string clause_key(const Clause& c) {
        std::string k = std::to_string(static_cast<int>(c.field)) + (c.negate ? "!" : "") + "|" +
                        std::to_string(c.key_text.size()) + ":" + c.key_text;
        for (const auto& p : c.any_of)
            k += "|" + std::to_string(p.text.size()) + (p.prefix ? "*" : "=") + p.text;
        return k;
    }

    static std::string key_of(const std::vector<Clause>& clauses) {
        std::string k;
        for (const auto& c : clauses)
            k += clause_key(c) + ";";
        return k;
    }

    CompiledPolicy out_;
    std::unordered_map<std::string, uint32_t> interned_;
    std::unordered_map<std::string, uint32_t> selector_ids_;
    std::vector<std::string> selector_keys_; // by selector id
};

} // namespace

std::string CompiledPolicy::fingerprint_hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fingerprint));
    return buf;
}

std::string_view self_protection_yaml() {
    return {kSelfProtection, sizeof(kSelfProtection) - 1};
}

namespace {

Result<PolicyDocument> parse_self_protection() {
    ParseOutput p = parse_documents(self_protection_yaml(), "<built-in self-protection>");
    auto v = p.documents.size() == 1 ? validate(p.documents[0]) : std::vector<Diagnostic>{};
    p.diagnostics.insert(p.diagnostics.end(), v.begin(), v.end());
    if (!p.diagnostics.empty() || p.documents.size() != 1)
        return make_error(
            "built-in self-protection policy is broken: " +
            (p.diagnostics.empty() ? std::string("no document") : format(p.diagnostics[0])));
    return std::move(p.documents[0]);
}

} // namespace

Result<PolicyDocument> self_protection_policy() {
    // Parsed once: every compile (every reload) prepends it.
    static const Result<PolicyDocument> self = parse_self_protection();
    return self;
}

Result<CompiledPolicy> compile(const PolicySet& set, const CompileOptions& options) {
    // The builder trusts every word to resolve; a set not from load_policies()
    // is checked here rather than trusted.
    if (auto v = validate(set.policies); !v.empty())
        return make_error("cannot compile an invalid policy set: " + format(v[0]));
    Builder b;
    b.default_posture = options.unidentified;
    if (options.self_protection) {
        auto self = self_protection_policy();
        if (!self)
            return self.error();
        if (auto s = b.policy(*self); !s)
            return s.error();
    }
    for (const auto& d : set.policies)
        if (auto s = b.policy(d); !s)
            return s.error();
    return b.finish();
}

} // namespace podguard::policy

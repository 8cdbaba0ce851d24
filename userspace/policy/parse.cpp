#include "policy/parse.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <initializer_list>
#include <set>

#include <yaml-cpp/exceptions.h>

#include "policy/names.h"
#include "policy/yaml_tree.h"

namespace podguard::policy {
namespace {

using yaml::NodeRef;

const char* type_name(NodeRef n) {
    switch (n.type()) {
    case yaml::Type::Null:
        return "nothing";
    case yaml::Type::Scalar:
        return "a scalar";
    case yaml::Type::Sequence:
        return "a list";
    case yaml::Type::Map:
        return "a mapping";
    }
    return "an undefined value";
}

// Thrown when the walk has read kMaxValues values: anchors and aliases let a
// small file repeat a large list many times over.
struct OverBudget {
    Pos at;
};

// Where a value sits as diagnostics spell it ("spec.rules[3].source.pods[0]").
// A chain of these follows the walk down the stack; it becomes text only when
// a diagnostic is reported, not for each of the thousands of values a large
// policy holds.
struct Where {
    const Where* parent = nullptr;
    std::string_view name; // the whole text at the root, else appended as ".name"
    long index = -1;       // appended as "[index]" instead
    bool of_keys = false;  // "a key of <parent>"

    static Where root(std::string_view text) { return Where{nullptr, text, -1, false}; }
    static Where child(const Where& parent, std::string_view name) {
        return Where{&parent, name, -1, false};
    }
    static Where item(const Where& parent, size_t i) {
        return Where{&parent, {}, static_cast<long>(i), false};
    }
    static Where key_of(const Where& parent) { return Where{&parent, {}, -1, true}; }

    std::string str() const {
        if (!parent)
            return std::string(name);
        if (of_keys)
            return "a key of " + parent->str();
        if (index >= 0)
            return parent->str() + "[" + std::to_string(index) + "]";
        return parent->str() + "." + std::string(name);
    }
};

// Keys met so far in one mapping: a handful in a policy, but a hostile file
// may hold thousands, so a set takes over past a few.
class SeenKeys {
  public:
    // False when `key` was seen before. The text must outlive this object.
    bool insert(std::string_view key) {
        if (set_.empty()) {
            if (std::find(small_.begin(), small_.begin() + static_cast<ptrdiff_t>(used_), key) !=
                small_.begin() + static_cast<ptrdiff_t>(used_))
                return false;
            if (used_ < small_.size()) {
                small_[used_++] = key;
                return true;
            }
            set_.insert(small_.begin(), small_.end());
        }
        return set_.insert(key).second;
    }

  private:
    std::array<std::string_view, 16> small_;
    size_t used_ = 0;
    std::set<std::string_view> set_;
};

std::vector<std::string> names_of(std::initializer_list<std::string_view> known) {
    return std::vector<std::string>(known.begin(), known.end());
}

class Walker {
  public:
    Walker(const std::string& file, std::vector<Diagnostic>& out) : file_(file), out_(out) {}

    void error(Pos at, std::string message) {
        out_.push_back(Diagnostic{file_, at.line, at.column, std::move(message)});
    }

    void spend(Pos at) {
        if (++spent_ > kMaxValues)
            throw OverBudget{at};
    }

    // Null nodes carry the position of the next token; the key is a better place.
    static Pos pos(NodeRef n, Pos fallback) {
        if (n.is_null())
            return fallback;
        if (n.line() < 0 || n.column() < 0)
            return fallback;
        return Pos{n.line() + 1, n.column() + 1};
    }

    // Calls on_field(key, key_pos, value) for each known key. Null = empty mapping.
    template <class OnField>
    bool fields(NodeRef map, Pos at, const Where& where,
                std::initializer_list<std::string_view> known, OnField&& on_field) {
        if (map.is_null())
            return true;
        if (!map.is_map()) {
            error(pos(map, at),
                  "expected a mapping for " + where.str() + ", got " + type_name(map));
            return false;
        }
        const Pos map_pos = pos(map, at);
        SeenKeys seen;
        for (size_t i = 0; i < map.size(); ++i) {
            NodeRef key = map.key(i);
            Pos kp = pos(key, map_pos);
            spend(kp);
            if (!key.is_scalar()) {
                error(kp,
                      "field names in " + where.str() + " must be strings, got " + type_name(key));
                continue;
            }
            const std::string& k = key.scalar();
            if (!seen.insert(k)) {
                error(kp, "duplicate field '" + k + "' in " + where.str());
                continue;
            }
            if (std::find(known.begin(), known.end(), k) == known.end()) {
                error(kp, "unknown field '" + k + "' in " + where.str() +
                              did_you_mean(k, names_of(known)));
                continue;
            }
            on_field(std::string_view(k), kp, map.value(i));
        }
        return true;
    }

    std::optional<Located<std::string>> scalar(NodeRef n, Pos at, const Where& where) {
        spend(at);
        if (!n.is_scalar()) {
            error(pos(n, at), "expected a string for " + where.str() + ", got " + type_name(n));
            return std::nullopt;
        }
        return Located<std::string>{n.scalar(), pos(n, at)};
    }

    // Null = empty list.
    std::vector<Located<std::string>> scalars(NodeRef n, Pos at, const Where& where) {
        std::vector<Located<std::string>> out;
        if (n.is_null())
            return out;
        if (!n.is_sequence()) {
            error(pos(n, at), "expected a list for " + where.str() + ", got " + type_name(n));
            return out;
        }
        const Pos list_pos = pos(n, at);
        out.reserve(n.size());
        for (size_t i = 0; i < n.size(); ++i)
            if (auto s = scalar(n.item(i), list_pos, Where::item(where, i)))
                out.push_back(std::move(*s));
        return out;
    }

    std::optional<Located<bool>> boolean(NodeRef n, Pos at, const Where& where) {
        if (n.is_scalar()) {
            std::string v = n.scalar();
            std::transform(v.begin(), v.end(), v.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            if (v == "true" || v == "false")
                return Located<bool>{v == "true", pos(n, at)};
        }
        error(pos(n, at), "expected true or false for " + where.str() + ", got " +
                              (n.is_scalar() ? "'" + n.scalar() + "'" : type_name(n)));
        return std::nullopt;
    }

    std::optional<Located<int64_t>> integer(NodeRef n, Pos at, const Where& where) {
        if (n.is_scalar()) {
            const std::string& s = n.scalar();
            int64_t v = 0;
            const char* b = s.data();
            if (!s.empty() && s[0] == '+')
                ++b;
            auto [p, ec] = std::from_chars(b, s.data() + s.size(), v);
            if (ec == std::errc() && p == s.data() + s.size() && b != p)
                return Located<int64_t>{v, pos(n, at)};
        }
        error(pos(n, at), "expected an integer for " + where.str() + ", got " +
                              (n.is_scalar() ? "'" + n.scalar() + "'" : type_name(n)));
        return std::nullopt;
    }

    void string_map(NodeRef n, Pos at, const Where& where,
                    std::vector<std::pair<Located<std::string>, Located<std::string>>>* out) {
        if (n.is_null())
            return;
        if (!n.is_map()) {
            error(pos(n, at), "expected a mapping for " + where.str() + ", got " + type_name(n));
            return;
        }
        const Pos map_pos = pos(n, at);
        const Where key_where = Where::key_of(where);
        SeenKeys seen;
        for (size_t i = 0; i < n.size(); ++i) {
            NodeRef key = n.key(i);
            Pos kp = pos(key, map_pos);
            auto k = scalar(key, kp, key_where);
            if (!k)
                continue;
            if (!seen.insert(key.scalar())) {
                error(kp, "duplicate key '" + k->value + "' in " + where.str());
                continue;
            }
            auto v = scalar(n.value(i), kp, Where::child(where, key.scalar()));
            if (v && out)
                out->emplace_back(std::move(*k), std::move(*v));
        }
    }

    SelectorSpec selector(NodeRef n, Pos at, const Where& where) {
        SelectorSpec s;
        s.pos = pos(n, at);
        fields(n, at, where, {"namespaces", "pods", "podLabels", "containers", "binaries", "agent"},
               [&](std::string_view k, Pos kp, NodeRef v) {
                   const Where w = Where::child(where, k);
                   if (k == "namespaces")
                       s.namespaces = scalars(v, kp, w);
                   else if (k == "pods")
                       s.pods = scalars(v, kp, w);
                   else if (k == "containers")
                       s.containers = scalars(v, kp, w);
                   else if (k == "binaries")
                       s.binaries = scalars(v, kp, w);
                   else if (k == "podLabels")
                       string_map(v, kp, w, &s.pod_labels);
                   else if (k == "agent")
                       s.agent = boolean(v, kp, w);
               });
        return s;
    }

    void operation(NodeRef n, Pos at, const Where& where, RuleSpec& rule) {
        static const std::vector<std::string> kinds = {"signal", "ptrace", "procAccess"};
        auto kind_of = [](std::string_view k) {
            return k == "signal"   ? OperationKind::Signal
                   : k == "ptrace" ? OperationKind::Ptrace
                                   : OperationKind::ProcAccess;
        };
        Pos p = pos(n, at);
        if (n.is_scalar()) { // shorthand: `- ptrace` = every ptrace request
            const std::string& k = n.scalar();
            if (std::find(kinds.begin(), kinds.end(), k) == kinds.end()) {
                error(p, "unknown operation '" + k + "' in " + where.str() +
                             " (expected signal, ptrace or procAccess)" + did_you_mean(k, kinds));
                return;
            }
            rule.operations.push_back(OperationSpec{kind_of(k), p, {}});
            return;
        }
        if (!n.is_map()) {
            error(p, "expected an operation (signal, ptrace or procAccess) for " + where.str() +
                         ", got " + type_name(n));
            return;
        }
        if (n.size() == 0) {
            error(p,
                  "empty operation in " + where.str() + ": give one of signal, ptrace, procAccess");
            return;
        }
        int count = 0;
        fields(n, at, where, {"signal", "ptrace", "procAccess"},
               [&](std::string_view k, Pos kp, NodeRef v) {
                   if (++count > 1) {
                       error(kp, "an operation has exactly one of signal, ptrace, procAccess; "
                                 "write '" +
                                     std::string(k) + "' as its own list item");
                       return;
                   }
                   OperationSpec op{kind_of(k), kp, {}};
                   const char* list = k == "signal"   ? "signals"
                                      : k == "ptrace" ? "requests"
                                                      : "entries";
                   const Where w = Where::child(where, k);
                   fields(v, kp, w, {list}, [&](std::string_view lk, Pos lp, NodeRef lv) {
                       op.values = scalars(lv, lp, Where::child(w, lk));
                   });
                   rule.operations.push_back(std::move(op));
               });
    }

    RuleSpec rule(NodeRef n, Pos at, const Where& where) {
        RuleSpec r;
        r.pos = pos(n, at);
        if (!n.is_map()) {
            error(r.pos, "expected a mapping for " + where.str() + ", got " + type_name(n));
            return r;
        }
        fields(n, at, where,
               {"name", "description", "action", "severity", "operations", "source", "target",
                "relations"},
               [&](std::string_view k, Pos kp, NodeRef v) {
                   const Where w = Where::child(where, k);
                   if (k == "name") {
                       if (auto s = scalar(v, kp, w))
                           r.name = std::move(*s);
                   } else if (k == "description") {
                       if (auto s = scalar(v, kp, w))
                           r.description = std::move(s->value);
                   } else if (k == "action") {
                       if (auto s = scalar(v, kp, w))
                           r.action = std::move(*s);
                   } else if (k == "severity") {
                       if (auto s = scalar(v, kp, w))
                           r.severity = std::move(*s);
                   } else if (k == "operations") {
                       r.operations_written = {v.is_sequence() ? static_cast<int>(v.size())
                                               : v.is_null()   ? 0
                                                               : -1,
                                               pos(v, kp)};
                       if (v.is_null())
                           return;
                       if (!v.is_sequence()) {
                           error(pos(v, kp),
                                 "expected a list for " + w.str() + ", got " + type_name(v));
                           return;
                       }
                       const Pos list_pos = pos(v, kp);
                       for (size_t i = 0; i < v.size(); ++i)
                           operation(v.item(i), list_pos, Where::item(w, i), r);
                   } else if (k == "source") {
                       r.source = selector(v, kp, w);
                   } else if (k == "target") {
                       r.target = selector(v, kp, w);
                   } else if (k == "relations") {
                       r.relations = scalars(v, kp, w);
                   }
               });
        return r;
    }

    std::optional<PolicyDocument> document(NodeRef root, Pos at) {
        PolicyDocument d;
        d.file = file_;
        d.pos = pos(root, at);
        if (!root.is_map()) {
            error(d.pos, std::string("expected a PodGuardPolicy mapping, got ") + type_name(root));
            return std::nullopt; // nothing to validate
        }
        fields(root, at, Where::root("the document"), {"apiVersion", "kind", "metadata", "spec"},
               [&](std::string_view k, Pos kp, NodeRef v) {
                   if (k == "apiVersion") {
                       if (auto s = scalar(v, kp, Where::root("apiVersion")))
                           d.api_version = std::move(*s);
                   } else if (k == "kind") {
                       if (auto s = scalar(v, kp, Where::root("kind")))
                           d.kind = std::move(*s);
                   } else if (k == "metadata") {
                       d.metadata_pos = pos(v, kp);
                       metadata(v, kp, d);
                   } else if (k == "spec") {
                       d.spec_pos = pos(v, kp);
                       spec(v, kp, d);
                   }
               });
        return d;
    }

  private:
    void metadata(NodeRef v, Pos at, PolicyDocument& d) {
        const Where where = Where::root("metadata");
        fields(v, at, where, {"name", "labels", "annotations", "namespace"},
               [&](std::string_view k, Pos kp, NodeRef fv) {
                   if (k == "name") {
                       if (auto s = scalar(fv, kp, Where::child(where, k)))
                           d.name = std::move(*s);
                   } else if (k == "labels" || k == "annotations") {
                       string_map(fv, kp, Where::child(where, k), nullptr);
                   } else if (k == "namespace") {
                       // People write it out of habit and would expect it to scope the policy.
                       error(kp, "metadata.namespace is not supported: a PodGuardPolicy applies "
                                 "to the whole node; use spec.selector.namespaces");
                   }
               });
    }

    void spec(NodeRef v, Pos at, PolicyDocument& d) {
        const Where where = Where::root("spec");
        fields(v, at, where,
               {"description", "selector", "targetSelector", "priority", "rules", "defaultAction",
                "unidentified"},
               [&](std::string_view k, Pos kp, NodeRef fv) {
                   const Where w = Where::child(where, k);
                   if (k == "description") {
                       (void)scalar(fv, kp, w);
                   } else if (k == "selector") {
                       d.selector = selector(fv, kp, w);
                   } else if (k == "targetSelector") {
                       d.target_selector = selector(fv, kp, w);
                   } else if (k == "priority") {
                       if (auto i = integer(fv, kp, w))
                           d.priority = *i;
                   } else if (k == "defaultAction") {
                       if (auto s = scalar(fv, kp, w))
                           d.default_action = std::move(*s);
                   } else if (k == "unidentified") {
                       if (auto s = scalar(fv, kp, w))
                           d.unidentified = std::move(*s);
                   } else if (k == "rules") {
                       d.rules_written = {fv.is_sequence() ? static_cast<int>(fv.size())
                                          : fv.is_null()   ? 0
                                                           : -1,
                                          pos(fv, kp)};
                       if (fv.is_null())
                           return;
                       if (!fv.is_sequence()) {
                           error(pos(fv, kp), std::string("expected a list for spec.rules, got ") +
                                                  type_name(fv));
                           return;
                       }
                       const Pos list_pos = pos(fv, kp);
                       d.rules.reserve(d.rules.size() + fv.size());
                       for (size_t i = 0; i < fv.size(); ++i)
                           d.rules.push_back(rule(fv.item(i), list_pos, Where::item(w, i)));
                   }
               });
    }

    const std::string& file_;
    std::vector<Diagnostic>& out_;
    size_t spent_ = 0;
};

} // namespace

std::string format(const Diagnostic& d) {
    return d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) +
           ": error: " + d.message;
}

ParseOutput parse_documents(std::string_view text, const std::string& file) {
    ParseOutput out;
    Walker w(file, out.diagnostics);
    yaml::Tree tree;
    try {
        tree = yaml::load_all(text);
    } catch (const YAML::Exception& e) {
        Pos p{e.mark.line >= 0 ? e.mark.line + 1 : 1, e.mark.column >= 0 ? e.mark.column + 1 : 1};
        w.error(p, "invalid YAML: " + e.msg);
        return out;
    } catch (const std::exception& e) {
        w.error(Pos{1, 1}, std::string("invalid YAML: ") + e.what());
        return out;
    }
    try {
        for (uint32_t root : tree.documents) {
            if (root == yaml::kNone)
                continue;
            NodeRef doc(tree, root);
            if (doc.is_null())
                continue;
            if (auto d = w.document(doc, Pos{1, 1}))
                out.documents.push_back(std::move(*d));
        }
    } catch (const OverBudget& e) {
        w.error(e.at, "policy too large: more than " + std::to_string(kMaxValues) +
                          " values (anchors and aliases count each time they are used)");
    } catch (const std::exception& e) {
        // Kept from the YAML::Node days; a walk of the flat tree should not
        // throw, but if it does the file is still rejected with a diagnostic.
        w.error(Pos{1, 1}, std::string("cannot read policy: ") + e.what());
    }
    if (out.documents.empty() && out.diagnostics.empty())
        w.error(Pos{1, 1}, "no PodGuardPolicy document in file");
    return out;
}

} // namespace podguard::policy

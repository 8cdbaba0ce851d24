#include "policy/parse.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <initializer_list>
#include <set>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "policy/names.h"

namespace podguard::policy {
namespace {

const char* type_name(const YAML::Node& n) {
    switch (n.Type()) {
    case YAML::NodeType::Null:
        return "nothing";
    case YAML::NodeType::Scalar:
        return "a scalar";
    case YAML::NodeType::Sequence:
        return "a list";
    case YAML::NodeType::Map:
        return "a mapping";
    default:
        return "an undefined value";
    }
}

// Thrown when the walk has read kMaxValues values: anchors and aliases let a
// small file repeat a large list many times over.
struct OverBudget {
    Pos at;
};

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
    static Pos pos(const YAML::Node& n, Pos fallback) {
        if (n.IsNull() || !n.IsDefined())
            return fallback;
        YAML::Mark m = n.Mark();
        if (m.line < 0 || m.column < 0)
            return fallback;
        return Pos{m.line + 1, m.column + 1};
    }

    // Calls on_field(key, key_pos, value) for each known key. Null = empty mapping.
    bool fields(const YAML::Node& map, Pos at, const std::string& where,
                std::initializer_list<const char*> known,
                const std::function<void(const std::string&, Pos, const YAML::Node&)>& on_field) {
        if (map.IsNull())
            return true;
        if (!map.IsMap()) {
            error(pos(map, at), "expected a mapping for " + where + ", got " + type_name(map));
            return false;
        }
        std::vector<std::string> names(known.begin(), known.end());
        std::set<std::string> seen;
        for (const auto& kv : map) {
            const YAML::Node& key = kv.first;
            Pos kp = pos(key, pos(map, at));
            spend(kp);
            if (!key.IsScalar()) {
                error(kp, "field names in " + where + " must be strings, got " + type_name(key));
                continue;
            }
            const std::string& k = key.Scalar();
            if (!seen.insert(k).second) {
                error(kp, "duplicate field '" + k + "' in " + where);
                continue;
            }
            if (std::find(names.begin(), names.end(), k) == names.end()) {
                error(kp, "unknown field '" + k + "' in " + where + did_you_mean(k, names));
                continue;
            }
            on_field(k, kp, kv.second);
        }
        return true;
    }

    std::optional<Located<std::string>> scalar(const YAML::Node& n, Pos at,
                                               const std::string& where) {
        spend(at);
        if (!n.IsScalar()) {
            error(pos(n, at), "expected a string for " + where + ", got " + type_name(n));
            return std::nullopt;
        }
        return Located<std::string>{n.Scalar(), pos(n, at)};
    }

    // Null = empty list.
    std::vector<Located<std::string>> scalars(const YAML::Node& n, Pos at,
                                              const std::string& where) {
        std::vector<Located<std::string>> out;
        if (n.IsNull())
            return out;
        if (!n.IsSequence()) {
            error(pos(n, at), "expected a list for " + where + ", got " + type_name(n));
            return out;
        }
        size_t i = 0;
        for (const auto& item : n) {
            if (auto s = scalar(item, pos(n, at), where + "[" + std::to_string(i) + "]"))
                out.push_back(std::move(*s));
            ++i;
        }
        return out;
    }

    std::optional<Located<bool>> boolean(const YAML::Node& n, Pos at, const std::string& where) {
        if (n.IsScalar()) {
            std::string v = n.Scalar();
            std::transform(v.begin(), v.end(), v.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            if (v == "true" || v == "false")
                return Located<bool>{v == "true", pos(n, at)};
        }
        error(pos(n, at), "expected true or false for " + where + ", got " +
                              (n.IsScalar() ? "'" + n.Scalar() + "'" : type_name(n)));
        return std::nullopt;
    }

    std::optional<Located<int64_t>> integer(const YAML::Node& n, Pos at, const std::string& where) {
        if (n.IsScalar()) {
            const std::string& s = n.Scalar();
            int64_t v = 0;
            const char* b = s.data();
            if (!s.empty() && s[0] == '+')
                ++b;
            auto [p, ec] = std::from_chars(b, s.data() + s.size(), v);
            if (ec == std::errc() && p == s.data() + s.size() && b != p)
                return Located<int64_t>{v, pos(n, at)};
        }
        error(pos(n, at), "expected an integer for " + where + ", got " +
                              (n.IsScalar() ? "'" + n.Scalar() + "'" : type_name(n)));
        return std::nullopt;
    }

    void string_map(const YAML::Node& n, Pos at, const std::string& where,
                    std::vector<std::pair<Located<std::string>, Located<std::string>>>* out) {
        if (n.IsNull())
            return;
        if (!n.IsMap()) {
            error(pos(n, at), "expected a mapping for " + where + ", got " + type_name(n));
            return;
        }
        std::set<std::string> seen;
        for (const auto& kv : n) {
            Pos kp = pos(kv.first, pos(n, at));
            auto k = scalar(kv.first, kp, "a key of " + where);
            if (!k)
                continue;
            if (!seen.insert(k->value).second) {
                error(kp, "duplicate key '" + k->value + "' in " + where);
                continue;
            }
            auto v = scalar(kv.second, kp, where + "." + k->value);
            if (v && out)
                out->emplace_back(std::move(*k), std::move(*v));
        }
    }

    SelectorSpec selector(const YAML::Node& n, Pos at, const std::string& where) {
        SelectorSpec s;
        s.pos = pos(n, at);
        fields(n, at, where, {"namespaces", "pods", "podLabels", "containers", "binaries", "agent"},
               [&](const std::string& k, Pos kp, const YAML::Node& v) {
                   std::string w = where + "." + k;
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

    void operation(const YAML::Node& n, Pos at, const std::string& where, RuleSpec& rule) {
        static const std::vector<std::string> kinds = {"signal", "ptrace", "procAccess"};
        auto kind_of = [](const std::string& k) {
            return k == "signal"   ? OperationKind::Signal
                   : k == "ptrace" ? OperationKind::Ptrace
                                   : OperationKind::ProcAccess;
        };
        Pos p = pos(n, at);
        if (n.IsScalar()) { // shorthand: `- ptrace` = every ptrace request
            const std::string& k = n.Scalar();
            if (std::find(kinds.begin(), kinds.end(), k) == kinds.end()) {
                error(p, "unknown operation '" + k + "' in " + where +
                             " (expected signal, ptrace or procAccess)" + did_you_mean(k, kinds));
                return;
            }
            rule.operations.push_back(OperationSpec{kind_of(k), p, {}});
            return;
        }
        if (!n.IsMap()) {
            error(p, "expected an operation (signal, ptrace or procAccess) for " + where +
                         ", got " + type_name(n));
            return;
        }
        if (n.size() == 0) {
            error(p, "empty operation in " + where + ": give one of signal, ptrace, procAccess");
            return;
        }
        int count = 0;
        fields(n, at, where, {"signal", "ptrace", "procAccess"},
               [&](const std::string& k, Pos kp, const YAML::Node& v) {
                   if (++count > 1) {
                       error(kp, "an operation has exactly one of signal, ptrace, procAccess; "
                                 "write '" +
                                     k + "' as its own list item");
                       return;
                   }
                   OperationSpec op{kind_of(k), kp, {}};
                   const char* list = k == "signal"   ? "signals"
                                      : k == "ptrace" ? "requests"
                                                      : "entries";
                   std::string w = where + "." + k;
                   fields(v, kp, w, {list},
                          [&](const std::string& lk, Pos lp, const YAML::Node& lv) {
                              op.values = scalars(lv, lp, w + "." + lk);
                          });
                   rule.operations.push_back(std::move(op));
               });
    }

    RuleSpec rule(const YAML::Node& n, Pos at, const std::string& where) {
        RuleSpec r;
        r.pos = pos(n, at);
        if (!n.IsMap()) {
            error(r.pos, "expected a mapping for " + where + ", got " + type_name(n));
            return r;
        }
        fields(n, at, where,
               {"name", "description", "action", "operations", "source", "target", "relations"},
               [&](const std::string& k, Pos kp, const YAML::Node& v) {
                   std::string w = where + "." + k;
                   if (k == "name") {
                       if (auto s = scalar(v, kp, w))
                           r.name = *s;
                   } else if (k == "description") {
                       if (auto s = scalar(v, kp, w))
                           r.description = s->value;
                   } else if (k == "action") {
                       if (auto s = scalar(v, kp, w))
                           r.action = *s;
                   } else if (k == "operations") {
                       r.operations_written = {v.IsSequence() ? static_cast<int>(v.size())
                                               : v.IsNull()   ? 0
                                                              : -1,
                                               pos(v, kp)};
                       if (v.IsNull())
                           return;
                       if (!v.IsSequence()) {
                           error(pos(v, kp), "expected a list for " + w + ", got " + type_name(v));
                           return;
                       }
                       size_t i = 0;
                       for (const auto& item : v)
                           operation(item, pos(v, kp), w + "[" + std::to_string(i++) + "]", r);
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

    std::optional<PolicyDocument> document(const YAML::Node& root, Pos at) {
        PolicyDocument d;
        d.file = file_;
        d.pos = pos(root, at);
        if (!root.IsMap()) {
            error(d.pos, std::string("expected a PodGuardPolicy mapping, got ") + type_name(root));
            return std::nullopt; // nothing to validate
        }
        fields(root, at, "the document", {"apiVersion", "kind", "metadata", "spec"},
               [&](const std::string& k, Pos kp, const YAML::Node& v) {
                   if (k == "apiVersion") {
                       if (auto s = scalar(v, kp, "apiVersion"))
                           d.api_version = *s;
                   } else if (k == "kind") {
                       if (auto s = scalar(v, kp, "kind"))
                           d.kind = *s;
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
    void metadata(const YAML::Node& v, Pos at, PolicyDocument& d) {
        fields(v, at, "metadata", {"name", "labels", "annotations", "namespace"},
               [&](const std::string& k, Pos kp, const YAML::Node& fv) {
                   if (k == "name") {
                       if (auto s = scalar(fv, kp, "metadata.name"))
                           d.name = *s;
                   } else if (k == "labels" || k == "annotations") {
                       string_map(fv, kp, "metadata." + k, nullptr);
                   } else if (k == "namespace") {
                       // People write it out of habit and would expect it to scope the policy.
                       error(kp, "metadata.namespace is not supported: a PodGuardPolicy applies "
                                 "to the whole node; use spec.selector.namespaces");
                   }
               });
    }

    void spec(const YAML::Node& v, Pos at, PolicyDocument& d) {
        fields(v, at, "spec",
               {"description", "selector", "targetSelector", "priority", "rules", "defaultAction"},
               [&](const std::string& k, Pos kp, const YAML::Node& fv) {
                   if (k == "description") {
                       (void)scalar(fv, kp, "spec.description");
                   } else if (k == "selector") {
                       d.selector = selector(fv, kp, "spec.selector");
                   } else if (k == "targetSelector") {
                       d.target_selector = selector(fv, kp, "spec.targetSelector");
                   } else if (k == "priority") {
                       if (auto i = integer(fv, kp, "spec.priority"))
                           d.priority = *i;
                   } else if (k == "defaultAction") {
                       if (auto s = scalar(fv, kp, "spec.defaultAction"))
                           d.default_action = *s;
                   } else if (k == "rules") {
                       d.rules_written = {fv.IsSequence() ? static_cast<int>(fv.size())
                                          : fv.IsNull()   ? 0
                                                          : -1,
                                          pos(fv, kp)};
                       if (fv.IsNull())
                           return;
                       if (!fv.IsSequence()) {
                           error(pos(fv, kp), std::string("expected a list for spec.rules, got ") +
                                                  type_name(fv));
                           return;
                       }
                       size_t i = 0;
                       for (const auto& item : fv)
                           d.rules.push_back(
                               rule(item, pos(fv, kp), "spec.rules[" + std::to_string(i++) + "]"));
                   }
               });
    }

    const std::string& file_;
    std::vector<Diagnostic>& out_;
    size_t spent_ = 0;
};

// yaml-cpp 0.7's LoadAll never returns on some inputs (a stray ',' or ']' at
// top level): the parser yields empty documents forever without consuming
// the token. A dry run through the event API with a bound on the number of
// documents (there cannot be more than lines + 1) finds those first.
class DocumentCounter : public YAML::EventHandler {
  public:
    void OnDocumentStart(const YAML::Mark& mark) override {
        ++documents;
        last = mark;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}

    size_t documents = 0;
    YAML::Mark last;
};

// Throws YAML::ParserException like LoadAll would, for either problem.
void dry_run(const std::string& text) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentCounter counter;
    size_t limit = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 2;
    while (parser.HandleNextDocument(counter)) {
        if (counter.documents > limit) {
            std::string what = "unexpected character";
            if (counter.last.pos >= 0 && static_cast<size_t>(counter.last.pos) < text.size()) {
                char c = text[static_cast<size_t>(counter.last.pos)];
                if (c > ' ' && c < 127)
                    what = std::string("unexpected '") + c + "'";
            }
            throw YAML::ParserException(counter.last, what);
        }
    }
}

} // namespace

std::string format(const Diagnostic& d) {
    return d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) +
           ": error: " + d.message;
}

ParseOutput parse_documents(std::string_view text, const std::string& file) {
    ParseOutput out;
    Walker w(file, out.diagnostics);
    std::vector<YAML::Node> docs;
    try {
        std::string copy(text);
        dry_run(copy);
        docs = YAML::LoadAll(copy);
    } catch (const YAML::Exception& e) {
        Pos p{e.mark.line >= 0 ? e.mark.line + 1 : 1, e.mark.column >= 0 ? e.mark.column + 1 : 1};
        w.error(p, "invalid YAML: " + e.msg);
        return out;
    } catch (const std::exception& e) {
        w.error(Pos{1, 1}, std::string("invalid YAML: ") + e.what());
        return out;
    }
    try {
        for (const auto& doc : docs) {
            if (doc.IsNull())
                continue;
            if (auto d = w.document(doc, Pos{1, 1}))
                out.documents.push_back(std::move(*d));
        }
    } catch (const OverBudget& e) {
        w.error(e.at, "policy too large: more than " + std::to_string(kMaxValues) +
                          " values (anchors and aliases count each time they are used)");
    } catch (const std::exception& e) {
        // yaml-cpp's accessors should not throw on a parsed tree; if one does,
        // the file is still rejected with a diagnostic rather than a crash.
        w.error(Pos{1, 1}, std::string("cannot read policy: ") + e.what());
    }
    if (out.documents.empty() && out.diagnostics.empty())
        w.error(Pos{1, 1}, "no PodGuardPolicy document in file");
    return out;
}

} // namespace podguard::policy

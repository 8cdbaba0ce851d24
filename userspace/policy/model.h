// The policy language as written: plain structs filled by parse(), checked by
// validate(). Every value keeps where it was written so a diagnostic can point
// at it. Nothing here is resolved yet (signal names stay names).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace podguard::policy {

inline constexpr const char* kApiVersion = "podguard.io/v1alpha1";
inline constexpr const char* kKind = "PodGuardPolicy";

// 1-based; line 0 means "not written".
struct Pos {
    int line = 0;
    int column = 0;
    bool known() const { return line > 0; }
};

template <class T> struct Located {
    T value{};
    Pos pos;
    bool present() const { return pos.known(); }
};

struct Diagnostic {
    std::string file;
    int line = 0;
    int column = 0;
    std::string message;
};

// "file:line:col: error: message"
std::string format(const Diagnostic& d);

// Every string is exact, or a prefix when it ends with '*'. An empty or
// omitted list never restricts.
struct SelectorSpec {
    Pos pos; // of the mapping; unknown when omitted
    std::vector<Located<std::string>> namespaces;
    std::vector<Located<std::string>> pods;
    std::vector<Located<std::string>> containers;
    std::vector<Located<std::string>> binaries;
    std::vector<std::pair<Located<std::string>, Located<std::string>>> pod_labels; // as written
    std::optional<Located<bool>> agent; // the podguard agent's own processes
};

enum class OperationKind : uint8_t { Signal = 0, Ptrace = 1, ProcAccess = 2 };
inline constexpr int kOperationKinds = 3;

struct OperationSpec {
    OperationKind kind = OperationKind::Signal;
    Pos pos;
    // signals / requests / entries exactly as written; empty = all
    std::vector<Located<std::string>> values;
};

struct RuleSpec {
    Pos pos;
    Located<std::string> name;
    Located<std::string> action;
    Located<std::string> severity;   // info | low | medium | high | critical; omitted: by action
    Located<int> operations_written; // items in the YAML list, -1 if not a list
    std::vector<OperationSpec> operations;
    SelectorSpec source;
    SelectorSpec target;
    std::vector<Located<std::string>> relations; // empty = all
    std::string description;
};

struct PolicyDocument {
    std::string file;
    Pos pos;
    Located<std::string> api_version;
    Located<std::string> kind;
    Pos metadata_pos;
    Located<std::string> name;
    Pos spec_pos;
    std::optional<Located<int64_t>> priority;
    SelectorSpec selector;        // source side
    SelectorSpec target_selector; // target side
    Located<int> rules_written;   // items in the YAML list, -1 if not a list
    std::vector<RuleSpec> rules;
    std::optional<Located<std::string>> default_action;
    // closed | open: what the rules' container selectors (names, pods,
    // namespaces, labels) do for a container not identified yet.
    std::optional<Located<std::string>> unidentified;
};

} // namespace podguard::policy

// The vocabulary of the policy language and how each word maps to the bit the
// kernel tests. The BPF side must use the same mappings (they are tiny on
// purpose: a compare and a subtract at most).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/event.h"
#include "policy/model.h"

namespace podguard::policy {

enum class PolicyAction : uint8_t { Allow = 0, Audit = 1, Block = 2 }; // == pg_action values

// What a rule's container selectors (names, pods, namespaces, labels) do for
// a container the agent has not identified yet (its first milliseconds).
// Closed: block and audit rules match it, allow rules do not (the
// unidentified is denied what the policy denies to anyone it could be).
// Open: block and audit rules do not match it, allow rules do.
enum class Posture : uint8_t { Closed = 0, Open = 1 };

// Signals: bit (n-1) for signal n in 1..64. Signal 0 (an existence probe that
// delivers nothing) has no bit and is never matched.
inline constexpr uint64_t kAllSignals = ~0ULL;
std::optional<int> parse_signal(std::string_view text); // SIGHUP, HUP, hup, 1, SIGRTMIN+2
inline uint64_t signal_bit(int sig) {
    return sig >= 1 && sig <= 64 ? 1ULL << (sig - 1) : 0;
}

// ptrace requests: 0..33 -> bits 0..33, 0x4200..0x421a -> bits 34..60,
// anything else -> bit 61; process_vm_readv/writev get bits 62/63.
inline constexpr int kPtraceBitOther = 61;
inline constexpr int kPtraceBitProcessVmReadv = 62;
inline constexpr int kPtraceBitProcessVmWritev = 63;
inline constexpr uint64_t kAllPtrace = ~0ULL;
int ptrace_request_bit(int64_t request);
// PTRACE_ATTACH, attach, 16, 0x4206, process_vm_readv -> bit number
std::optional<int> parse_ptrace_bit(std::string_view text);

// /proc/<pid>/<entry>: bit = enum pg_proc_entry value. "All" includes bit 0
// (PG_PROC_NONE: an entry the agent has no name for).
std::optional<int> parse_proc_entry(std::string_view text);
const char* proc_entry_name(int entry); // "" for unknown
uint64_t all_proc_entries();

// Relations: bit = static_cast<int>(Relation) from events/event.h.
std::optional<Relation> parse_relation(std::string_view text);
inline constexpr uint8_t kAllRelations = 0x3f;

std::optional<PolicyAction> parse_action(std::string_view text);
std::optional<Posture> parse_posture(std::string_view text);
const char* to_string(Posture posture);
const char* to_string(PolicyAction action);
const char* to_string(OperationKind kind); // signal, ptrace, procAccess

// Words a user could have meant, for "did you mean" hints.
std::vector<std::string> signal_names();
std::vector<std::string> ptrace_names();
std::vector<std::string> proc_entry_names();
std::vector<std::string> relation_names();
std::vector<std::string> action_names();

// Rule severities, for routing events: info, low, medium, high, critical.
std::optional<std::string_view> parse_severity(std::string_view text);
// What a rule without `severity` reports: block high, audit medium, allow info.
const char* default_severity(PolicyAction action);

// The closest candidate within a small edit distance, or "".
std::string closest(std::string_view word, const std::vector<std::string>& candidates);
// " (did you mean 'x'?)" or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

} // namespace podguard::policy

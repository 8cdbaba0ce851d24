// Names for the numbers that cross the kernel boundary: signals, syscalls,
// /proc entries, ptrace requests, delivery results.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace podguard {

std::string signal_name(int number);                     // "SIGHUP", or "SIG<n>" / "SIGRTMIN+n"
std::optional<int> signal_number(std::string_view name); // "SIGHUP", "HUP", "1"
const char* syscall_name(uint16_t pg_syscall);           // enum pg_syscall -> "kill"
const char* delivery_name(uint16_t pg_delivery);         // "" when none
const char* lost_reason_name(int pg_lost_reason);
const char* event_class_name(int pg_event_class); // "ordinary", "first", "policy", "summary"
const char* drop_reason_name(int pg_drop_reason); // "ringbuf_full", "rate_limited"        // "ringbuf_full", ...
std::string ptrace_request_name(int64_t request);        // "PTRACE_ATTACH" or the number

struct ProcEntryName {
    uint16_t entry; // enum pg_proc_entry
    const char* name;
};
std::span<const ProcEntryName> proc_entry_names();
const char* proc_entry_name(uint16_t entry); // "other" for unknown
std::optional<uint16_t> proc_entry_from_name(std::string_view name);

// The kernel parser's component hash (64-bit FNV-1a), see bpf/podguard.h.
uint64_t fnv1a64(std::string_view text);

} // namespace podguard

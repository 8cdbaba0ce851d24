#include "policy/names.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "podguard.h"

namespace podguard::policy {
namespace {

struct Named {
    const char* name;
    int value;
};

// x86_64 / generic Linux numbering.
constexpr Named kSignals[] = {
    {"HUP", 1},   {"INT", 2},   {"QUIT", 3},  {"ILL", 4},     {"TRAP", 5},    {"ABRT", 6},
    {"IOT", 6},   {"BUS", 7},   {"FPE", 8},   {"KILL", 9},    {"USR1", 10},   {"SEGV", 11},
    {"USR2", 12}, {"PIPE", 13}, {"ALRM", 14}, {"TERM", 15},   {"STKFLT", 16}, {"CHLD", 17},
    {"CLD", 17},  {"CONT", 18}, {"STOP", 19}, {"TSTP", 20},   {"TTIN", 21},   {"TTOU", 22},
    {"URG", 23},  {"XCPU", 24}, {"XFSZ", 25}, {"VTALRM", 26}, {"PROF", 27},   {"WINCH", 28},
    {"IO", 29},   {"POLL", 29}, {"PWR", 30},  {"SYS", 31},    {"UNUSED", 31},
};
// glibc's view, as `kill -l` prints it: the kernel's 32 and 33 are taken by
// the threading library.
constexpr int kRtMin = 34;
constexpr int kRtMax = 64;

constexpr Named kPtrace[] = {
    {"TRACEME", 0},
    {"PEEKTEXT", 1},
    {"PEEKDATA", 2},
    {"PEEKUSER", 3},
    {"POKETEXT", 4},
    {"POKEDATA", 5},
    {"POKEUSER", 6},
    {"CONT", 7},
    {"KILL", 8},
    {"SINGLESTEP", 9},
    {"GETREGS", 12},
    {"SETREGS", 13},
    {"GETFPREGS", 14},
    {"SETFPREGS", 15},
    {"ATTACH", 16},
    {"DETACH", 17},
    {"GETFPXREGS", 18},
    {"SETFPXREGS", 19},
    {"SYSCALL", 24},
    {"GET_THREAD_AREA", 25},
    {"SET_THREAD_AREA", 26},
    {"ARCH_PRCTL", 30},
    {"SYSEMU", 31},
    {"SYSEMU_SINGLESTEP", 32},
    {"SINGLEBLOCK", 33},
    {"SETOPTIONS", 0x4200},
    {"GETEVENTMSG", 0x4201},
    {"GETSIGINFO", 0x4202},
    {"SETSIGINFO", 0x4203},
    {"GETREGSET", 0x4204},
    {"SETREGSET", 0x4205},
    {"SEIZE", 0x4206},
    {"INTERRUPT", 0x4207},
    {"LISTEN", 0x4208},
    {"PEEKSIGINFO", 0x4209},
    {"GETSIGMASK", 0x420a},
    {"SETSIGMASK", 0x420b},
    {"SECCOMP_GET_FILTER", 0x420c},
    {"SECCOMP_GET_METADATA", 0x420d},
    {"GET_SYSCALL_INFO", 0x420e},
    {"GET_RSEQ_CONFIGURATION", 0x420f},
    {"SET_SYSCALL_USER_DISPATCH_CONFIG", 0x4210},
    {"GET_SYSCALL_USER_DISPATCH_CONFIG", 0x4211},
    {"SET_SYSCALL_INFO", 0x4212},
};
constexpr int64_t kPtraceLowMax = 33;
constexpr int64_t kPtraceHighBase = 0x4200;
constexpr int64_t kPtraceHighCount = 27; // bits 34..60

// Index = enum pg_proc_entry.
constexpr std::array<const char*, PG_PROC_ENTRY_MAX> kProcEntries = {
    "",          "root",   "cwd",          "exe",         "environ", "cmdline", "mem",
    "maps",      "smaps",  "smaps_rollup", "numa_maps",   "pagemap", "fd",      "fdinfo",
    "map_files", "auxv",   "stack",        "syscall",     "wchan",   "io",      "ns",
    "mountinfo", "mounts", "mountstats",   "personality", "timers",  "attr",
};
static_assert(PG_PROC_ATTR == 26 && PG_PROC_ENTRY_MAX == 27,
              "enum pg_proc_entry changed: update kProcEntries");

constexpr Relation kRelations[] = {Relation::SameContainer,   Relation::SamePod,
                                   Relation::HostToContainer, Relation::ContainerToHost,
                                   Relation::CrossPod,        Relation::Host};

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Decimal or 0x-hex, the whole string.
std::optional<int64_t> parse_integer(std::string_view s) {
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s.remove_prefix(2);
        base = 16;
    }
    if (s.empty())
        return std::nullopt;
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || p != s.data() + s.size())
        return std::nullopt;
    return v;
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t sub = prev[j - 1] + (std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                                                std::tolower(static_cast<unsigned char>(b[j - 1]))
                                            ? 0
                                            : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

} // namespace

std::optional<int> parse_signal(std::string_view text) {
    if (auto n = parse_integer(text)) {
        if (*n >= 1 && *n <= 64)
            return static_cast<int>(*n);
        return std::nullopt;
    }
    std::string s = upper(text);
    if (s.rfind("SIG", 0) == 0)
        s.erase(0, 3);
    for (const auto& sig : kSignals)
        if (s == sig.name)
            return sig.value;
    auto rt = [&](std::string_view base, int origin, int sign) -> std::optional<int> {
        std::string_view v(s);
        if (v.substr(0, base.size()) != base)
            return std::nullopt;
        v.remove_prefix(base.size());
        if (v.empty())
            return origin;
        if (v[0] != (sign > 0 ? '+' : '-'))
            return std::nullopt;
        v.remove_prefix(1);
        auto off = parse_integer(v);
        if (!off || v.empty() || v[0] < '0' || v[0] > '9' || *off > kRtMax - kRtMin)
            return std::nullopt;
        return origin + sign * static_cast<int>(*off);
    };
    if (auto v = rt("RTMIN", kRtMin, +1))
        return v;
    if (auto v = rt("RTMAX", kRtMax, -1))
        return v;
    return std::nullopt;
}

int ptrace_request_bit(int64_t request) {
    if (request >= 0 && request <= kPtraceLowMax)
        return static_cast<int>(request);
    if (request >= kPtraceHighBase && request < kPtraceHighBase + kPtraceHighCount)
        return static_cast<int>(kPtraceLowMax + 1 + (request - kPtraceHighBase));
    return kPtraceBitOther;
}

std::optional<int> parse_ptrace_bit(std::string_view text) {
    if (auto n = parse_integer(text)) {
        int bit = ptrace_request_bit(*n);
        if (bit == kPtraceBitOther)
            return std::nullopt;
        return bit;
    }
    std::string l = lower(text);
    if (l == "process_vm_readv")
        return kPtraceBitProcessVmReadv;
    if (l == "process_vm_writev")
        return kPtraceBitProcessVmWritev;
    std::string s = upper(text);
    if (s.rfind("PTRACE_", 0) == 0)
        s.erase(0, 7);
    for (const auto& req : kPtrace)
        if (s == req.name)
            return ptrace_request_bit(req.value);
    return std::nullopt;
}

std::optional<int> parse_proc_entry(std::string_view text) {
    for (size_t i = 1; i < kProcEntries.size(); ++i)
        if (text == kProcEntries[i])
            return static_cast<int>(i);
    return std::nullopt;
}

const char* proc_entry_name(int entry) {
    if (entry <= 0 || entry >= static_cast<int>(kProcEntries.size()))
        return "";
    return kProcEntries[static_cast<size_t>(entry)];
}

uint64_t all_proc_entries() {
    return (1ULL << PG_PROC_ENTRY_MAX) - 1;
}

std::optional<Relation> parse_relation(std::string_view text) {
    for (Relation r : kRelations)
        if (text == to_string(r))
            return r;
    return std::nullopt;
}

std::optional<Posture> parse_posture(std::string_view text) {
    if (text == "closed")
        return Posture::Closed;
    if (text == "open")
        return Posture::Open;
    return std::nullopt;
}

const char* to_string(Posture posture) {
    return posture == Posture::Closed ? "closed" : "open";
}

std::optional<PolicyAction> parse_action(std::string_view text) {
    if (text == "allow")
        return PolicyAction::Allow;
    if (text == "audit")
        return PolicyAction::Audit;
    if (text == "block")
        return PolicyAction::Block;
    return std::nullopt;
}

const char* to_string(PolicyAction action) {
    switch (action) {
    case PolicyAction::Allow:
        return "allow";
    case PolicyAction::Audit:
        return "audit";
    case PolicyAction::Block:
        return "block";
    }
    return "unknown";
}

const char* to_string(OperationKind kind) {
    switch (kind) {
    case OperationKind::Signal:
        return "signal";
    case OperationKind::Ptrace:
        return "ptrace";
    case OperationKind::ProcAccess:
        return "procAccess";
    }
    return "unknown";
}

std::vector<std::string> signal_names() {
    std::vector<std::string> out;
    for (const auto& s : kSignals)
        out.push_back(std::string("SIG") + s.name);
    out.push_back("SIGRTMIN");
    out.push_back("SIGRTMAX");
    return out;
}

std::vector<std::string> ptrace_names() {
    std::vector<std::string> out;
    for (const auto& p : kPtrace)
        out.push_back(std::string("PTRACE_") + p.name);
    out.push_back("process_vm_readv");
    out.push_back("process_vm_writev");
    return out;
}

std::vector<std::string> proc_entry_names() {
    return std::vector<std::string>(kProcEntries.begin() + 1, kProcEntries.end());
}

std::vector<std::string> relation_names() {
    std::vector<std::string> out;
    for (Relation r : kRelations)
        out.push_back(to_string(r));
    return out;
}

std::vector<std::string> action_names() {
    return {"allow", "audit", "block"};
}

std::optional<std::string_view> parse_severity(std::string_view text) {
    for (std::string_view s : {"info", "low", "medium", "high", "critical"})
        if (text == s)
            return s;
    return std::nullopt;
}

const char* default_severity(PolicyAction action) {
    switch (action) {
    case PolicyAction::Block:
        return "high";
    case PolicyAction::Audit:
        return "medium";
    case PolicyAction::Allow:
        break;
    }
    return "info";
}

std::string closest(std::string_view word, const std::vector<std::string>& candidates) {
    // Short words get less slack, or every 3-letter typo "means" every other word.
    size_t limit = word.size() <= 3 ? 1 : word.size() <= 6 ? 2 : 3;
    std::string best;
    size_t best_d = limit + 1;
    for (const auto& c : candidates) {
        size_t d = edit_distance(word, c);
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
    if (word.size() > 64)
        return "";
    std::string c = closest(word, candidates);
    return c.empty() ? "" : " (did you mean '" + c + "'?)";
}

} // namespace podguard::policy

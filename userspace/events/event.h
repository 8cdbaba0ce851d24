// The decoded, enriched event: what the pipeline hands to classification,
// policy accounting, metrics, the JSON writer and the store. Plain data.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "podguard.h" // enum pg_syscall

namespace podguard {

enum class EventKind { Signal, Ptrace, ProcAccess, Fork, Exec, Exit };
// Unknown: the target could not be resolved (it did not exist, e.g. ESRCH).
enum class Relation {
    SameContainer,
    SamePod,
    HostToContainer,
    ContainerToHost,
    CrossPod,
    Host,
    Unknown
};
enum class Action { Allowed, Audited, Blocked, Killed };

struct ContainerInfo {
    std::string id;      // full id as the runtime knows it (64 hex for most)
    std::string runtime; // libpod, containerd, crio, docker, kubernetes (runtime unknown)
    std::string name;    // from metadata providers, may be empty; Kubernetes' name when known
    std::string image;
    std::string pod_uid; // Kubernetes pod UID (or libpod pod id) when the cgroup path tells
    // The runtime's own name where it differs from `name` (podman kube play
    // names the pod's container "nginx" "<pod>-nginx").
    std::string runtime_name = {};
};

struct PodInfo {
    std::string namespace_;
    std::string name;
    std::string uid;
    std::map<std::string, std::string> labels;
};

// One side of an event.
struct Party {
    bool known = false; // false: the kernel could not resolve the target
    uint32_t pid = 0;   // host tgid
    uint32_t tid = 0;
    uint32_t ns_pid = 0;
    uint32_t ns_tid = 0;
    uint32_t uid = 0;
    uint32_t euid = 0;
    uint32_t pidns = 0;
    uint32_t mntns = 0;
    uint64_t cgroup_id = 0;
    uint64_t start_ns = 0;
    uint32_t ppid = 0;
    std::string comm;
    std::string exe;
    std::optional<ContainerInfo> container; // nullopt: host
    std::optional<PodInfo> pod;
};

// The syscall an act came from stays the kernel's enum pg_syscall until
// output (events/names.h's syscall_name): later steps compare enums.
struct SignalDetail {
    int number = 0;
    pg_syscall syscall = PG_SYS_NONE;
    int64_t result = 0;
    int target_arg = 0;
    int tid_arg = 0;
    std::string delivery; // delivered, ignored, already_pending, ... or empty
    unsigned ntargets = 0;
    bool extra_target = false;
};

struct PtraceDetail {
    int64_t request = 0;
    pg_syscall syscall = PG_SYS_NONE;
    int64_t result = 0;
    int target_arg = 0;
};

struct ProcAccessDetail {
    std::string path;
    std::string entry;
    pg_syscall syscall = PG_SYS_NONE;
    int64_t result = 0;
    int target_arg = 0;
    int dirfd = 0; // AT_FDCWD: none
    bool truncated = false;
    // The path was relative, resolved against the cwd or dirfd.
    bool relative = false;
    // Path read after the syscall (not resident at entry): any decision,
    // and a kill by the fallback, came after the operation.
    bool read_at_exit = false;
    // Identified from the object reached (the file opened, the cwd entered),
    // not from the spelling: a symlink, a climb, procfs mounted elsewhere.
    bool by_object = false;
};

struct ProcessDetail {
    std::string filename; // exec
    std::string args;     // exec, space-joined
    int exit_code = 0;    // exit
};

// One process of the source's exec chain (enrich/ancestry.h).
struct AncestorInfo {
    uint32_t pid = 0;
    uint64_t start_ns = 0; // boot-time ns, as Party::start_ns
    std::string exe;
    std::string args;
    std::optional<ContainerInfo> container; // nullopt: host
};

// One frame of a call chain (podguard run --stacks).
struct StackFrame {
    uint64_t address = 0;
    std::string symbol;  // empty: no symbol covers the address
    std::string module;  // the binary or library (kernel: "kernel" or its module); empty: unknown
    uint64_t offset = 0; // from the symbol's start; from the module's when there is no symbol
};

// The source's stacks at the hook, innermost frame first. An empty chain
// says why in its error.
struct EventStacks {
    std::vector<StackFrame> user;
    std::vector<StackFrame> kernel;
    std::string user_error;
    std::string kernel_error;
};

struct Event {
    uint64_t time_ns = 0; // CLOCK_REALTIME ns
    EventKind kind = EventKind::Signal;
    Action action = Action::Allowed;
    Relation relation = Relation::Host;
    uint32_t policy_rule = 0;
    // In-kernel aggregation (bpf/transport.bpf.h): a summary stands for
    // count identical acts from first_time_ns to time_ns; a first occurrence
    // is the act that opened its tuple (later ones are counted, not sent).
    bool summary = false;
    bool first_occurrence = false;
    uint32_t count = 1;
    uint64_t first_time_ns = 0; // summaries: CLOCK_REALTIME ns
    // The deciding rule names containers and a side was not identified yet:
    // the policy's posture for the unidentified decided.
    bool unidentified = false;
    Party source;
    Party target; // unused for lifecycle events
    std::variant<SignalDetail, PtraceDetail, ProcAccessDetail, ProcessDetail> detail;
    // The source's parent, grandparent, ... nearest first, up to whoever
    // started the source's container (or host init). Empty when not filled.
    std::vector<AncestorInfo> ancestry;
    // Only with --stacks: the kernel's ids of the source's stacks at the
    // hook (negative: bpf_get_stackid's error), and the frames they name.
    struct StackIds {
        int32_t user = 0;
        int32_t kernel = 0;
    };
    std::optional<StackIds> stack_ids;
    std::optional<EventStacks> stacks;
    // The event contract's JSON, rendered once by output's event_json() for
    // every sink that needs it (the stream and the store). Sinks see the
    // event final; a copy starts without it, so a changed copy renders anew.
    struct RenderedJson {
        mutable std::string text;
        RenderedJson() = default;
        RenderedJson(const RenderedJson&) {}
        RenderedJson& operator=(const RenderedJson&) {
            text.clear();
            return *this;
        }
        RenderedJson(RenderedJson&&) noexcept = default;
        RenderedJson& operator=(RenderedJson&&) noexcept = default;
    } rendered_json;
};

const char* to_string(EventKind kind);
const char* to_string(Relation relation);
const char* to_string(Action action);

} // namespace podguard

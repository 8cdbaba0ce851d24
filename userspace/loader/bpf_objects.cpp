#include "loader/bpf_objects.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <spdlog/spdlog.h>

#include "events/names.h"
#include "podguard.h"
#include "podguard.skel.h"

// Mirrors bpf/proc_access.bpf.h: names the parser needs besides the entries.
#define PG_NAME_PROC 1000
#define PG_NAME_SELF 1001
#define PG_NAME_TASK 1002

namespace podguard {

namespace {

int libbpf_log(enum libbpf_print_level level, const char* format, va_list args) {
    char line[1024];
    int n = vsnprintf(line, sizeof(line), format, args);
    if (n > 0 && line[std::min<size_t>(n, sizeof(line) - 1) - 1] == '\n')
        line[std::min<size_t>(n, sizeof(line) - 1) - 1] = 0;
    if (level == LIBBPF_WARN)
        spdlog::warn("libbpf: {}", line);
    else
        spdlog::debug("libbpf: {}", line);
    return 0;
}

bool power_of_two(uint32_t v) {
    return v && !(v & (v - 1));
}

} // namespace

void route_libbpf_logs_to_spdlog() {
    libbpf_set_print(libbpf_log);
}

Result<std::unique_ptr<BpfObjects>> BpfObjects::load(const LoadOptions& options) {
    if (!power_of_two(options.ringbuf_bytes) || options.ringbuf_bytes < 4096)
        return make_error("ring buffer size must be a power of two of at least 4096 bytes");
    struct ::podguard_bpf* skel = podguard_bpf__open();
    if (!skel)
        return make_error(std::string("cannot open BPF object: ") + strerror(errno));
    skel->rodata->pg_agent_tgid = options.agent_tgid;
    skel->rodata->pg_report_self = options.report_self ? 1 : 0;
    if (int err = bpf_map__set_max_entries(skel->maps.pg_events, options.ringbuf_bytes)) {
        podguard_bpf__destroy(skel);
        return make_error(std::string("cannot size ring buffer: ") + strerror(-err));
    }
    if (int err = podguard_bpf__load(skel)) {
        podguard_bpf__destroy(skel);
        return make_error(std::string("cannot load BPF programs into the kernel: ") +
                          strerror(-err) +
                          (err == -EPERM ? " (podguard needs root: CAP_BPF, CAP_PERFMON, "
                                           "CAP_SYS_ADMIN)"
                                         : ""));
    }
    std::unique_ptr<BpfObjects> objects(new BpfObjects(skel, options.ringbuf_bytes));
    if (auto st = objects->fill_proc_names(); !st)
        return st.error();
    return objects;
}

BpfObjects::~BpfObjects() {
    podguard_bpf__destroy(skel_);
}

Status BpfObjects::fill_proc_names() {
    int fd = bpf_map__fd(skel_->maps.pg_proc_names);
    auto put = [&](std::string_view name, uint32_t value) -> Status {
        uint64_t key = fnv1a64(name);
        if (bpf_map_update_elem(fd, &key, &value, BPF_ANY))
            return make_error("cannot fill /proc name map: " + std::string(strerror(errno)));
        return {};
    };
    for (const auto& e : proc_entry_names())
        if (auto st = put(e.name, e.entry); !st)
            return st;
    for (auto [name, value] : {std::pair<const char*, uint32_t>{"proc", PG_NAME_PROC},
                               {"self", PG_NAME_SELF},
                               {"thread-self", PG_NAME_SELF},
                               {"task", PG_NAME_TASK}})
        if (auto st = put(name, value); !st)
            return st;
    return {};
}

Status BpfObjects::attach() {
    if (int err = podguard_bpf__attach(skel_))
        return make_error(std::string("cannot attach BPF programs: ") + strerror(-err) +
                          (err == -ENOENT ? " (is tracefs mounted at /sys/kernel/tracing?)" : ""));
    return {};
}

int BpfObjects::events_fd() const {
    return bpf_map__fd(skel_->maps.pg_events);
}
int BpfObjects::lost_fd() const {
    return bpf_map__fd(skel_->maps.pg_lost);
}
int BpfObjects::pids_fd() const {
    return bpf_map__fd(skel_->maps.pg_pids);
}
int BpfObjects::procs_fd() const {
    return bpf_map__fd(skel_->maps.pg_procs);
}

std::vector<ProgramInfo> BpfObjects::programs() const {
    std::vector<ProgramInfo> out;
    struct bpf_program* prog;
    bpf_object__for_each_program(prog, skel_->obj) {
        if (bpf_program__autoload(prog))
            out.push_back({bpf_program__name(prog), bpf_program__fd(prog)});
    }
    return out;
}

} // namespace podguard

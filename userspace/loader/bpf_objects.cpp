#include "loader/bpf_objects.h"
#include "loader/compat_probe.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <dirent.h>
#include <set>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events/names.h"
#include "podguard.h"
#include "podguard.skel.h"

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

// Every map of the object outlives a daemon with --pin (events and
// syscalls in flight, their pending index, the process cache, the policy,
// the cgroup classes), except these: per-CPU scratch space, and the stack
// map, which is sized per run and whose ids only the daemon that read them
// could use. A map added later is pinned unless it is named here.
constexpr const char* kUnpinnedMaps[] = {"pg_scratch", "pg_pathbufs", "pg_last_wakeup", "pg_stacks",
                                         "pg_compat_regs"};

std::vector<std::string> pinned_maps_of(const struct bpf_object* obj) {
    std::vector<std::string> out;
    const struct bpf_map* map;
    bpf_object__for_each_map(map, obj) {
        if (bpf_map__is_internal(map))
            continue; // .rodata/.bss: set at load, never shared
        std::string name = bpf_map__name(map);
        bool scratch = false;
        for (const char* u : kUnpinnedMaps)
            scratch |= name == u;
        if (!scratch)
            out.push_back(std::move(name));
    }
    return out;
}
constexpr const char* kLinkPrefix = "link_";

Status make_dirs(const std::string& path) {
    std::string cur;
    size_t pos = 0;
    while (pos != std::string::npos) {
        pos = path.find('/', pos + 1);
        cur = path.substr(0, pos);
        if (!cur.empty() && mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
            return make_error("cannot create " + cur + ": " + strerror(errno));
    }
    return {};
}

std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
        while (struct dirent* e = readdir(d))
            if (e->d_name[0] != '.')
                out.emplace_back(e->d_name);
        closedir(d);
    }
    return out;
}

// True when the map pinned at `path` can stand in for `map`.
bool pinned_map_matches(const std::string& path, const struct bpf_map* map) {
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0)
        return false;
    struct bpf_map_info info = {};
    uint32_t len = sizeof(info);
    bool ok =
        bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
        info.type == static_cast<uint32_t>(bpf_map__type(map)) &&
        info.key_size == bpf_map__key_size(map) && info.value_size == bpf_map__value_size(map) &&
        info.max_entries == bpf_map__max_entries(map) && info.map_flags == bpf_map__map_flags(map);
    close(fd);
    return ok;
}

// A rate of r records/s is a refill time of 1e9/r ns per record.
void set_flood_options(struct ::podguard_bpf* skel, const FloodOptions& f) {
    auto cost = [](uint32_t rate) -> uint64_t { return rate ? 1000000000ull / rate : 0; };
    skel->rodata->pg_agg_window_ns = f.window_ns;
    skel->rodata->pg_agg_by_container = f.by_container ? 1 : 0;
    skel->rodata->pg_fair_prio_cost_ns = cost(f.prio_rate);
    skel->rodata->pg_fair_prio_burst_ns = cost(f.prio_rate) * std::max<uint32_t>(f.prio_burst, 1);
    skel->rodata->pg_fair_ord_cost_ns = cost(f.rate);
    skel->rodata->pg_fair_ord_burst_ns = cost(f.rate) * std::max<uint32_t>(f.burst, 1);
}

// The kernel's BTF names this function (a kfunc the programs may call).
bool kernel_has_function(const char* name) {
    struct btf* vmlinux = btf__load_vmlinux_btf();
    if (!vmlinux)
        return false;
    bool found = btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC) > 0;
    btf__free(vmlinux);
    return found;
}

bool exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

} // namespace

std::vector<std::string> pinned_map_names() {
    struct ::podguard_bpf* skel = podguard_bpf__open();
    if (!skel)
        return {};
    auto names = pinned_maps_of(skel->obj);
    podguard_bpf__destroy(skel);
    return names;
}

// The 32-bit syscall hooks run on every syscall of the node (raw
// tracepoints): loaded only where a 32-bit syscall can be made.
static void set_compat_hooks(struct ::podguard_bpf* skel) {
#if defined(__x86_64__)
    const bool compat = compat_syscalls_possible();
    bpf_program__set_autoload(skel->progs.pg_compat_enter, compat);
    bpf_program__set_autoload(skel->progs.pg_compat_object_exit, compat);
    bpf_program__set_autoload(skel->progs.pg_compat_exit, compat);
    if (compat)
        spdlog::info("this kernel runs 32-bit (ia32) syscalls: they are watched through the raw "
                     "sys_enter/sys_exit tracepoints, which every syscall of the node pays for");
    else
        spdlog::info("this kernel runs no 32-bit (ia32) syscalls (int $0x80 faults): no hook for "
                     "them needed");
#else
    (void)skel;
#endif
}

void route_libbpf_logs_to_spdlog() {
    libbpf_set_print(libbpf_log);
}

Result<std::unique_ptr<BpfObjects>> BpfObjects::load(const LoadOptions& options) {
    if (!power_of_two(options.ringbuf_bytes) || options.ringbuf_bytes < 4096 ||
        !power_of_two(options.flood.prio_ringbuf_bytes) || options.flood.prio_ringbuf_bytes < 4096)
        return make_error("ring buffer size must be a power of two of at least 4096 bytes");
    if (options.flood.table_entries == 0)
        return make_error("the aggregation table needs at least one entry");
    struct ::podguard_bpf* skel = podguard_bpf__open();
    if (!skel)
        return make_error(std::string("cannot open BPF object: ") + strerror(errno));
    skel->rodata->pg_agent_tgid = options.agent_tgid;
    skel->rodata->pg_report_self = options.report_self ? 1 : 0;
    skel->rodata->pg_cfg_stacks = options.stacks;
    set_flood_options(skel, options.flood);
    // A stack map's buckets are allocated up front: 16 MiB at full size.
    if (!options.stacks)
        bpf_map__set_max_entries(skel->maps.pg_stacks, 1);
    bpf_map__set_max_entries(skel->maps.pg_agg, options.flood.table_entries);
    int prio_err =
        bpf_map__set_max_entries(skel->maps.pg_events_prio, options.flood.prio_ringbuf_bytes);
    if (int err = prio_err
                      ? prio_err
                      : bpf_map__set_max_entries(skel->maps.pg_events, options.ringbuf_bytes)) {
        podguard_bpf__destroy(skel);
        return make_error(std::string("cannot size ring buffer: ") + strerror(-err));
    }
    const bool lsm = options.enforcement == EnforcementMode::Lsm;
    bpf_program__set_autoload(skel->progs.pg_lsm_task_kill, lsm);
    bpf_program__set_autoload(skel->progs.pg_lsm_ptrace_access_check, lsm);
    // The agent resumes itself from a stop signal with a kfunc of 6.13+.
    const bool guard = kernel_has_function("bpf_send_signal_task");
    bpf_program__set_autoload(skel->progs.pg_guard_signal, guard);
    if (!guard)
        spdlog::warn("this kernel has no bpf_send_signal_task: a stop signal that gets through "
                     "to the agent leaves it stopped until something sends SIGCONT");
    set_compat_hooks(skel);
    std::vector<std::string> fresh_pins;
    if (!options.pin_dir.empty()) {
        if (auto st = make_dirs(options.pin_dir); !st) {
            podguard_bpf__destroy(skel);
            return st.error();
        }
        for (const auto& name : pinned_maps_of(skel->obj)) {
            struct bpf_map* map = bpf_object__find_map_by_name(skel->obj, name.c_str());
            std::string path = options.pin_dir + "/" + name;
            if (!map)
                continue;
            // An incompatible pin (another version, another ring size) is
            // replaced only after our links are attached.
            if (exists(path) && !pinned_map_matches(path, map)) {
                spdlog::warn("pinned map {} does not match this build; using a new one", path);
                fresh_pins.push_back(name);
                continue;
            }
            bpf_map__set_pin_path(map, path.c_str());
        }
    }
    if (int err = podguard_bpf__load(skel)) {
        podguard_bpf__destroy(skel);
        return make_error(std::string("cannot load BPF programs into the kernel: ") +
                          strerror(-err) +
                          (err == -EPERM ? " (podguard needs root: CAP_BPF, CAP_PERFMON, "
                                           "CAP_SYS_ADMIN)"
                                         : ""));
    }
    std::unique_ptr<BpfObjects> objects(new BpfObjects(skel, options));
    objects->fresh_pins_ = std::move(fresh_pins);
    if (auto st = objects->fill_proc_names(); !st)
        return st.error();
    if (auto st = objects->set_enforcement_mode(options.enforcement); !st)
        return st.error();
    return objects;
}

BpfObjects::~BpfObjects() {
    destroy_syscall_links(syscall_links_);
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

Status BpfObjects::set_enforcement_mode(EnforcementMode mode) {
    int fd = bpf_map__fd(skel_->maps.pg_enforce_config);
    uint32_t zero = 0;
    struct pg_enforce_config cfg = {};
    // A reused pinned map holds the active policy generation: keep it.
    if (bpf_map_lookup_elem(fd, &zero, &cfg) != 0)
        return make_error("cannot read enforcement config: " + std::string(strerror(errno)));
    cfg.mode = mode == EnforcementMode::Lsm              ? PG_ENFORCE_LSM
               : mode == EnforcementMode::SignalFallback ? PG_ENFORCE_KILL
                                                         : PG_ENFORCE_MONITOR;
    if (bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY) != 0)
        return make_error("cannot set enforcement mode: " + std::string(strerror(errno)));
    return {};
}

Status BpfObjects::attach() {
    // io_uring:io_uring_submit_req was io_uring_submit_sqe before Linux 6.4
    // (same argument): attached by hand to whichever this kernel has.
    bpf_program__set_autoattach(skel_->progs.pg_uring_submit, false);
    if (int err = podguard_bpf__attach(skel_))
        return make_error(std::string("cannot attach BPF programs: ") + strerror(-err) +
                          (err == -ENOENT ? " (is tracefs mounted at /sys/kernel/tracing?)" : ""));
    // The syscall programs have no section target: they run on the watched
    // syscalls' tracepoints only.
    auto links = attach_syscall_tracepoints(syscall_tracepoints(skel_), skel_->progs.pg_sys_enter,
                                            skel_->progs.pg_sys_exit);
    if (!links)
        return links.error();
    syscall_links_ = std::move(*links);
    for (const char* tp : {"io_uring_submit_req", "io_uring_submit_sqe"}) {
        skel_->links.pg_uring_submit =
            bpf_program__attach_raw_tracepoint(skel_->progs.pg_uring_submit, tp);
        if (skel_->links.pg_uring_submit)
            break;
    }
    if (!skel_->links.pg_uring_submit)
        spdlog::warn("io_uring requests are judged at completion only: no io_uring submit "
                     "tracepoint on this kernel");
    if (!options_.pin_dir.empty())
        return pin_after_attach();
    return {};
}

// Our links are attached: now the pinned ones of an earlier daemon can go
// (each is replaced by ours, so nothing is ever unhooked), and maps that did
// not match take over their pin path.
Status BpfObjects::pin_after_attach() {
    const std::string& dir = options_.pin_dir;
    std::set<std::string> ours;
    auto pin = [&](struct bpf_link* link, const std::string& name) -> Status {
        std::string path = dir + "/" + kLinkPrefix + name;
        ours.insert(path);
        unlink(path.c_str());
        if (int err = bpf_link__pin(link, path.c_str()))
            return make_error("cannot pin " + path + ": " + strerror(-err));
        return {};
    };
    const struct bpf_object_skeleton* s = skel_->skeleton;
    if (options_.pin_links) {
        for (int i = 0; i < s->prog_cnt; ++i)
            if (struct bpf_link* link = *s->progs[i].link)
                if (auto st = pin(link, s->progs[i].name); !st)
                    return st;
        for (const auto& l : syscall_links_)
            if (auto st = pin(l.link, "pg_" + l.tracepoint); !st)
                return st;
    }
    for (const auto& name : list_dir(dir)) {
        std::string path = dir + "/" + name;
        if (name.rfind(kLinkPrefix, 0) == 0 && !ours.count(path))
            unlink(path.c_str());
    }
    for (const auto& name : fresh_pins_) {
        struct bpf_map* map = bpf_object__find_map_by_name(skel_->obj, name.c_str());
        std::string path = dir + "/" + name;
        unlink(path.c_str());
        if (int err = bpf_map__pin(map, path.c_str()))
            return make_error("cannot pin " + path + ": " + strerror(-err));
    }
    fresh_pins_.clear();
    return {};
}

namespace {

// The program a pinned link runs, or 0.
uint32_t pinned_link_prog_id(const std::string& path) {
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0)
        return 0;
    bpf_link_info info{};
    uint32_t len = sizeof(info);
    uint32_t id = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.prog_id : 0;
    close(fd);
    return id;
}

bool prog_loaded(uint32_t id) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0)
        return errno != ENOENT;
    close(fd);
    return true;
}

} // namespace

Status remove_pinned_state(const std::string& pin_dir) {
    std::vector<uint32_t> progs;
    for (const auto& name : list_dir(pin_dir)) {
        std::string path = pin_dir + "/" + name;
        if (name.rfind(kLinkPrefix, 0) == 0)
            if (uint32_t id = pinned_link_prog_id(path))
                progs.push_back(id);
        if (unlink(path.c_str()) != 0 && errno != ENOENT)
            return make_error("cannot unpin " + path + ": " + strerror(errno));
    }
    if (rmdir(pin_dir.c_str()) != 0 && errno != ENOENT)
        return make_error("cannot remove " + pin_dir + ": " + strerror(errno));
    // The kernel releases an unpinned link from a workqueue, so its hook
    // can still run for a few milliseconds after unlink() returned. Return
    // once the programs are gone, so that "unpinned" means "detached"; a
    // program something else still holds (a running daemon) is waited for
    // only a second.
    for (int waited_ms = 0; waited_ms < 1000; ++waited_ms) {
        bool any = false;
        for (uint32_t id : progs)
            any = any || prog_loaded(id);
        if (!any)
            break;
        usleep(1000);
    }
    return {};
}

int BpfObjects::events_fd() const {
    return bpf_map__fd(skel_->maps.pg_events);
}
int BpfObjects::prio_events_fd() const {
    return bpf_map__fd(skel_->maps.pg_events_prio);
}
int BpfObjects::flood_fd() const {
    return bpf_map__fd(skel_->maps.pg_flood);
}
int BpfObjects::fair_fd() const {
    return bpf_map__fd(skel_->maps.pg_fair);
}

Status BpfObjects::flush_aggregates(bool force) {
    struct pg_flush_args args = {force ? 1ull : 0ull};
    LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = &args, .ctx_size_in = sizeof(args));
    if (bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.pg_flush), &run) != 0)
        return make_error(std::string("cannot sweep the aggregation table: ") + strerror(errno));
    return {};
}

void BpfObjects::detach() {
    destroy_syscall_links(syscall_links_);
    podguard_bpf__detach(skel_);
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
int BpfObjects::inflight_fd() const {
    return bpf_map__fd(skel_->maps.pg_inflight);
}

int BpfObjects::stacks_fd() const {
    return bpf_map__fd(skel_->maps.pg_stacks);
}

int BpfObjects::guard_stats_fd() const {
    return bpf_map__fd(skel_->maps.pg_guard_stats);
}

PolicyMapFds BpfObjects::policy_fds() const {
    return {bpf_map__fd(skel_->maps.pg_enforce_config), bpf_map__fd(skel_->maps.pg_policy_gens),
            bpf_map__fd(skel_->maps.pg_policy_ops), bpf_map__fd(skel_->maps.pg_policy_rules),
            bpf_map__fd(skel_->maps.pg_cgroups)};
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

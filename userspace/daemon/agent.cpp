#include "daemon/agent.h"

#include <fstream>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>

#include "container/cgroup_resolver.h"
#include "daemon/api_policies.h"
#include "daemon/cgroup_registrar.h"
#include "daemon/flood_reporter.h"
#include "daemon/metrics_bridge.h"
#include "daemon/policy_runtime.h"
#include "enrich/enricher.h"
#include "loader/bpf_objects.h"
#include "loader/kernel_probe.h"
#include "metadata/kubernetes/config.h"
#include "metadata/kubernetes/policy_watch.h"
#include "metrics/health.h"
#include "output/event_identity.h"
#include "pipeline/flood_stats.h"
#include "pipeline/pipeline.h"
#include "process/kernel_cache.h"
#include "process/proc_scan.h"
#include "process/process_table.h"
#include "sinks/json_sink.h"
#include "sinks/metrics_sink.h"
#include "stack/bcc_library.h"
#include "stack/stack_resolver.h"
#include "store/store_sink.h"

namespace podguard {

namespace {

std::unordered_map<std::string, uint64_t> cgroup_ids_for(const std::vector<ProcSnapshot>& procs,
                                                         const std::string& root) {
    std::unordered_map<std::string, uint64_t> ids;
    for (const auto& p : procs) {
        if (p.cgroup_path.empty() || ids.count(p.cgroup_path))
            continue;
        if (auto id = CgroupResolver::cgroup_id_of(root + p.cgroup_path))
            ids[p.cgroup_path] = *id;
    }
    return ids;
}

void log_enforcement(const KernelProbe& probe) {
    if (probe.mode == EnforcementMode::Lsm)
        spdlog::info("enforcement: lsm ({})", probe.mode_explanation);
    else
        spdlog::warn("enforcement: {} ({})", to_string(probe.mode), probe.mode_explanation);
}

} // namespace

int run_agent(const AgentOptions& options, const std::atomic<bool>& stop,
              std::atomic<bool>* reload) {
    if (std::string why; options.stacks && !bcc_available(&why)) {
        spdlog::error("--stacks: {}", why);
        return 1;
    }
    if (geteuid() != 0) {
        spdlog::error("podguard run needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN)");
        return 1;
    }
    struct stat st;
    if (stat("/sys/kernel/btf/vmlinux", &st) != 0) {
        spdlog::error("this kernel has no BTF at /sys/kernel/btf/vmlinux; podguard needs "
                      "CONFIG_DEBUG_INFO_BTF=y");
        return 1;
    }
    auto json = JsonLinesSink::open(options.events_path,
                                    {options.lifecycle_events, options.events_rotation});
    if (!json) {
        spdlog::error("{}", json.error().message);
        return 1;
    }
    if (auto fs = ensure_kernel_filesystems(); !fs) {
        spdlog::error("{}", fs.error().message);
        return 1;
    }
    KernelProbe probe = probe_kernel();
    if (!probe.can_observe) {
        for (const auto& c : probe.checks)
            if (!c.ok && c.name != "bpf_lsm_active" && c.name != "bpf_lsm_program")
                spdlog::error("kernel lacks {}: {}", c.name, c.detail);
        return 1;
    }
    log_enforcement(probe);
    set_event_node_name(options.metadata.node_name.empty()
                            ? metadata::kubernetes::default_node_name()
                            : options.metadata.node_name);

    std::unique_ptr<Metrics> metrics;
    if (!options.metrics_address.empty()) {
        MetricsConfig mc;
        mc.address = options.metrics_address;
        auto labels = parse_pod_labels(options.metrics_pod_labels);
        if (!labels) {
            spdlog::error("{}", labels.error().message);
            return 1;
        }
        mc.pod_labels = *labels;
        mc.max_pod_series = options.metrics_max_pod_series;
        auto started = Metrics::start(mc);
        if (!started) {
            spdlog::error("{}", started.error().message);
            return 1;
        }
        metrics = std::move(*started);
        metrics->set_enforcement_mode(probe.mode);
        spdlog::info("metrics on http://{}:{}/metrics", mc.address.substr(0, mc.address.rfind(':')),
                     metrics->port());
    }
    auto metadata = start_metadata(options.metadata);
    if (!metadata) {
        spdlog::error("{}", metadata.error().message);
        return 1;
    }

    auto cgroup_root = find_cgroup2_root();
    if (!cgroup_root) {
        spdlog::error("{}", cgroup_root.error().message);
        return 1;
    }
    CgroupResolver cgroups(*cgroup_root);

    route_libbpf_logs_to_spdlog();
    LoadOptions load;
    load.ringbuf_bytes = options.ringbuf_bytes;
    load.flood = options.flood;
    load.report_self = options.report_self;
    load.stacks = options.stacks;
    load.agent_tgid = static_cast<uint32_t>(getpid());
    load.enforcement = probe.mode;
    load.pin_dir = options.pin ? kDefaultPinDir : "";
    load.pin_links = !options.fail_open;
    auto bpf = BpfObjects::load(load);
    if (!bpf) {
        spdlog::error("{}", bpf.error().message);
        return 1;
    }
    // Attach before scanning /proc: a process born in between is then seen
    // by the fork hook rather than missed by both.
    if (auto a = (*bpf)->attach(); !a) {
        spdlog::error("{}", a.error().message);
        return 1;
    }
    health_set_attached(true);
    auto threads = scan_processes(true);
    auto ids = cgroup_ids_for(threads, cgroups.root());
    auto seeded = seed_kernel_cache((*bpf)->pids_fd(), (*bpf)->procs_fd(), threads, ids);
    if (!seeded) {
        spdlog::error("{}", seeded.error().message);
        return 1;
    }
    ProcessTable processes;
    processes.seed(threads, ids);

    Enricher enricher(cgroups, processes);
    const metadata::MetadataCache& meta_cache = **metadata;
    MetadataEnricher metadata_enricher(meta_cache);
    enricher.add_party_enricher(metadata_enricher);
    Pipeline pipeline((*bpf)->events_fd(), (*bpf)->lost_fd(), (*bpf)->ringbuf_bytes(), processes,
                      enricher);
    std::optional<StackResolver> stacks;
    if (options.stacks) {
        stacks.emplace((*bpf)->stacks_fd());
        pipeline.set_stack_resolver(&*stacks);
    }
    if (auto o = pipeline.open(); !o) {
        spdlog::error("{}", o.error().message);
        return 1;
    }
    // PodGuardPolicy objects: watched when the Kubernetes API is configured.
    std::unique_ptr<metadata::kubernetes::PolicyWatch> policy_watch;
    std::unique_ptr<ApiPolicies> api_policies;
    if (options.api_policies && options.metadata.enabled &&
        (!options.metadata.kubeconfig.empty() || std::getenv("KUBERNETES_SERVICE_HOST"))) {
        auto config = metadata::kubernetes::resolve_config(options.metadata.kubeconfig);
        if (!config) {
            spdlog::error("PodGuardPolicy watch: {}", config.error().message);
            return 1;
        }
        metadata::kubernetes::PolicyWatchOptions po;
        po.config = std::move(*config);
        policy_watch = std::make_unique<metadata::kubernetes::PolicyWatch>(std::move(po));
        policy_watch->start();
        api_policies = std::make_unique<ApiPolicies>(*policy_watch, metrics.get());
        // Start enforcing with the cluster's policies when the API answers
        // soon; otherwise they apply as soon as it does (not ready till then).
        for (int i = 0; i < 50 && !policy_watch->synced() && !stop.load(); ++i)
            usleep(100 * 1000);
        (void)api_policies->refresh();
    }
    if (auto o = pipeline.add_priority_ring((*bpf)->prio_events_fd()); !o) {
        spdlog::error("{}", o.error().message);
        return 1;
    }
    if (options.flood.window_ns) {
        BpfObjects* objects = bpf->get();
        pipeline.set_sweep(
            [objects] {
                if (auto st = objects->flush_aggregates(false); !st)
                    spdlog::warn("{}", st.error().message);
            },
            std::max<uint64_t>(options.flood.window_ns / 4, 10'000'000ull));
    }
    PolicyRuntime policy(**bpf, options.policy_paths, metrics.get());
    policy.set_api_policies(api_policies.get());
    policy.set_default_posture(options.unidentified == "closed" ? policy::Posture::Closed
                                                                : policy::Posture::Open);
    if (auto st = policy.reload(); !st)
        return 1;
    // Every container there is, and each new one as it appears, in the
    // kernel's policy maps before the first event asks for it.
    CgroupRegistrar registrar(cgroups.root(), policy,
                              [&metadata_enricher](Party& p) { metadata_enricher.enrich(p); });
    if (auto st = registrar.start(); !st)
        spdlog::warn("cgroup watch unavailable ({}): containers are registered from their first "
                     "event, and decided by the posture for the unidentified until then",
                     st.error().message);
    // First, so that a container is known to the kernel's policy as early
    // as its first event.
    pipeline.add_sink(&policy);
    pipeline.add_sink(json->get());
    std::unique_ptr<StoreSink> store;
    if (!options.store_path.empty()) {
        StoreOptions so;
        so.path = options.store_path;
        so.max_bytes = options.store_max_bytes;
        so.max_age = options.store_max_age;
        auto opened = StoreSink::open(so, StoreSinkOptions{});
        if (!opened) {
            spdlog::error("event store: {}", opened.error().message);
            return 1;
        }
        store = std::move(*opened);
        pipeline.add_sink(store.get());
        spdlog::info("events stored in {}", options.store_path);
    }
    // Run time per program is only counted while a stats fd is held, and the
    // counting costs every syscall on the node: only when asked for.
    Result<int> stats_fd = make_error("not asked for (--bpf-stats)");
    if (options.bpf_stats) {
        stats_fd = enable_bpf_stats();
        if (!stats_fd)
            spdlog::warn("BPF run-time statistics unavailable: {}", stats_fd.error().message);
    }
    std::unique_ptr<MetricsSink> metrics_sink;
    std::unique_ptr<HealthReporter> health;
    std::unique_ptr<FloodReporter> flood_reporter;
    if (metrics) {
        flood_reporter = std::make_unique<FloodReporter>(*metrics, (*bpf)->flood_fd(),
                                                         (*bpf)->fair_fd(), enricher);
        metrics_sink = std::make_unique<MetricsSink>(*metrics);
        pipeline.add_sink(metrics_sink.get());
        std::vector<BpfProgramRef> refs;
        for (const auto& p : (*bpf)->programs())
            refs.push_back({p.name, p.fd});
        health =
            std::make_unique<HealthReporter>(*metrics, pipeline, std::move(refs), metadata->get());
        health->set_guard_stats_fd((*bpf)->guard_stats_fd());
        health->update();
    }
    pipeline.set_tick([&] {
        health_beat();
        if (health)
            health->update();
        if (flood_reporter)
            flood_reporter->update();
        policy.maybe_reload(reload && reload->exchange(false));
    });

    spdlog::info("podguard ready: {} programs attached, {} processes and {} threads known, "
                 "events to {}",
                 (*bpf)->programs().size(), seeded->processes, seeded->threads,
                 options.events_path == "-" ? "stdout" : options.events_path);
    if (!options.ready_file.empty()) {
        std::ofstream ready(options.ready_file);
        ready << getpid() << "\n";
    }

    health_beat();
    auto ran = pipeline.run(stop);
    // No act may stay counted only in the kernel: once the hooks are gone,
    // every pending count goes out as a summary and is read.
    (*bpf)->detach();
    if (auto st = (*bpf)->flush_aggregates(true); !st)
        spdlog::warn("{}", st.error().message);
    pipeline.drain();
    pg_lost_counters lost = pipeline.read_lost();
    FloodTotals flood = read_flood_totals((*bpf)->flood_fd());
    spdlog::info("podguard stopping: {} records read, {} not delivered by the kernel, {} "
                 "undecodable, {} lost to handling errors",
                 pipeline.stats().records, lost_total(lost), pipeline.stats().decode_errors,
                 pipeline.stats().handling_errors);
    spdlog::info("podguard flood control: {}", format_flood_totals(flood, pipeline.stats()));
    if (stats_fd)
        close(*stats_fd);
    if (!ran) {
        spdlog::error("{}", ran.error().message);
        return 1;
    }
    return 0;
}

} // namespace podguard

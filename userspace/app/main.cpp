// podguard: the command line. Every usage error is one line and exit 2;
// every runtime error is one line and exit 1.
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/size_arg.h"
#include "daemon/agent.h"
#include "loader/bpf_objects.h"
#include "loader/kernel_probe.h"
#include "output/rotating_file.h"
#include "policy/check.h"
#include "store/events_cli.h"
#include "store/time_arg.h"

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};

void on_reload_signal(int) {
    g_reload.store(true);
}

void on_stop_signal(int) {
    g_stop.store(true);
}

void on_reopen_signal(int) {
    podguard::request_events_reopen();
}

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    struct sigaction hup {};
    hup.sa_handler = on_reload_signal;
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, nullptr);
    // SIGHUP is the policy reload; the events file reopens on SIGUSR1.
    struct sigaction usr1 {};
    usr1.sa_handler = on_reopen_signal;
    sigemptyset(&usr1.sa_mask);
    sigaction(SIGUSR1, &usr1, nullptr);
}

uint32_t parse_size(const std::string& text) {
    size_t pos = 0;
    unsigned long long v = std::stoull(text, &pos);
    std::string unit = text.substr(pos);
    if (unit == "K" || unit == "KiB")
        v <<= 10;
    else if (unit == "M" || unit == "MiB")
        v <<= 20;
    else if (!unit.empty())
        throw std::invalid_argument("unknown size unit '" + unit + "'");
    if (v > (1ull << 30))
        throw std::invalid_argument("size too large");
    if (v < 4096 || (v & (v - 1)))
        throw std::invalid_argument("must be a power of two of at least 4096 bytes (e.g. 16M)");
    return static_cast<uint32_t>(v);
}

} // namespace

int main(int argc, char** argv) {
    // Logs go to stderr: stdout may be the event stream.
    auto logger = spdlog::stderr_color_mt("podguard");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

    CLI::App app{"podguard: watches and polices what the containers of a pod do to each other"};
    app.require_subcommand(1);
    const std::string version_text = std::string("podguard ") + PODGUARD_VERSION;
    app.set_version_flag("--version", version_text, "Print the version and exit");
    auto* version = app.add_subcommand("version", "Print the version and exit");
    std::string log_level = "info";
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

    podguard::AgentOptions run_opts;
    std::string ringbuf_size = "16M";
    auto* run = app.add_subcommand("run", "Load the BPF programs and report events");
    run->add_option("--events", run_opts.events_path,
                    "Where to write JSON lines: a file (appended) or - for stdout");
    std::string events_max_bytes = "100M", store_max_bytes = "1G", store_max_age = "30d";
    run->add_option("--events-max-bytes", events_max_bytes,
                    "Rotate the events file at this size into FILE.1..N (0: never; default 100M)");
    run->add_option("--events-max-files", run_opts.events_rotation.max_files,
                    "Rotated events files kept (default 5)");
    run->add_option("--store-max-bytes", store_max_bytes,
                    "Prune the oldest stored events beyond this size (0: no bound; default 1G)");
    run->add_option("--store-max-age", store_max_age,
                    "Prune stored events older than this (e.g. 7d, 12h; 0: no bound; default "
                    "30d)");
    run->add_option("--ready-file", run_opts.ready_file,
                    "Create this file once every hook is attached");
    run->add_option("--ringbuf-size", ringbuf_size, "Ring buffer size, a power of two (e.g. 16M)");
    std::string prio_ringbuf_size = "4M";
    double aggregate_window_s = 1.0;
    run->add_option("--priority-ringbuf-size", prio_ringbuf_size,
                    "Ring buffer for policy-matched events, first occurrences and summaries");
    run->add_option("--aggregate-window", aggregate_window_s,
                    "Seconds over which identical acts become one summary (0: send every act)")
        ->check(CLI::Range(0.0, 3600.0));
    run->add_option("--aggregate-by", run_opts.flood.by_container,
                    "Source of an aggregation tuple: process or container")
        ->transform(CLI::CheckedTransformer(
            std::map<std::string, bool>{{"process", false}, {"container", true}}));
    run->add_option("--aggregate-entries", run_opts.flood.table_entries,
                    "Distinct tuples the kernel keeps (LRU)")
        ->check(CLI::Range(1u, 1u << 22));
    run->add_option("--source-priority-rate", run_opts.flood.prio_rate,
                    "Priority records per second each source cgroup may send (0: no limit)");
    run->add_option("--source-priority-burst", run_opts.flood.prio_burst,
                    "Priority records a source cgroup may send at once");
    run->add_option("--source-rate", run_opts.flood.rate,
                    "Other records per second each source cgroup may send (0: no limit)");
    run->add_option("--source-burst", run_opts.flood.burst,
                    "Other records a source cgroup may send at once");
    run->add_flag("--report-self", run_opts.report_self,
                  "Also report processes acting on themselves");
    run->add_flag("--bpf-stats", run_opts.bpf_stats,
                  "Count BPF program runs and run time (podguard_bpf_program_run*); costs every "
                  "BPF program on the node two clock reads per run");
    run->add_flag("--lifecycle-events", run_opts.lifecycle_events,
                  "Also write fork/exec/exit events");
    run->add_flag("--stacks", run_opts.stacks,
                  "Add the source's user and kernel stack to each event (symbolized)");
    run->add_option("--metrics-address", run_opts.metrics_address,
                    "Prometheus endpoint HOST:PORT (default 127.0.0.1:9417; port 0 picks one)");
    bool no_metrics = false;
    run->add_flag("--no-metrics", no_metrics, "Serve no Prometheus endpoint");
    run->add_option("--metrics-pod-labels", run_opts.metrics_pod_labels,
                    "Pod labels on activity metrics: off, namespace, pod, container")
        ->check(CLI::IsMember({"off", "namespace", "pod", "container"}));
    run->add_option("--metrics-max-pod-series", run_opts.metrics_max_pod_series,
                    "Cap on pod-level series; the rest fold into _overflow");
    run->add_option("--kubeconfig", run_opts.metadata.kubeconfig,
                    "Kubeconfig for pod metadata from the Kubernetes API (in-cluster config is "
                    "used automatically)");
    run->add_option("--node-name", run_opts.metadata.node_name,
                    "This node's name for the Kubernetes pod watch (default $NODE_NAME or "
                    "hostname)");
    run->add_option("--runtime-socket", run_opts.metadata.runtime_socket,
                    "Docker/podman-compatible API socket (default: /run/podman/podman.sock or "
                    "/var/run/docker.sock if present)");
    run->add_flag("!--no-metadata", run_opts.metadata.enabled,
                  "Do not contact the Kubernetes API or a container runtime");

    run->add_option("--policy", run_opts.policy_paths,
                    "Policy files or directories (default: the embedded default policy); "
                    "reloaded on SIGHUP and when a file changes");
    run->add_flag("!--no-api-policies", run_opts.api_policies,
                  "Do not list and watch PodGuardPolicy objects from the Kubernetes API");
    run->add_option("--unidentified", run_opts.unidentified,
                    "Posture for a container not identified yet, for policies that do not set "
                    "spec.unidentified: closed (default: block and audit rules naming containers "
                    "apply to it from its first exec) or open (they do not until it is named)")
        ->check(CLI::IsMember({"closed", "open"}));
    run->add_option("--store", run_opts.store_path,
                    "SQLite event store (default /var/lib/podguard/events.db)");
    bool no_store = false;
    run->add_flag("--no-store", no_store, "Keep no local event store");
    run->add_flag("--pin", run_opts.pin,
                  "Pin programs and maps under /sys/fs/bpf/podguard: enforcement outlives the "
                  "daemon (fail-closed) and a restarted daemon adopts it");
    run->add_flag("--fail-open", run_opts.fail_open,
                  "With --pin: pin maps only, so the hooks detach if the daemon dies");

    auto* events = app.add_subcommand("events", "Query the local event store (see events --help)");
    events->prefix_command();
    events->set_help_flag();
    auto* unpin = app.add_subcommand("unpin", "Remove pinned podguard programs and maps");

    std::vector<std::string> policy_files;
    auto* policy = app.add_subcommand("policy", "Work with podguard policies");
    policy->require_subcommand(1);
    auto* policy_check = policy->add_subcommand(
        "check", "Validate policy files or directories; print every error as file:line:col");
    policy_check->add_option("paths", policy_files, "Policy files or directories")->required();

    bool probe_json = false;
    auto* probe = app.add_subcommand("probe", "Report what this kernel offers and which "
                                              "enforcement mechanism podguard would use");
    probe->add_flag("--json", probe_json, "Machine-readable output");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion&) {
        std::cout << version_text << "\n";
        return 0;
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "podguard: error: %s (see --help)\n", e.what());
        return 2;
    }
    spdlog::set_level(spdlog::level::from_str(log_level));

    if (*version) {
        std::cout << version_text << "\n";
        return 0;
    }
    if (*events)
        return podguard::events_main(events->remaining(), std::cout, std::cerr, &g_stop);
    if (*unpin) {
        auto st = podguard::remove_pinned_state(podguard::kDefaultPinDir);
        if (!st) {
            std::fprintf(stderr, "podguard: error: %s\n", st.error().message.c_str());
            return 1;
        }
        return 0;
    }
    if (*policy_check)
        return podguard::policy::policy_check_main(policy_files, std::cout, std::cerr);
    if (*probe) {
        (void)podguard::ensure_kernel_filesystems();
        auto result = podguard::probe_kernel();
        std::cout << (probe_json ? podguard::format_probe_json(result) + "\n"
                                 : podguard::format_probe(result));
        return result.can_observe ? 0 : 1;
    }
    if (*run) {
        try {
            run_opts.ringbuf_bytes = parse_size(ringbuf_size);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "podguard: error: --ringbuf-size %s: %s\n", ringbuf_size.c_str(),
                         e.what());
            return 2;
        }
        auto ev_bytes = podguard::parse_byte_size(events_max_bytes);
        auto st_bytes = podguard::parse_byte_size(store_max_bytes);
        auto st_age = store_max_age == "0" ? podguard::Result<uint64_t>(0)
                                           : podguard::parse_duration_ns(store_max_age);
        for (auto [flag, r] :
             {std::pair{"--events-max-bytes", &ev_bytes}, std::pair{"--store-max-bytes", &st_bytes},
              std::pair{"--store-max-age", &st_age}}) {
            if (!r->ok()) {
                std::fprintf(stderr, "podguard: error: %s: %s\n", flag, r->error().message.c_str());
                return 2;
            }
        }
        run_opts.events_rotation.max_bytes = *ev_bytes;
        run_opts.store_max_bytes = *st_bytes;
        run_opts.store_max_age = std::chrono::seconds(*st_age / 1000000000ull);
        try {
            run_opts.flood.prio_ringbuf_bytes = parse_size(prio_ringbuf_size);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "podguard: error: --priority-ringbuf-size %s: %s\n",
                         prio_ringbuf_size.c_str(), e.what());
            return 2;
        }
        run_opts.flood.window_ns = static_cast<uint64_t>(aggregate_window_s * 1e9);
        if (no_metrics)
            run_opts.metrics_address.clear();
        if (no_store)
            run_opts.store_path.clear();
        install_signal_handlers();
        return podguard::run_agent(run_opts, g_stop, &g_reload);
    }
    return 2;
}

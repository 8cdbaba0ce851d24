// Time from a container cgroup's creation to its registration in the
// kernel's policy maps (pg_cgroups), through the agent's cgroup watch; and
// whether the kernel itself classed the cgroup as a container the moment a
// task joined it (pg_cgroup_class), which is what decides before the daemon
// registers. The containers are cgroups with libpod's layout
// (libpod_parent/<pod>/libpod-<64 hex>) holding a sleeping process; the
// agent runs with --pin so that the maps can be read here.
#include <bpf/bpf.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench_agent.h"
#include "container/cgroup_resolver.h"
#include "podguard.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string random_hex(std::mt19937_64& rng, int n) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < n; ++i)
        s += digits[rng() % 16];
    return s;
}

double pct(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1)))];
}

} // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 50;
    auto root = podguard::find_cgroup2_root();
    if (!root) {
        std::fprintf(stderr, "%s\n", root.error().message.c_str());
        return 1;
    }
    const std::string parent = *root + "/libpod_parent";
    const bool made_parent = mkdir(parent.c_str(), 0755) == 0;
    std::mt19937_64 rng(getpid());
    const std::string pod = parent + "/pgbench-" + random_hex(rng, 12);
    if (mkdir(pod.c_str(), 0755) != 0) {
        std::perror(pod.c_str());
        return 1;
    }
    std::system((std::string(PODGUARD_BINARY) + " unpin >/dev/null 2>&1").c_str());
    auto agent = podguard::bench::start_agent("registration", {"--pin", "--no-metrics"});
    int cgroups_fd = bpf_obj_get("/sys/fs/bpf/podguard/pg_cgroups");
    int class_fd = bpf_obj_get("/sys/fs/bpf/podguard/pg_cgroup_class");
    int config_fd = bpf_obj_get("/sys/fs/bpf/podguard/pg_enforce_config");
    if (cgroups_fd < 0 || class_fd < 0 || config_fd < 0) {
        std::fprintf(stderr, "pinned maps missing\n");
        return 1;
    }
    uint32_t zero = 0;
    pg_enforce_config cfg{};
    bpf_map_lookup_elem(config_fd, &zero, &cfg);

    std::vector<double> daemon_ms;
    int kernel_classified = 0, timeouts = 0;
    for (int i = 0; i < rounds; ++i) {
        const std::string dir = pod + "/libpod-" + random_hex(rng, 64);
        auto t0 = Clock::now();
        if (mkdir(dir.c_str(), 0755) != 0) {
            std::perror(dir.c_str());
            break;
        }
        pid_t child = fork();
        if (child == 0) {
            pause();
            _exit(0);
        }
        std::ofstream(dir + "/cgroup.procs") << child << "\n";
        auto id = podguard::CgroupResolver::cgroup_id_of(dir);
        uint32_t cls = 0;
        if (id && bpf_map_lookup_elem(class_fd, &*id, &cls) == 0 && cls == PG_CG_CONTAINER)
            ++kernel_classified;
        pg_cgroup_key key{id ? *id : 0, cfg.active_gen, 0};
        pg_cgroup_info info{};
        bool registered = false;
        while (Clock::now() - t0 < std::chrono::seconds(5)) {
            if (bpf_map_lookup_elem(cgroups_fd, &key, &info) == 0) {
                registered = true;
                break;
            }
            usleep(50);
        }
        if (registered)
            daemon_ms.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        else
            ++timeouts;
        kill(child, SIGKILL);
        waitpid(child, nullptr, 0);
        rmdir(dir.c_str());
    }
    podguard::bench::stop_agent(agent);
    std::system((std::string(PODGUARD_BINARY) + " unpin >/dev/null 2>&1").c_str());
    rmdir(pod.c_str());
    if (made_parent)
        rmdir(parent.c_str());

    std::printf("container cgroups created: %d\n", rounds);
    std::printf("kernel classed as container when its first task joined: %d of %d (decides "
                "until registration)\n",
                kernel_classified, rounds);
    std::printf("cgroup creation -> registered by the daemon (pg_cgroups): median %.2f ms, p90 "
                "%.2f ms, max %.2f ms, not within 5 s: %d\n",
                pct(daemon_ms, 0.5), pct(daemon_ms, 0.9), pct(daemon_ms, 1.0), timeouts);
    return 0;
}

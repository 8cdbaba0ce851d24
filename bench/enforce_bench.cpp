// What the in-kernel policy decision costs a monitored syscall, and how long
// a 1,000-rule reload takes. One run, one BPF object: the same loops with an
// empty policy and with a 1,000-rule one loaded, alternated so that machine
// noise hits both. Targets: <= 1.1x per syscall, <= 100 ms per reload.
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "enforce/policy_maps.h"
#include "loader/bpf_objects.h"
#include "policy/load.h"

namespace {

using namespace podguard;
using Clock = std::chrono::steady_clock;

double ns_per_op(const std::function<void()>& op, int iterations) {
    auto t0 = Clock::now();
    for (int i = 0; i < iterations; ++i)
        op();
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / iterations;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// 1,000 rules that all name the benchmark's operations and relation but whose
// source selector matches no process here: every decision runs in full and
// ends in "no rule" (nothing gets killed).
std::string big_policy(int rules) {
    std::string y = "apiVersion: podguard.io/v1alpha1\nkind: PodGuardPolicy\nmetadata:\n"
                    "  name: bench\nspec:\n  rules:\n";
    for (int i = 0; i < rules; ++i) {
        y += "    - name: r" + std::to_string(i) + "\n      action: " +
             (i % 3 == 0   ? "block"
              : i % 3 == 1 ? "audit"
                           : "allow") +
             "\n      operations: [signal, ptrace, procAccess]\n"
             "      source: {pods: [pod-" +
             std::to_string(i) + "], containers: [c" + std::to_string(i % 7) + "]}\n";
    }
    return y;
}

} // namespace

int main() {
    if (auto fs = ensure_kernel_filesystems(); !fs) {
        std::fprintf(stderr, "%s\n", fs.error().message.c_str());
        return 1;
    }
    LoadOptions o;
    o.enforcement = EnforcementMode::SignalFallback;
    auto objects = BpfObjects::load(o);
    if (!objects) {
        std::fprintf(stderr, "load: %s\n", objects.error().message.c_str());
        return 1;
    }
    if (auto a = (*objects)->attach(); !a) {
        std::fprintf(stderr, "attach: %s\n", a.error().message.c_str());
        return 1;
    }
    // Drain events as a daemon would, or a full ring would make them cheaper.
    std::atomic<bool> stop{false};
    struct ring_buffer* rb = ring_buffer__new(
        (*objects)->events_fd(), [](void*, void*, size_t) { return 0; }, nullptr, nullptr);
    std::thread drain([&] {
        while (!stop)
            ring_buffer__poll(rb, 50);
    });

    // Forked after attach so the process cache knows it: every kill resolves.
    pid_t child = fork();
    if (child == 0) {
        signal(SIGURG, SIG_IGN);
        for (;;)
            pause();
    }
    usleep(100 * 1000);
    const std::string proc_path = "/proc/" + std::to_string(child) + "/cmdline";

    auto t0 = Clock::now();
    auto set = policy::load_policy_text(big_policy(1000), "bench.yaml");
    if (!set) {
        std::fprintf(stderr, "%s\n", set.error().message.c_str());
        return 1;
    }
    double parse_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    t0 = Clock::now();
    auto compiled = policy::compile(*set);
    if (!compiled) {
        std::fprintf(stderr, "%s\n", compiled.error().message.c_str());
        return 1;
    }
    double compile_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();

    // 200 containers known to the daemon at reload time.
    std::vector<enforce::CgroupFacts> cgroups;
    for (int i = 0; i < 200; ++i) {
        enforce::CgroupFacts f;
        f.cgroup_id = 0x7000000000ULL + i;
        f.pod_id = 1 + i / 4;
        f.container_id = 1 + i;
        f.party.in_container = true;
        f.party.pod = "pod-" + std::to_string(i * 5);
        f.party.container = "c" + std::to_string(i % 7);
        cgroups.push_back(f);
    }
    enforce::PolicyMaps maps(**objects);
    const policy::CompiledPolicy empty;

    std::vector<double> reload_ms;
    for (int i = 0; i < 11; ++i) {
        auto r0 = Clock::now();
        auto st = maps.load(*compiled, [&] { return cgroups; });
        reload_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - r0).count());
        if (!st) {
            std::fprintf(stderr, "reload: %s\n", st.error().message.c_str());
            return 1;
        }
    }

    auto kill_op = [&] { kill(child, SIGURG); };
    auto open_op = [&] {
        int fd = open(proc_path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            close(fd);
    };
    const int n = 5000;
    std::vector<double> kill_none, kill_big, open_none, open_big;
    for (int round = 0; round < 40; ++round) {
        (void)maps.load(empty);
        kill_none.push_back(ns_per_op(kill_op, n));
        open_none.push_back(ns_per_op(open_op, n));
        (void)maps.load(*compiled, [&] { return cgroups; });
        kill_big.push_back(ns_per_op(kill_op, n));
        open_big.push_back(ns_per_op(open_op, n));
    }
    stop = true;
    drain.join();
    ring_buffer__free(rb);
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);

    // Best of 40 alternated rounds: the other core runs builds and the reader.
    auto best = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
    double kn = best(kill_none), kb = best(kill_big);
    double on = best(open_none), ob = best(open_big);
    std::printf("policy: %zu rules, %zu selectors; parse+validate %.1f ms, compile %.1f ms "
                "(policy module, user space, before the maps are touched)\n",
                compiled->rules.size(), compiled->selectors.size(), parse_ms, compile_ms);
    std::printf("reload (1,000 rules + 200 cgroups, build + write + switch): median %.2f ms, "
                "max %.2f ms (target <= 100 ms)\n",
                median(reload_ms), *std::max_element(reload_ms.begin(), reload_ms.end()));
    std::printf("(medians: kill %.3fx, open %.3fx)\n", median(kill_big) / median(kill_none),
                median(open_big) / median(open_none));
    std::printf("kill(pid, SIGURG), monitored + decided: no policy %.0f ns, 1,000 rules %.0f ns, "
                "ratio %.3fx (target <= 1.1x)\n",
                kn, kb, kb / kn);
    std::printf("open(/proc/<pid>/cmdline), monitored + decided: no policy %.0f ns, 1,000 rules "
                "%.0f ns, ratio %.3fx (target <= 1.1x)\n",
                on, ob, ob / on);
    return 0;
}

// The agent's idle footprint: resident memory a few seconds after it is
// ready with nothing happening, without --stacks (libbcc, and with it
// libLLVM and libclang-cpp, are then never mapped) and with it.
// Run under the kernel lock: flock /tmp/podguard-kernel.lock build/bench/podguard_bench_idle_rss
#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

#include "bench_agent.h"

namespace {

using namespace podguard::bench;

struct Footprint {
    long rss_kib = 0;
    bool llvm_mapped = false;
};

Footprint footprint(pid_t pid) {
    Footprint f;
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmRSS:", 0) == 0)
            f.rss_kib = std::stol(line.substr(6));
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    for (std::string line; std::getline(maps, line);)
        f.llvm_mapped = f.llvm_mapped || line.find("libLLVM") != std::string::npos;
    return f;
}

Footprint measure(const char* tag, const std::vector<std::string>& extra) {
    auto agent = start_agent(tag, extra);
    sleep(5); // the /proc seed and first metadata settle
    Footprint f = footprint(agent.pid);
    stop_agent(agent);
    return f;
}

} // namespace

int main() {
    const std::vector<std::string> common = {"--no-metrics"};
    Footprint plain = measure("idle", common);
    auto with = common;
    with.push_back("--stacks");
    Footprint stacks = measure("idle-stacks", with);
    std::printf("idle RSS without --stacks: %.1f MiB (libLLVM mapped: %s)\n",
                plain.rss_kib / 1024.0, plain.llvm_mapped ? "yes" : "no");
    std::printf("idle RSS with --stacks:    %.1f MiB (libLLVM mapped: %s)\n",
                stacks.rss_kib / 1024.0, stacks.llvm_mapped ? "yes" : "no");
    std::printf("ratio without/with: %.2f\n", double(plain.rss_kib) / double(stacks.rss_kib));
    return plain.llvm_mapped ? 1 : 0;
}

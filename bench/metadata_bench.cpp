// Cost of metadata enrichment on the event hot path: lookup latency with
// 10,000 cached containers (median/p99 of single lookups, then
// google-benchmark throughput, also with concurrent readers), and heap bytes per
// cached container (mallinfo2 delta / count).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <malloc.h>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "metadata/cache.h"

namespace {

using podguard::metadata::ContainerMeta;
using podguard::metadata::MetadataCache;
using podguard::metadata::PodMeta;
using podguard::metadata::Publisher;

constexpr int kContainers = 10000;
constexpr int kContainersPerPod = 4;

std::string hex_id(std::mt19937_64& rng) {
    return fmt::format("{:016x}{:016x}{:016x}{:016x}", rng(), rng(), rng(), rng());
}

std::string pod_uid(int i) {
    return fmt::format("5f0c{:04x}-1b2c-4d5e-8f90-a1b2c3d4{:04x}", i, i);
}

// Shaped like what the Kubernetes provider stores: a 64-hex id, a short name,
// a registry image reference, a 36-char pod uid, no per-container labels.
ContainerMeta make_container(const std::string& id, int i) {
    ContainerMeta c;
    c.id = id;
    c.name = fmt::format("app-{}", i % 7 == 0 ? "sidecar-proxy" : "main");
    c.image = fmt::format("registry.example.com/team-{}/service-{}:1.{}.3", i % 13, i % 97, i % 10);
    c.runtime = "containerd";
    c.pod_uid = pod_uid(i / kContainersPerPod);
    return c;
}

PodMeta make_pod(int i) {
    PodMeta p;
    p.uid = pod_uid(i);
    p.namespace_ = fmt::format("team-{}", i % 13);
    p.name = fmt::format("service-{}-7c9d8f6b5-{:05d}", i % 97, i);
    p.node = "node-a.example.com";
    p.labels = {{"app", fmt::format("service-{}", i % 97)},
                {"pod-template-hash", "7c9d8f6b5"},
                {"app.kubernetes.io/part-of", "shop"},
                {"app.kubernetes.io/version", "1.4.2"},
                {"tier", "backend"},
                {"team", fmt::format("team-{}", i % 13)}};
    p.annotations = {{"kubectl.kubernetes.io/default-container", "main"}};
    return p;
}

struct Fixture {
    MetadataCache cache;
    std::vector<std::string> ids;
    std::vector<std::string> pod_uids;
    size_t container_bytes = 0;
    size_t pod_bytes = 0;

    Fixture() {
        Publisher* source = cache.add_source("bench");
        std::mt19937_64 rng(42);
        for (int i = 0; i < kContainers; ++i)
            ids.push_back(hex_id(rng));
        for (int i = 0; i < kContainers / kContainersPerPod; ++i)
            pod_uids.push_back(pod_uid(i));
        // Only what the cache keeps is inside the window: records are built in
        // it, and their temporaries are freed in it.
        size_t before = mallinfo2().uordblks;
        for (int i = 0; i < kContainers; ++i)
            source->container(make_container(ids[i], i));
        container_bytes = mallinfo2().uordblks - before;
        before = mallinfo2().uordblks;
        for (int i = 0; i < kContainers / kContainersPerPod; ++i)
            source->pod(make_pod(i));
        pod_bytes = mallinfo2().uordblks - before;
    }
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

void report_latency_and_memory() {
    Fixture& f = fixture();
    using Clock = std::chrono::steady_clock;
    constexpr int kSamples = 1'000'000;
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> pick(0, kContainers - 1);
    std::vector<int> order(kSamples);
    for (auto& o : order)
        o = pick(rng);

    // The clock's own cost, subtracted from each sample.
    std::vector<int64_t> empty(100000);
    for (auto& e : empty) {
        auto t0 = Clock::now();
        auto t1 = Clock::now();
        e = (t1 - t0).count();
    }
    std::nth_element(empty.begin(), empty.begin() + empty.size() / 2, empty.end());
    int64_t clock_ns = empty[empty.size() / 2];

    std::vector<int64_t> samples(kSamples);
    size_t found = 0;
    for (int i = 0; i < kSamples; ++i) {
        const std::string& id = f.ids[order[i]];
        auto t0 = Clock::now();
        auto c = f.cache.lookup_container(id);
        auto t1 = Clock::now();
        benchmark::DoNotOptimize(c);
        found += c != nullptr;
        samples[i] = std::max<int64_t>(0, (t1 - t0).count() - clock_ns);
    }
    std::sort(samples.begin(), samples.end());
    auto pct = [&](double p) { return samples[static_cast<size_t>(p * (kSamples - 1))]; };
    std::printf("lookup_container, %d cached, %d single lookups (clock cost %lld ns "
                "subtracted): median %lld ns, p90 %lld ns, p99 %lld ns, p99.9 %lld ns "
                "(found %zu)\n",
                kContainers, kSamples, static_cast<long long>(clock_ns),
                static_cast<long long>(pct(0.5)), static_cast<long long>(pct(0.9)),
                static_cast<long long>(pct(0.99)), static_cast<long long>(pct(0.999)), found);
    std::printf(
        "memory: %zu bytes for %d containers = %.0f bytes/container; pods: %zu bytes "
        "for %d = %.0f bytes/pod; all-in per container (pods shared by %d) %.0f bytes\n",
        f.container_bytes, kContainers, static_cast<double>(f.container_bytes) / kContainers,
        f.pod_bytes, kContainers / kContainersPerPod,
        static_cast<double>(f.pod_bytes) / (kContainers / kContainersPerPod), kContainersPerPod,
        static_cast<double>(f.container_bytes + f.pod_bytes) / kContainers);
    std::fflush(stdout);
}

void BM_LookupContainerHit(benchmark::State& state) {
    Fixture& f = fixture();
    size_t i = static_cast<size_t>(state.thread_index()) * 7919;
    for (auto _ : state) {
        auto c = f.cache.lookup_container(f.ids[i++ % f.ids.size()]);
        benchmark::DoNotOptimize(c);
    }
}
BENCHMARK(BM_LookupContainerHit);
BENCHMARK(BM_LookupContainerHit)->Threads(2)->UseRealTime();

void BM_LookupContainerMiss(benchmark::State& state) {
    Fixture& f = fixture();
    std::string id(64, 'f');
    for (auto _ : state) {
        auto c = f.cache.lookup_container(id);
        benchmark::DoNotOptimize(c);
    }
}
BENCHMARK(BM_LookupContainerMiss);

void BM_LookupContainerAndPod(benchmark::State& state) {
    Fixture& f = fixture();
    size_t i = 0;
    for (auto _ : state) {
        auto c = f.cache.lookup_container(f.ids[i++ % f.ids.size()]);
        auto p = f.cache.lookup_pod(c->pod_uid);
        benchmark::DoNotOptimize(p);
    }
}
BENCHMARK(BM_LookupContainerAndPod);

} // namespace

int main(int argc, char** argv) {
    report_latency_and_memory();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "metadata/cache.h"
#include "metadata/event_info.h"

namespace podguard::metadata {
namespace {

using namespace std::chrono_literals;

ContainerMeta container(std::string id, std::string name, std::string pod_uid = "") {
    ContainerMeta c;
    c.id = std::move(id);
    c.name = std::move(name);
    c.pod_uid = std::move(pod_uid);
    return c;
}

PodMeta pod(std::string uid, std::string ns, std::string name) {
    PodMeta p;
    p.uid = std::move(uid);
    p.namespace_ = std::move(ns);
    p.name = std::move(name);
    return p;
}

TEST(MetadataCache, FirstSourceWinsFieldByFieldAndOthersFillGaps) {
    MetadataCache cache;
    Publisher* kube = cache.add_source("kubernetes");
    Publisher* runtime = cache.add_source("runtime");
    ASSERT_TRUE(kube && runtime);

    ContainerMeta from_runtime = container("c1", "demo-nginx", "libpod-pod-id");
    from_runtime.image = "localhost/nginx:1";
    from_runtime.runtime = "libpod";
    from_runtime.labels = {{"app", "nginx"}};
    runtime->container(from_runtime);
    ContainerMeta from_kube = container("c1", "nginx", "uid-1");
    from_kube.runtime = "containerd";
    kube->container(from_kube);

    auto c = cache.lookup_container("c1");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "nginx");
    EXPECT_EQ(c->pod_uid, "uid-1");
    EXPECT_EQ(c->runtime, "containerd");
    EXPECT_EQ(c->image, "localhost/nginx:1"); // only the runtime knew it
    EXPECT_EQ(c->labels.at("app"), "nginx");

    // Kubernetes forgets it: the runtime's record answers on its own.
    kube->container_gone("c1");
    c = cache.lookup_container("c1");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "demo-nginx");
}

TEST(MetadataCache, LookupsReturnSnapshotsThatLaterUpdatesDoNotTouch) {
    MetadataCache cache;
    Publisher* src = cache.add_source("s");
    src->container(container("c1", "before"));
    auto held = cache.lookup_container("c1");
    src->container(container("c1", "after"));
    EXPECT_EQ(held->name, "before");
    EXPECT_EQ(cache.lookup_container("c1")->name, "after");
    EXPECT_FALSE(cache.lookup_container("nope"));
    EXPECT_FALSE(cache.lookup_pod("nope"));
}

TEST(MetadataCache, GoneEntriesResolveDuringTheGracePeriodThenExpire) {
    MetadataCache cache(CacheOptions{300ms});
    Publisher* src = cache.add_source("s");
    src->container(container("c1", "shell", "uid-1"));
    src->pod(pod("uid-1", "demo", "nginx"));
    src->container_gone("c1");
    src->pod_gone("uid-1");

    ASSERT_TRUE(cache.lookup_container("c1")) << "a late event of an exited container resolves";
    ASSERT_TRUE(cache.lookup_pod("uid-1"));
    auto s = cache.stats();
    EXPECT_EQ(s.lingering_containers, 1u);
    EXPECT_EQ(s.lingering_pods, 1u);
    EXPECT_EQ(s.providers[0].containers, 0u) << "no live record";

    std::this_thread::sleep_for(350ms);
    EXPECT_FALSE(cache.lookup_container("c1"));
    EXPECT_FALSE(cache.lookup_pod("uid-1"));
    cache.sweep();
    s = cache.stats();
    EXPECT_EQ(s.containers, 0u) << "swept";
    EXPECT_EQ(s.pods, 0u);
}

TEST(MetadataCache, ExpiredPodsAreHandedOutOnceSoTheirMetricSeriesCanGo) {
    MetadataCache cache(CacheOptions{200ms});
    Publisher* src = cache.add_source("s");
    src->pod(pod("uid-1", "demo", "nginx"));
    src->pod(pod("uid-2", "demo", "kept"));
    src->pod_gone("uid-1");
    EXPECT_TRUE(cache.take_expired_pods().empty()) << "still within its grace period";

    std::this_thread::sleep_for(250ms);
    auto expired = cache.take_expired_pods();
    ASSERT_EQ(expired.size(), 1u);
    EXPECT_EQ(expired[0].first, "demo");
    EXPECT_EQ(expired[0].second, "nginx");
    EXPECT_TRUE(cache.take_expired_pods().empty()) << "each pod is handed out once";
    EXPECT_TRUE(cache.lookup_pod("uid-2"));
}

TEST(MetadataCache, AContainerThatComesBackIsNotExpiredByItsOldRemoval) {
    MetadataCache cache(CacheOptions{100ms});
    Publisher* src = cache.add_source("s");
    src->container(container("c1", "a"));
    src->container_gone("c1");
    src->container(container("c1", "a"));
    std::this_thread::sleep_for(150ms);
    cache.sweep();
    EXPECT_TRUE(cache.lookup_container("c1"));
    EXPECT_EQ(cache.stats().lingering_containers, 0u);
}

TEST(MetadataCache, ResyncTreatsWhatASourceNoLongerListsAsGone) {
    MetadataCache cache(CacheOptions{100ms});
    Publisher* a = cache.add_source("a");
    Publisher* b = cache.add_source("b");
    a->resync({container("c1", "one"), container("c2", "two")}, {pod("p1", "ns", "pod")});
    b->container(container("c3", "three"));
    a->resync({container("c2", "two-renamed")}, {});

    EXPECT_TRUE(cache.lookup_container("c1")) << "lingers";
    EXPECT_EQ(cache.lookup_container("c2")->name, "two-renamed");
    EXPECT_TRUE(cache.lookup_container("c3")) << "another source's records are untouched";
    std::this_thread::sleep_for(150ms);
    EXPECT_FALSE(cache.lookup_container("c1"));
    EXPECT_FALSE(cache.lookup_pod("p1"));
    EXPECT_TRUE(cache.lookup_container("c3"));
}

TEST(MetadataCache, CountsHitsMissesPerSourceUpDownAndErrors) {
    MetadataCache cache;
    Publisher* a = cache.add_source("kubernetes");
    Publisher* b = cache.add_source("runtime");
    a->container(container("both", "x"));
    b->container(container("both", "y"));
    b->container(container("runtime-only", "z"));
    a->pod(pod("p", "ns", "n"));

    (void)cache.lookup_container("both");
    (void)cache.lookup_container("runtime-only");
    (void)cache.lookup_container("unknown");
    (void)cache.lookup_pod("p");
    (void)cache.lookup_pod("q");
    a->set_up(true);
    a->set_up(true);
    a->set_up(false);
    b->error();
    b->error();

    auto s = cache.stats();
    EXPECT_EQ(s.container_hits, 2u);
    EXPECT_EQ(s.container_misses, 1u);
    EXPECT_EQ(s.pod_hits, 1u);
    EXPECT_EQ(s.pod_misses, 1u);
    ASSERT_EQ(s.providers.size(), 2u);
    EXPECT_EQ(s.providers[0].name, "kubernetes");
    EXPECT_EQ(s.providers[0].hits, 1u);
    EXPECT_EQ(s.providers[0].misses, 2u);
    EXPECT_EQ(s.providers[1].hits, 2u);
    EXPECT_EQ(s.providers[1].misses, 1u);
    EXPECT_EQ(s.providers[0].went_up, 1u);
    EXPECT_EQ(s.providers[0].went_down, 1u);
    EXPECT_FALSE(s.providers[0].up);
    EXPECT_EQ(s.providers[1].errors, 2u);
    EXPECT_EQ(s.providers[0].containers, 1u);
    EXPECT_EQ(s.providers[1].containers, 2u);
    EXPECT_EQ(s.providers[0].pods, 1u);
    EXPECT_EQ(s.containers, 2u);
}

TEST(MetadataCache, ReadersNeverSeeATornRecordWhileWritersChurn) {
    MetadataCache cache(CacheOptions{1ms});
    Publisher* src = cache.add_source("s");
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> bad{0}, found{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t)
        readers.emplace_back([&] {
            while (!stop.load()) {
                for (int i = 0; i < 64; ++i) {
                    std::string id = "c" + std::to_string(i);
                    if (auto c = cache.lookup_container(id)) {
                        ++found;
                        if (c->id != id || c->name != "name-" + id)
                            ++bad;
                    }
                }
            }
        });
    auto deadline = std::chrono::steady_clock::now() + 300ms;
    for (int round = 0; std::chrono::steady_clock::now() < deadline; ++round) {
        for (int i = 0; i < 64; ++i) {
            std::string id = "c" + std::to_string(i);
            if ((i + round) % 3 == 0)
                src->container_gone(id);
            else
                src->container(container(id, "name-" + id));
        }
        if (round % 10 == 0)
            cache.sweep();
    }
    stop = true;
    for (auto& r : readers)
        r.join();
    EXPECT_EQ(bad.load(), 0u);
    EXPECT_GT(found.load(), 0u);
}

TEST(MetadataCache, EnrichFillsTheEventModel) {
    ContainerMeta meta = container("abc", "nginx", "uid-1");
    meta.image = "nginx:1";
    meta.runtime = "containerd";
    ContainerInfo info;
    info.id = "abc";
    info.runtime = "kubernetes"; // what the cgroup path said wins
    enrich(info, meta);
    EXPECT_EQ(info.name, "nginx");
    EXPECT_EQ(info.image, "nginx:1");
    EXPECT_EQ(info.runtime, "kubernetes");
    EXPECT_EQ(info.pod_uid, "uid-1");
    PodMeta p = pod("uid-1", "demo", "nginx");
    p.labels = {{"app", "nginx"}};
    PodInfo pi = to_pod_info(p);
    EXPECT_EQ(pi.namespace_, "demo");
    EXPECT_EQ(pi.labels.at("app"), "nginx");
}

} // namespace
} // namespace podguard::metadata

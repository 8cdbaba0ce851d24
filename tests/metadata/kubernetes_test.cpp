// The Kubernetes provider against an in-test API server whose pods carry the
// ids of real, running podman containers.
#include <memory>

#include <gtest/gtest.h>

#include "fake_kube_api.h"
#include "log_capture.h"
#include "metadata/cache.h"
#include "metadata/kubernetes/provider.h"
#include "podman.h"

namespace podguard::metadata::kubernetes {
namespace {

using namespace std::chrono_literals;
using test::FakeKubeApi;
using test::make_pod;

constexpr const char* kToken = "s3cret-token";
constexpr const char* kImage = "registry.example/nginx:1.25";

// One kube-played pod (nginx + shell) and one lone container for the whole
// suite: starting them is the slow part.
struct RealContainers {
    std::string error;
    std::unique_ptr<test::meta::KubePlayedPod> pod;
    std::unique_ptr<test::meta::PodmanContainer> lone;
    std::string nginx, shell, solo;
};
RealContainers* g_real = nullptr;

class KubernetesProviderTest : public ::testing::Test {
  public:
    static void SetUpTestSuite() {
        g_real = new RealContainers;
        g_real->error = test::meta::prepare_podman();
        if (!g_real->error.empty())
            return;
        g_real->pod = std::make_unique<test::meta::KubePlayedPod>(
            test::meta::unique_name("pgk"), std::map<std::string, std::string>{{"app", "nginx"}},
            std::vector<std::string>{"nginx", "shell"});
        if (!g_real->pod->ok()) {
            g_real->error = g_real->pod->error();
            return;
        }
        g_real->lone = std::make_unique<test::meta::PodmanContainer>(
            test::meta::unique_name("pgk-solo"), std::map<std::string, std::string>{});
        if (!g_real->lone->ok()) {
            g_real->error = g_real->lone->error();
            return;
        }
        g_real->nginx = g_real->pod->container_id("nginx");
        g_real->shell = g_real->pod->container_id("shell");
        g_real->solo = g_real->lone->id();
    }
    static void TearDownTestSuite() {
        delete g_real;
        g_real = nullptr;
    }

  protected:
    void SetUp() override {
        ASSERT_TRUE(g_real && g_real->error.empty())
            << "real podman containers are needed: " << (g_real ? g_real->error : "");
        ASSERT_EQ(g_real->nginx.size(), 64u);
        api_.start();
        api_.put_pod(demo_pod({{"app", "nginx"}, {"tier", "web"}}));
        api_.put_pod(make_pod("ops", "debug", "uid-b", "node-1", {{"app", "debug"}},
                              {{"tool", "busybox:1", "docker://" + g_real->solo}}));
        api_.put_pod(make_pod("other", "elsewhere", "uid-c", "node-2", {},
                              {{"x", "x:1", "containerd://" + std::string(64, 'c')}}));
        api_.put_pod(make_pod("ops", "pending", "uid-d", "node-1", {}, {{"waiting", "w:1", ""}}));
    }

    nlohmann::json demo_pod(const std::map<std::string, std::string>& labels,
                            const std::string& shell_id = "") {
        return make_pod(
            "demo", "nginx", "uid-a", "node-1", labels,
            {{"nginx", kImage, "containerd://" + g_real->nginx},
             {"shell", "busybox:1", "cri-o://" + (shell_id.empty() ? g_real->shell : shell_id)}});
    }

    KubernetesOptions options() {
        KubernetesOptions o;
        o.config.server = api_.url();
        o.config.token = kToken;
        o.node_name = "node-1";
        o.page_size = 1; // every pod on its own page
        o.backoff_initial = 50ms;
        o.backoff_max = 400ms;
        return o;
    }

    // Starts a provider into cache_; returns it (owned by the cache).
    KubernetesProvider* start(KubernetesOptions o) {
        auto provider = std::make_unique<KubernetesProvider>(std::move(o));
        KubernetesProvider* raw = provider.get();
        EXPECT_TRUE(cache_->add_provider(std::move(provider)));
        EXPECT_TRUE(cache_->start());
        return raw;
    }

    ProviderStats provider_stats() { return cache_->stats().providers.at(0); }

    FakeKubeApi api_{kToken};
    std::unique_ptr<MetadataCache> cache_ = std::make_unique<MetadataCache>(CacheOptions{700ms});
};

TEST_F(KubernetesProviderTest, ListMapsRealContainerIdsToTheirPods) {
    auto* provider = start(options());
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return provider->up(); }))
        << "the provider never listed";

    auto nginx = cache_->lookup_container(g_real->nginx);
    ASSERT_TRUE(nginx);
    EXPECT_EQ(nginx->name, "nginx");
    EXPECT_EQ(nginx->image, kImage);
    EXPECT_EQ(nginx->runtime, "containerd");
    EXPECT_EQ(nginx->pod_uid, "uid-a");
    auto shell = cache_->lookup_container(g_real->shell);
    ASSERT_TRUE(shell);
    EXPECT_EQ(shell->name, "shell");
    EXPECT_EQ(shell->runtime, "crio");
    EXPECT_EQ(shell->pod_uid, "uid-a") << "both sides resolve to one pod";
    auto solo = cache_->lookup_container(g_real->solo);
    ASSERT_TRUE(solo);
    EXPECT_EQ(solo->runtime, "docker");
    EXPECT_EQ(solo->pod_uid, "uid-b");

    auto pod = cache_->lookup_pod("uid-a");
    ASSERT_TRUE(pod);
    EXPECT_EQ(pod->namespace_, "demo");
    EXPECT_EQ(pod->name, "nginx");
    EXPECT_EQ(pod->node, "node-1");
    EXPECT_EQ(pod->labels, (std::map<std::string, std::string>{{"app", "nginx"}, {"tier", "web"}}));
    EXPECT_EQ(pod->annotations.count("kubectl.kubernetes.io/default-container"), 1u);
    EXPECT_EQ(pod->annotations.count("unrelated.example.com/blob"), 0u) << "only selected keys";

    EXPECT_FALSE(cache_->lookup_container(std::string(64, 'c'))) << "a pod of another node";
    EXPECT_FALSE(cache_->lookup_pod("uid-c"));
    EXPECT_TRUE(cache_->lookup_pod("uid-d")) << "a pod whose containers have not started";
    EXPECT_EQ(api_.last_field_selector(), "spec.nodeName=node-1");
    EXPECT_EQ(api_.lists(), 1);
    EXPECT_EQ(api_.list_pages(), 3) << "three pods on node-1, one per page";
    EXPECT_EQ(provider->resource_version(), std::to_string(api_.resource_version()));
    EXPECT_TRUE(provider_stats().up);
    EXPECT_EQ(provider_stats().errors, 0u);
}

TEST_F(KubernetesProviderTest, WatchAppliesChangesBookmarksRestartsAndDeletions) {
    auto* provider = start(options());
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return api_.open_watches() == 1; }));
    EXPECT_EQ(api_.last_watch_resource_version(), provider->resource_version());

    api_.put_pod(demo_pod({{"app", "nginx"}, {"tier", "web"}, {"release", "canary"}}));
    ASSERT_TRUE(FakeKubeApi::eventually([&] {
        auto p = cache_->lookup_pod("uid-a");
        return p && p->labels.count("release");
    })) << "a MODIFIED event updates the labels";

    api_.bookmark();
    ASSERT_TRUE(FakeKubeApi::eventually([&] {
        return provider->resource_version() == std::to_string(api_.resource_version());
    })) << "a BOOKMARK moves the resourceVersion";
    api_.end_watches(); // timeoutSeconds is over: the next watch resumes from the bookmark
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return api_.watches() >= 2; }));
    EXPECT_EQ(api_.last_watch_resource_version(), std::to_string(api_.resource_version()));
    EXPECT_EQ(api_.lists(), 1) << "resuming needs no list";

    // The shell container restarts: a new id; the old one lingers, then goes.
    std::string new_shell(64, 'e');
    api_.put_pod(demo_pod({{"app", "nginx"}}, new_shell));
    ASSERT_TRUE(
        FakeKubeApi::eventually([&] { return cache_->lookup_container(new_shell) != nullptr; }));
    EXPECT_TRUE(cache_->lookup_container(g_real->shell)) << "late events still resolve";
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return !cache_->lookup_container(g_real->shell); }));

    api_.delete_pod("uid-b");
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return cache_->stats().lingering_pods == 1; }));
    EXPECT_TRUE(cache_->lookup_container(g_real->solo)) << "within the grace period";
    EXPECT_TRUE(cache_->lookup_pod("uid-b"));
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return !cache_->lookup_pod("uid-b"); }));
    EXPECT_FALSE(cache_->lookup_container(g_real->solo));
    EXPECT_TRUE(cache_->lookup_container(g_real->nginx));
    EXPECT_EQ(provider_stats().errors, 0u);
}

TEST_F(KubernetesProviderTest, RelistsOn410GoneAsHttpStatusAndAsErrorEvent) {
    test::LogCapture log;
    start(options());
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return api_.open_watches() == 1; }));

    // A change the watch never sees: the server compacted its history.
    api_.put_pod(demo_pod({{"app", "nginx"}, {"phase", "one"}}), false);
    api_.compact();
    api_.drop_watches();
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return api_.lists() == 2; }))
        << "HTTP 410 must lead to a new list";
    EXPECT_GE(api_.gone_responses(), 1);
    ASSERT_TRUE(FakeKubeApi::eventually([&] {
        auto p = cache_->lookup_pod("uid-a");
        return p && p->labels.count("phase") && p->labels.at("phase") == "one";
    }));

    api_.set_gone_style(FakeKubeApi::GoneStyle::ErrorEvent);
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return api_.open_watches() == 1; }));
    api_.compact();
    api_.drop_watches();
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return api_.lists() == 3; }))
        << "an ERROR event with code 410 must lead to a new list";

    // And an ERROR 410 on a watch that is already streaming.
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return api_.open_watches() == 1; }));
    api_.error_410_to_watches();
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return api_.lists() == 4; }));
    EXPECT_TRUE(log.contains("410 Gone"));
    EXPECT_TRUE(cache_->lookup_container(g_real->nginx));
}

TEST_F(KubernetesProviderTest, SurvivesTheServerDyingMidWatchAndCatchesUp) {
    test::LogCapture log;
    auto* provider = start(options());
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return api_.open_watches() == 1; }));
    ASSERT_TRUE(provider->up());

    api_.kill();
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return !provider->up(); }))
        << "a dead server must show as down";
    // Changes while the provider cannot see them.
    api_.put_pod(demo_pod({{"app", "nginx"}, {"tier", "backend"}}));
    std::this_thread::sleep_for(300ms); // a few failed reconnects
    uint64_t errors_while_down = provider_stats().errors;
    EXPECT_GE(errors_while_down, 1u);
    EXPECT_EQ(cache_->lookup_pod("uid-a")->labels.at("tier"), "web") << "stale, not dropped";
    EXPECT_TRUE(cache_->lookup_container(g_real->nginx)) << "metadata outlives the outage";

    api_.start();
    ASSERT_TRUE(FakeKubeApi::eventually([&] {
        auto p = cache_->lookup_pod("uid-a");
        return p && p->labels.at("tier") == "backend";
    })) << "the resumed watch delivers what changed";
    EXPECT_TRUE(provider->up());
    auto s = provider_stats();
    EXPECT_GE(s.went_down, 1u);
    EXPECT_GE(s.went_up, 2u);
    EXPECT_TRUE(log.contains("reconnecting"));
}

TEST_F(KubernetesProviderTest, WrongTokenIsCountedAndTheProviderRecovers) {
    test::LogCapture log;
    api_.set_token("rotated");
    auto* provider = start(options());
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return provider_stats().errors >= 2; }));
    EXPECT_GE(api_.unauthorized(), 2);
    EXPECT_FALSE(provider->up());
    EXPECT_TRUE(log.contains("HTTP 401: Unauthorized"));
    EXPECT_FALSE(cache_->lookup_container(g_real->nginx));

    api_.set_token(kToken);
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return provider->up(); }));
    EXPECT_TRUE(cache_->lookup_container(g_real->nginx));
}

TEST_F(KubernetesProviderTest, StopInterruptsABlockedWatchPromptly) {
    auto* provider = start(options());
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return api_.open_watches() == 1; }));
    std::this_thread::sleep_for(200ms); // blocked in the quiet watch
    auto t0 = std::chrono::steady_clock::now();
    cache_->stop();
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(took, 300ms) << "stop() took "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                           << " ms";
    EXPECT_FALSE(provider->up());
    EXPECT_TRUE(cache_->lookup_container(g_real->nginx)) << "records stay after stop";
}

} // namespace
} // namespace podguard::metadata::kubernetes

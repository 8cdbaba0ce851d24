// The runtime provider against a real `podman system service` socket, with a
// real kube-played pod and a lone container.
#include <memory>

#include <gtest/gtest.h>

#include "fake_kube_api.h" // eventually()
#include "log_capture.h"
#include "metadata/cache.h"
#include "metadata/runtime/provider.h"
#include "podman.h"

namespace podguard::metadata::runtime {
namespace {

using namespace std::chrono_literals;
using test::FakeKubeApi;

struct Podman {
    std::string error;
    std::unique_ptr<test::meta::PodmanService> service;
    std::unique_ptr<test::meta::KubePlayedPod> pod;
    std::unique_ptr<test::meta::PodmanContainer> lone;
};
Podman* g_podman = nullptr;

class RuntimeProviderTest : public ::testing::Test {
  public:
    static void SetUpTestSuite() {
        g_podman = new Podman;
        g_podman->error = test::meta::prepare_podman();
        if (!g_podman->error.empty())
            return;
        g_podman->service = std::make_unique<test::meta::PodmanService>();
        if (!g_podman->service->ok()) {
            g_podman->error = g_podman->service->error();
            return;
        }
        g_podman->pod = std::make_unique<test::meta::KubePlayedPod>(
            test::meta::unique_name("pgr"),
            std::map<std::string, std::string>{{"app", "web"}, {"team", "sec"}},
            std::vector<std::string>{"nginx", "shell"});
        if (!g_podman->pod->ok()) {
            g_podman->error = g_podman->pod->error();
            return;
        }
        g_podman->lone = std::make_unique<test::meta::PodmanContainer>(
            test::meta::unique_name("pgr-solo"),
            std::map<std::string, std::string>{{"role", "tool"}});
        if (!g_podman->lone->ok())
            g_podman->error = g_podman->lone->error();
    }
    static void TearDownTestSuite() {
        delete g_podman;
        g_podman = nullptr;
    }

  protected:
    void SetUp() override {
        ASSERT_TRUE(g_podman && g_podman->error.empty())
            << "real podman is needed: " << (g_podman ? g_podman->error : "");
    }

    RuntimeProvider* start(Api api = Api::Auto) {
        RuntimeOptions o;
        o.socket_path = g_podman->service->socket();
        o.api = api;
        o.relist_interval = 60s; // changes must come from the event stream
        o.backoff_initial = 50ms;
        o.backoff_max = 300ms;
        auto p = std::make_unique<RuntimeProvider>(o);
        auto* raw = p.get();
        EXPECT_TRUE(cache_->add_provider(std::move(p)));
        EXPECT_TRUE(cache_->start());
        EXPECT_TRUE(FakeKubeApi::eventually([&] { return raw->up(); }, 10000))
            << "the provider never listed";
        return raw;
    }

    const test::meta::KubePlayedPod& pod() { return *g_podman->pod; }
    std::unique_ptr<MetadataCache> cache_ = std::make_unique<MetadataCache>(CacheOptions{1s});
};

TEST_F(RuntimeProviderTest, LibpodApiGivesNamesImagesLabelsAndPodOnBothSides) {
    auto* provider = start();
    EXPECT_EQ(provider->api(), Api::Libpod);

    for (const char* name : {"nginx", "shell"}) {
        auto c = cache_->lookup_container(pod().container_id(name));
        ASSERT_TRUE(c) << name;
        EXPECT_EQ(c->name, pod().name() + "-" + name)
            << "podman's name for a kube-played container";
        EXPECT_EQ(c->image, test::meta::kBusyboxImage);
        EXPECT_EQ(c->runtime, "libpod");
        EXPECT_EQ(c->pod_uid, pod().pod_id()) << name << " must resolve to the pod";
        EXPECT_EQ(c->labels.at("app"), "web") << "kube play copies pod labels to containers";
    }
    auto p = cache_->lookup_pod(pod().pod_id());
    ASSERT_TRUE(p);
    EXPECT_EQ(p->name, pod().name());
    EXPECT_EQ(p->uid, pod().pod_id());
    EXPECT_EQ(p->labels, (std::map<std::string, std::string>{{"app", "web"}, {"team", "sec"}}));

    auto lone = cache_->lookup_container(g_podman->lone->id());
    ASSERT_TRUE(lone);
    EXPECT_EQ(lone->name, g_podman->lone->name());
    EXPECT_EQ(lone->labels.at("role"), "tool");
    EXPECT_TRUE(lone->pod_uid.empty());
    EXPECT_EQ(cache_->stats().providers.at(0).errors, 0u);
}

TEST_F(RuntimeProviderTest, EventsBringNewContainersAndRemovalsStartTheGracePeriod) {
    auto* provider = start();
    uint64_t lists = provider->lists();
    test::meta::PodmanContainer fresh(test::meta::unique_name("pgr-new"), {{"stage", "new"}});
    ASSERT_TRUE(fresh.ok()) << fresh.error();
    ASSERT_TRUE(FakeKubeApi::eventually([&] {
        return cache_->lookup_container(fresh.id()) != nullptr;
    })) << "a create/start event must bring the container in";
    EXPECT_EQ(cache_->lookup_container(fresh.id())->labels.at("stage"), "new");
    EXPECT_EQ(provider->lists(), lists) << "from the event stream, not a re-list";
    EXPECT_GT(provider->events(), 0u);

    std::string id = fresh.id();
    fresh.remove();
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return cache_->stats().lingering_containers == 1; }))
        << "a remove event must start the grace period";
    EXPECT_TRUE(cache_->lookup_container(id)) << "late events of the removed container resolve";
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return cache_->lookup_container(id) == nullptr; }));
}

TEST_F(RuntimeProviderTest, DockerCompatibleApiGivesNamesImagesAndLabels) {
    auto* provider = start(Api::Docker);
    EXPECT_EQ(provider->api(), Api::Docker);
    auto lone = cache_->lookup_container(g_podman->lone->id());
    ASSERT_TRUE(lone);
    EXPECT_EQ(lone->name, g_podman->lone->name());
    EXPECT_EQ(lone->image, test::meta::kBusyboxImage);
    EXPECT_EQ(lone->runtime, "docker");
    EXPECT_EQ(lone->labels.at("role"), "tool");
    auto nginx = cache_->lookup_container(pod().container_id("nginx"));
    ASSERT_TRUE(nginx);
    EXPECT_EQ(nginx->name, pod().name() + "-nginx");
    EXPECT_EQ(nginx->labels.at("team"), "sec");
}

TEST_F(RuntimeProviderTest, ReconnectsWhenTheServiceRestarts) {
    test::LogCapture log;
    auto* provider = start();
    uint64_t lists = provider->lists();
    g_podman->service->kill();
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return !provider->up(); }));
    EXPECT_TRUE(cache_->lookup_container(g_podman->lone->id())) << "kept while the engine is away";
    ASSERT_TRUE(g_podman->service->restart()) << g_podman->service->error();
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return provider->up(); }, 10000));
    EXPECT_GT(provider->lists(), lists) << "a reconnect re-lists";
    EXPECT_GE(cache_->stats().providers.at(0).errors, 1u);
    EXPECT_TRUE(log.contains("reconnecting"));
    EXPECT_TRUE(cache_->lookup_container(pod().container_id("shell")));
}

TEST(RuntimeProvider, UnreachableSocketIsDownAndCounted) {
    test::LogCapture log;
    MetadataCache cache;
    RuntimeOptions o;
    o.socket_path = "/nonexistent/podman.sock";
    o.backoff_initial = 20ms;
    o.backoff_max = 50ms;
    ASSERT_TRUE(cache.add_provider(std::make_unique<RuntimeProvider>(o)));
    ASSERT_TRUE(cache.start());
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return cache.stats().providers.at(0).errors >= 2; }));
    EXPECT_FALSE(cache.stats().providers.at(0).up);
    cache.stop();
    EXPECT_TRUE(log.contains("/nonexistent/podman.sock"));
}

} // namespace
} // namespace podguard::metadata::runtime

// What a broken or hostile API server may send: none of it may crash the
// agent; each must leave a clear log line and a counted error, and the
// provider must carry on.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "fake_kube_api.h"
#include "log_capture.h"
#include "metadata/cache.h"
#include "metadata/kubernetes/config.h"
#include "metadata/kubernetes/provider.h"

namespace podguard::metadata::kubernetes {
namespace {

using namespace std::chrono_literals;
using test::FakeKubeApi;
using test::make_pod;

std::string hex_id(char c) {
    return std::string(64, c);
}

class KubernetesRobustnessTest : public ::testing::Test {
  protected:
    void SetUp() override {
        api_.start();
        api_.put_pod(pod_a({{"app", "a"}}));
    }

    nlohmann::json pod_a(const std::map<std::string, std::string>& labels) {
        return make_pod("ns", "a", "uid-a", "node-1", labels,
                        {{"main", "img:1", "containerd://" + hex_id('a')}});
    }

    KubernetesProvider* start(size_t max_event_bytes = 16u << 20) {
        KubernetesOptions o;
        o.config.server = api_.url();
        o.config.token = "t";
        o.node_name = "node-1";
        o.backoff_initial = 30ms;
        o.backoff_max = 200ms;
        o.max_event_bytes = max_event_bytes;
        auto p = std::make_unique<KubernetesProvider>(o);
        auto* raw = p.get();
        EXPECT_TRUE(cache_.add_provider(std::move(p)));
        EXPECT_TRUE(cache_.start());
        EXPECT_TRUE(FakeKubeApi::eventually([&] { return api_.open_watches() == 1; }));
        return raw;
    }

    uint64_t errors() { return cache_.stats().providers.at(0).errors; }

    // After a failure the provider must be back on a watch and applying events.
    void expect_recovers(const std::string& label_value) {
        ASSERT_TRUE(FakeKubeApi::eventually([&] { return api_.open_watches() == 1; }));
        api_.put_pod(pod_a({{"app", label_value}}));
        EXPECT_TRUE(FakeKubeApi::eventually([&] {
            auto p = cache_.lookup_pod("uid-a");
            return p && p->labels.at("app") == label_value;
        })) << "the provider did not recover";
    }

    test::LogCapture log_; // before the cache: outlives the provider thread
    FakeKubeApi api_{"t"};
    MetadataCache cache_;
};

TEST_F(KubernetesRobustnessTest, MalformedJsonInTheWatchStream) {
    start();
    api_.send_raw("{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"uid\":\n");
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return errors() >= 1; }));
    EXPECT_TRUE(log_.contains("malformed JSON in watch event"));
    expect_recovers("after-garbage");
    EXPECT_GE(api_.watches(), 2);
}

TEST_F(KubernetesRobustnessTest, StreamCutInsideAnEvent) {
    start();
    std::string event = nlohmann::json{{"type", "MODIFIED"}, {"object", pod_a({})}}.dump();
    api_.send_raw(event.substr(0, event.size() / 2));
    api_.drop_watches();
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return errors() >= 1; }));
    EXPECT_TRUE(log_.contains("watch stream broke inside an event"));
    expect_recovers("after-cut");
}

TEST_F(KubernetesRobustnessTest, StreamEndingCleanlyInsideAnEvent) {
    start();
    api_.send_raw("{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\"");
    api_.end_watches();
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return errors() >= 1; }));
    EXPECT_TRUE(log_.contains("watch stream ended inside an event"));
    expect_recovers("after-end");
}

TEST_F(KubernetesRobustnessTest, MalformedListResponse) {
    api_.break_lists("{\"kind\":\"PodList\",\"items\":[{\"metadata\":");
    KubernetesOptions o;
    o.config.server = api_.url();
    o.config.token = "t";
    o.backoff_initial = 30ms;
    o.backoff_max = 100ms;
    ASSERT_TRUE(cache_.add_provider(std::make_unique<KubernetesProvider>(o)));
    ASSERT_TRUE(cache_.start());
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return errors() >= 2; }));
    EXPECT_TRUE(log_.contains("list pods: malformed JSON"));
    EXPECT_FALSE(cache_.stats().providers.at(0).up);
    api_.break_lists("");
    EXPECT_TRUE(FakeKubeApi::eventually([&] { return cache_.lookup_pod("uid-a") != nullptr; }));
}

TEST_F(KubernetesRobustnessTest, UnknownFieldsAndWrongTypesAreTolerated) {
    start();
    nlohmann::json pod = make_pod("ns", "odd", "uid-odd", "node-1", {{"app", "odd"}},
                                  {{"main", "img:2", "containerd://" + hex_id('b')},
                                   {"notstarted", "img:3", ""},
                                   {"weird", "img:4", "no-scheme-here"}});
    pod["metadata"]["labels"]["count"] = 3;                        // not a string
    pod["metadata"]["annotations"] = "not an object";              // wrong type
    pod["metadata"]["managedFields"] = {{{"manager", "kubelet"}}}; // unknown here
    pod["spec"]["containers"] = 42;                                // wrong type
    pod["status"]["containerStatuses"].push_back("not an object");
    pod["status"]["containerStatuses"][0]["futureField"] = {{"nested", {1, 2, 3}}};
    pod["status"]["resize"] = "InProgress";
    pod["newTopLevelField"] = nullptr;
    api_.put_pod(pod);
    api_.send_raw(R"({"type":"SOMETHING_NEW","object":{}})"
                  "\n");
    api_.send_raw(R"({"type":"MODIFIED","object":{"metadata":{"name":"no-uid"}}})"
                  "\n");
    api_.send_raw(R"({"type":"MODIFIED","object":[1,2,3],"extra":true})"
                  "\n");
    api_.send_raw(R"(["an","array"])"
                  "\n");

    ASSERT_TRUE(
        FakeKubeApi::eventually([&] { return cache_.lookup_container(hex_id('b')) != nullptr; }));
    auto c = cache_.lookup_container(hex_id('b'));
    EXPECT_EQ(c->name, "main");
    EXPECT_EQ(c->image, "img:2");
    auto p = cache_.lookup_pod("uid-odd");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->labels, (std::map<std::string, std::string>{{"app", "odd"}}));
    EXPECT_TRUE(p->annotations.empty());
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return errors() >= 4; }));
    EXPECT_TRUE(log_.contains("unknown type 'SOMETHING_NEW'"));
    EXPECT_TRUE(log_.contains("pod without metadata.uid"));
    EXPECT_TRUE(log_.contains("not a JSON object in watch event"));
    expect_recovers("still-fine");
}

TEST_F(KubernetesRobustnessTest, TenThousandLabelsAreBounded) {
    std::map<std::string, std::string> labels;
    for (int i = 0; i < 10000; ++i)
        labels["label-" + std::to_string(i)] = "value-" + std::to_string(i);
    labels["huge"] = std::string(100000, 'v');
    nlohmann::json big = make_pod("ns", "big", "uid-big", "node-1", labels,
                                  {{"main", "img:1", "containerd://" + hex_id('d')}});
    api_.put_pod(big); // in the initial list
    start();
    ASSERT_TRUE(cache_.lookup_pod("uid-big"));
    EXPECT_EQ(cache_.lookup_pod("uid-big")->labels.size(), 256u);
    EXPECT_TRUE(log_.contains("pod ns/big: 10001 labels, kept the first 256"));
    EXPECT_GE(errors(), 1u);

    // And through the watch, with an over-long value among the kept ones.
    uint64_t before = errors();
    labels["aaa-first"] = std::string(100000, 'w');
    big = make_pod("ns", "big", "uid-big", "node-1", labels,
                   {{"main", "img:1", "containerd://" + hex_id('d')}});
    api_.put_pod(big);
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return errors() >= before + 2; }));
    auto p = cache_.lookup_pod("uid-big");
    EXPECT_EQ(p->labels.at("aaa-first").size(), 4096u);
    EXPECT_TRUE(log_.contains("label values longer than 4096 bytes truncated"));
    EXPECT_TRUE(cache_.lookup_container(hex_id('d')));
}

TEST_F(KubernetesRobustnessTest, AnEventLargerThanTheLimitIsRefused) {
    start(64 * 1024);
    api_.put_pod(make_pod("ns", "fat", "uid-fat", "node-1", {{"blob", std::string(100000, 'x')}},
                          {{"main", "img:1", "containerd://" + hex_id('f')}}));
    ASSERT_TRUE(FakeKubeApi::eventually([&] { return errors() >= 1; }));
    EXPECT_TRUE(log_.contains("watch event larger than 65536 bytes"));
    EXPECT_FALSE(cache_.lookup_pod("uid-fat"));
}

// --- configuration -------------------------------------------------------

class TempDir {
  public:
    TempDir() {
        std::string tmpl = "/tmp/pgmeta-cfg-XXXXXX";
        path_ = mkdtemp(tmpl.data()) ? tmpl : "";
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string write(const std::string& name, const std::string& content) const {
        std::string p = path_ + "/" + name;
        std::ofstream(p) << content;
        return p;
    }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

TEST(KubeConfig, KubeconfigCurrentContextWithInlineAndFileCredentials) {
    TempDir dir;
    ASSERT_FALSE(dir.path().empty());
    dir.write("ca.crt", "PEM");
    std::string path = dir.write("config", R"(apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: dev-cluster
  cluster:
    server: https://dev.example:6443
    insecure-skip-tls-verify: true
- name: prod-cluster
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority: ca.crt
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user}
- name: prod
  context:
    cluster: prod-cluster
    user: prod-user
    namespace: default
users:
- name: dev-user
  user:
    client-certificate: certs/client.crt
    client-key-data: a2V5
- name: prod-user
  user:
    token: abc.def
)");
    auto prod = load_kubeconfig(path);
    ASSERT_TRUE(prod) << prod.error().message;
    EXPECT_EQ(prod->server, "https://10.0.0.1:6443/");
    EXPECT_EQ(prod->ca_file, dir.path() + "/ca.crt");
    EXPECT_EQ(prod->ca_pem, "-----BEGIN CERTIFICATE-----");
    EXPECT_EQ(prod->token, "abc.def");
    EXPECT_FALSE(prod->insecure_skip_tls_verify);
    auto target = http_target(*prod);
    ASSERT_TRUE(target);
    EXPECT_EQ(target->base_url, "https://10.0.0.1:6443");
    EXPECT_EQ(target->bearer_token, "abc.def");

    auto dev = load_kubeconfig(path, "dev");
    ASSERT_TRUE(dev) << dev.error().message;
    EXPECT_EQ(dev->server, "https://dev.example:6443");
    EXPECT_TRUE(dev->insecure_skip_tls_verify);
    EXPECT_EQ(dev->client_cert_file, dir.path() + "/certs/client.crt");
    EXPECT_EQ(dev->client_key_pem, "key");

    auto missing = load_kubeconfig(path, "staging");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("no context staging"), std::string::npos);
}

TEST(KubeConfig, BadKubeconfigsAreErrorsNotCrashes) {
    TempDir dir;
    EXPECT_FALSE(load_kubeconfig(dir.path() + "/absent"));
    EXPECT_FALSE(load_kubeconfig(dir.write("garbage", "{{{ [not: yaml")));
    EXPECT_FALSE(load_kubeconfig(dir.write("list", "- 1\n- 2\n")));
    auto exec = load_kubeconfig(dir.write("exec", R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://k:6443"}}]
users: [{name: u, user: {exec: {command: aws}}}]
)"));
    ASSERT_FALSE(exec);
    EXPECT_NE(exec.error().message.find("exec"), std::string::npos);
    auto bad64 = load_kubeconfig(dir.write("b64", R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://k:6443", certificate-authority-data: "***"}}]
)"));
    EXPECT_FALSE(bad64);
}

TEST(KubeConfig, InClusterFromServiceAccountAndEnvironment) {
    TempDir dir;
    dir.write("token", "projected-token\n");
    dir.write("ca.crt", "PEM");
    std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "fd00::1"},
                                              {"KUBERNETES_SERVICE_PORT", "443"}};
    auto getenv_fn = [&](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    };
    auto c = in_cluster_config(dir.path(), getenv_fn);
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->server, "https://[fd00::1]:443");
    EXPECT_EQ(c->ca_file, dir.path() + "/ca.crt");
    auto target = http_target(*c);
    ASSERT_TRUE(target);
    EXPECT_EQ(target->bearer_token, "projected-token");
    // The kubelet rotates the projected token: every connection re-reads it.
    dir.write("token", "rotated-token");
    EXPECT_EQ(http_target(*c)->bearer_token, "rotated-token");

    env.clear();
    EXPECT_FALSE(in_cluster_config(dir.path(), getenv_fn));
}

} // namespace
} // namespace podguard::metadata::kubernetes

// Lists, then watches, the Pods of this node through the Kubernetes API and
// publishes every container id the kubelet reports with its pod's metadata.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "metadata/http.h"
#include "metadata/kubernetes/config.h"
#include "metadata/kubernetes/pod.h"
#include "metadata/metadata.h"
#include "metadata/threaded_provider.h"

namespace podguard::metadata::kubernetes {

struct KubernetesOptions {
    KubeConfig config;
    // fieldSelector spec.nodeName=<node_name>; empty watches every pod of the
    // cluster (tests and tiny clusters only).
    std::string node_name;
    unsigned page_size = 500;
    PodLimits limits;
    std::chrono::milliseconds backoff_initial{250};
    std::chrono::milliseconds backoff_max{30000};
    // The server ends a watch after this long and we resume it: a bound on how
    // long a silently dead connection can go unnoticed.
    unsigned watch_timeout_seconds = 300;
    size_t max_event_bytes = 16u << 20; // one watch event line
    std::string name = "kubernetes";
};

class KubernetesProvider final : public ThreadedProvider {
  public:
    explicit KubernetesProvider(KubernetesOptions options);
    ~KubernetesProvider() override;

    std::string name() const override { return options_.name; }

    // For tests and diagnostics.
    std::string resource_version() const;
    uint64_t lists() const { return lists_.load(); }     // complete (re)lists
    uint64_t watches() const { return watches_.load(); } // watch requests sent

  private:
    enum class WatchEnd { Closed, Gone, Failed };

    Status check() override;
    void reset_connections() override { http_.reset(); }
    void interrupt() override { http_.interrupt(); }
    void run() override;
    Status list();
    WatchEnd watch();
    bool handle_event(std::string_view line, WatchEnd& end);
    void apply_pod(const nlohmann::json& object, bool deleted);
    std::string pods_path() const;
    void set_resource_version(std::string rv);

    KubernetesOptions options_;
    HttpClient http_;
    std::atomic<uint64_t> lists_{0};
    std::atomic<uint64_t> watches_{0};
    mutable std::mutex rv_mu_;
    std::string rv_;
    std::string watch_failure_;
    // Container ids published per pod uid: a restart changes a container's id,
    // and the old one must start its grace period.
    std::map<std::string, std::set<std::string>> pod_containers_;
};

} // namespace podguard::metadata::kubernetes

// Lists, then watches, PodGuardPolicy objects (podguard.io/v1alpha1,
// cluster-scoped) through the Kubernetes API, as the pod watch does:
// resourceVersion, bookmarks, 410 Gone (relist), reconnect with backoff.
// It keeps the objects as policy documents (JSON text, which the policy
// parser reads as YAML); the policy runtime takes a snapshot whenever the
// set changed and applies it through the same atomic switch as files.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "common/result.h"
#include "metadata/http.h"
#include "metadata/kubernetes/config.h"

namespace podguard::metadata::kubernetes {

inline constexpr const char* kPolicyPath = "/apis/podguard.io/v1alpha1/podguardpolicies";

struct PolicyWatchOptions {
    KubeConfig config;
    std::chrono::milliseconds backoff_initial{250};
    std::chrono::milliseconds backoff_max{30000};
    unsigned watch_timeout_seconds = 300;
    size_t max_event_bytes = 4u << 20; // = the policy loader's file cap
};

// name -> the policy as a document the loader reads (apiVersion, kind,
// metadata.name, spec; server fields dropped).
using PolicyObjects = std::map<std::string, std::string>;

class PolicyWatch {
  public:
    explicit PolicyWatch(PolicyWatchOptions options);
    ~PolicyWatch();
    PolicyWatch(const PolicyWatch&) = delete;
    PolicyWatch& operator=(const PolicyWatch&) = delete;

    void start();
    void stop();

    // The objects when they changed since the last call (first: once listed).
    std::optional<PolicyObjects> take_changes();
    bool synced() const { return synced_.load(); } // listed at least once
    uint64_t lists() const { return lists_.load(); }
    std::string resource_version() const;

  private:
    enum class End { Closed, Gone, Failed };
    void run();
    Status list();
    End watch(std::string& failure);
    bool handle_event(std::string_view line, End& end, std::string& failure);
    void put(const std::string& name, std::string doc);
    void erase(const std::string& name);
    bool wait(std::chrono::milliseconds d);

    PolicyWatchOptions options_;
    HttpClient http_;
    std::thread thread_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    PolicyObjects objects_;
    bool changed_ = false;
    std::string rv_;
    std::atomic<bool> synced_{false};
    std::atomic<uint64_t> lists_{0};
};

// A PodGuardPolicy object (JSON) as a policy document; the error names what
// is missing.
Result<std::pair<std::string, std::string>> policy_document(const nlohmann::json& object);

} // namespace podguard::metadata::kubernetes

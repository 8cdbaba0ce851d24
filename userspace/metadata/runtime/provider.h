// Container metadata from the container engine's REST API over its unix
// socket: podman (libpod API) or Docker (and podman's Docker-compatible API).
// Lists containers (and pods), follows the event stream for changes, and
// re-lists periodically in case an event was missed.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metadata/http.h"
#include "metadata/metadata.h"
#include "metadata/threaded_provider.h"

namespace podguard::metadata::runtime {

enum class Api { Auto, Libpod, Docker };
const char* to_string(Api api);

struct RuntimeOptions {
    std::string socket_path = "/run/podman/podman.sock"; // docker: /var/run/docker.sock
    Api api = Api::Auto;                                 // Auto: ask GET /version
    std::chrono::milliseconds relist_interval{30000};
    std::chrono::milliseconds backoff_initial{250};
    std::chrono::milliseconds backoff_max{30000};
    size_t max_labels = 256;
    size_t max_event_bytes = 1u << 20;
    std::string name = "runtime";
};

// What the engine reports, mapped. Free functions so that the mapping is
// testable against captured JSON.
struct RuntimeRecords {
    std::vector<ContainerMeta> containers;
    std::vector<PodMeta> pods;
};
// GET /v4.0.0/libpod/containers/{id}/json -> container; the pod namespace/name
// annotations (io.kubernetes.pod.*), when present, go to *pod_hint.
ContainerMeta libpod_container(const nlohmann::json& inspect, size_t max_labels,
                               PodMeta* pod_hint = nullptr);
// An element of GET /v4.0.0/libpod/pods/json, or GET .../pods/{id}/json.
PodMeta libpod_pod(const nlohmann::json& pod, size_t max_labels);
// An element of GET /v1.41/containers/json; Kubernetes dockershim labels
// (io.kubernetes.pod.uid, ...) give the pod.
ContainerMeta docker_container(const nlohmann::json& summary, size_t max_labels,
                               PodMeta* pod = nullptr);

class RuntimeProvider final : public ThreadedProvider {
  public:
    explicit RuntimeProvider(RuntimeOptions options);
    ~RuntimeProvider() override;

    std::string name() const override { return options_.name; }
    Api api() const { return api_.load(); } // detected
    uint64_t lists() const { return lists_.load(); }
    uint64_t events() const { return events_.load(); } // container/pod events handled

  private:
    Status check() override;
    void reset_connections() override;
    void interrupt() override;
    std::string describe() const override;
    void run() override;
    Result<Api> detect();
    Status relist();
    void on_event_line(std::string_view line);
    void process_pending();
    Result<ContainerMeta> inspect_container(const std::string& id, PodMeta* pod_hint);
    Result<PodMeta> inspect_pod(const std::string& id);
    void publish_pod(const std::string& pod_id, const PodMeta* hint);
    std::string events_path() const;

    RuntimeOptions options_;
    HttpTarget target_;
    HttpClient events_http_; // the long event stream
    HttpClient api_http_;    // lists and inspects, issued between stream reads
    std::atomic<Api> api_{Api::Auto};
    std::atomic<uint64_t> lists_{0};
    std::atomic<uint64_t> events_{0};

    // Owned by the provider thread.
    std::map<std::string, ContainerMeta> known_; // container id -> last published
    std::map<std::string, PodMeta> known_pods_;
    std::map<std::string, PodMeta> pod_hints_; // pod id -> io.kubernetes.pod.* annotations
    struct PendingEvent {
        std::string type; // container, pod
        std::string action;
        std::string id;
    };
    std::vector<PendingEvent> pending_; // read from the stream, handled between reads
};

} // namespace podguard::metadata::runtime

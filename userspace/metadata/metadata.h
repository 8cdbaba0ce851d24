// Metadata about containers and pods as providers (Kubernetes API, container
// runtime) report it, and the interface a provider implements. Plain data; the
// combining, thread-safe store is MetadataCache (metadata/cache.h).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace podguard::metadata {

struct ContainerMeta {
    std::string id;      // full runtime id (64 hex for containerd, cri-o, docker, libpod)
    std::string name;    // Kubernetes container name, else the runtime's name
    std::string image;   // image reference as the runtime reports it
    std::string runtime; // containerd, crio, docker, libpod
    std::string pod_uid; // key for lookup_pod(); empty when not in a pod
    std::map<std::string, std::string> labels; // runtime labels (empty from Kubernetes)
};

struct PodMeta {
    std::string namespace_;
    std::string name;
    std::string uid; // Kubernetes pod UID, or the libpod pod id for podman pods
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations; // only the selected keys
    std::string node;
};

// Where a provider publishes what it learns. Calls come from the provider's own
// thread; the implementation (MetadataCache) is thread-safe. Never throws.
class Publisher {
  public:
    virtual ~Publisher() = default;
    virtual void container(ContainerMeta meta) = 0;
    // The container is gone: it keeps resolving for the cache's grace period so
    // that late events of an exited container still carry metadata.
    virtual void container_gone(std::string_view id) = 0;
    virtual void pod(PodMeta meta) = 0;
    virtual void pod_gone(std::string_view uid) = 0;
    // A complete view after a (re)list: every record of this provider that is
    // not in it is treated as gone.
    virtual void resync(std::vector<ContainerMeta> containers, std::vector<PodMeta> pods) = 0;
    virtual void set_up(bool up) = 0;
    virtual void error() = 0; // one counted error; the provider logs the reason itself
};

// A source of metadata with its own background thread.
class Provider {
  public:
    virtual ~Provider() = default;
    virtual std::string name() const = 0;
    // Starts the thread and returns at once; connection problems are not start
    // errors (the thread retries with backoff), bad configuration is.
    virtual Status start(Publisher& out) = 0;
    // Interrupts blocked I/O and joins; prompt (well under a second).
    virtual void stop() = 0;
    virtual bool up() const = 0;
};

} // namespace podguard::metadata

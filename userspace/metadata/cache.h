// MetadataCache: the one place the event pipeline asks "which container/pod is
// this id?". Providers publish into it from their own threads; lookups take one
// shared (reader) lock, one hash lookup and return a shared_ptr to an immutable
// record, so a record never changes or disappears under a reader.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "metadata/metadata.h"

namespace podguard::metadata {

struct ProviderStats {
    std::string name;
    bool up = false;
    uint64_t went_up = 0;   // down -> up transitions
    uint64_t went_down = 0; // up -> down transitions
    uint64_t errors = 0;
    // Per lookup of a cached container: did this source contribute to the answer?
    // A lookup of an unknown id is a miss for every source.
    uint64_t hits = 0;
    uint64_t misses = 0;
    size_t containers = 0; // live records from this source
    size_t pods = 0;
};

struct CacheStats {
    uint64_t container_hits = 0;
    uint64_t container_misses = 0;
    uint64_t pod_hits = 0;
    uint64_t pod_misses = 0;
    size_t containers = 0; // entries, live and lingering
    size_t pods = 0;
    size_t lingering_containers = 0; // gone, still resolving during the grace period
    size_t lingering_pods = 0;
    std::vector<ProviderStats> providers; // in rank order
};

struct CacheOptions {
    std::chrono::milliseconds grace = std::chrono::minutes(5);
};

class MetadataCache {
  public:
    static constexpr size_t kMaxSources = 8;

    explicit MetadataCache(CacheOptions options = {});
    ~MetadataCache(); // stops providers first
    MetadataCache(const MetadataCache&) = delete;
    MetadataCache& operator=(const MetadataCache&) = delete;

    // Sources rank in the order they are added: for each field of a merged
    // record the first source that knows it wins (add Kubernetes before the
    // runtime to get Kubernetes container names). Setup-time only: call before
    // start() and before lookups begin. nullptr when kMaxSources are taken.
    Publisher* add_source(std::string name);
    // A provider is a source whose thread start()/stop() manage.
    Status add_provider(std::unique_ptr<Provider> provider);
    // Starts every provider; returns the first start error (the others still run).
    Status start();
    void stop();

    // Hot path (any thread): nullptr when unknown or gone for longer than the grace.
    std::shared_ptr<const ContainerMeta> lookup_container(std::string_view id) const;
    std::shared_ptr<const PodMeta> lookup_pod(std::string_view uid) const;

    CacheStats stats() const;
    // Drops entries whose grace period is over; writers also do this as they go.
    void sweep();
    // (namespace, name) of the pods dropped since the last call, so that
    // per-pod state elsewhere (metric series) can be dropped with them.
    // Bounded: the oldest are forgotten if nobody asks.
    std::vector<std::pair<std::string, std::string>> take_expired_pods();

  private:
    class Source;
    struct StringHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    template <class Meta> struct Slot {
        struct Record {
            uint8_t source = 0;
            int64_t gone_at = 0; // steady ns, 0 while alive
            std::shared_ptr<const Meta> meta;
        };
        std::vector<Record> records; // one per source that reported it
        std::shared_ptr<const Meta> merged;
        uint32_t source_mask = 0; // sources with a record
        int64_t gone_at = 0;      // when the last live record went, 0 while any is alive
    };
    template <class Meta>
    using Map = std::unordered_map<std::string, Slot<Meta>, StringHash, std::equal_to<>>;
    using GoneQueue = std::deque<std::pair<int64_t, std::string>>;

    static int64_t now_ns();
    template <class Meta> void put(Map<Meta>& map, uint8_t source, Meta meta);
    template <class Meta>
    void gone(Map<Meta>& map, GoneQueue& queue, uint8_t source, std::string_view key, int64_t now);
    template <class Meta>
    void expire(Map<Meta>& map, GoneQueue& queue, int64_t now,
                std::vector<std::shared_ptr<const Meta>>* erased = nullptr);
    void resync(uint8_t source, std::vector<ContainerMeta> containers, std::vector<PodMeta> pods);
    void sweep_locked(int64_t now);
    bool expired(int64_t gone_at) const;

    const int64_t grace_ns_;
    mutable std::shared_mutex mu_;
    Map<ContainerMeta> containers_;
    Map<PodMeta> pods_;
    GoneQueue gone_containers_;
    GoneQueue gone_pods_;
    std::deque<std::pair<std::string, std::string>> expired_pods_; // under mu_

    std::array<std::unique_ptr<Source>, kMaxSources> sources_;
    std::atomic<size_t> source_count_{0};
    std::vector<std::unique_ptr<Provider>> providers_; // provider i publishes into sources_[index]
    std::vector<uint8_t> provider_source_;
    std::mutex lifecycle_mu_;

    mutable std::atomic<uint64_t> container_hits_{0};
    mutable std::atomic<uint64_t> container_misses_{0};
    mutable std::atomic<uint64_t> pod_hits_{0};
    mutable std::atomic<uint64_t> pod_misses_{0};
};

} // namespace podguard::metadata

#include "metadata/cache.h"

#include <algorithm>
#include <unordered_set>

#include <spdlog/spdlog.h>

namespace podguard::metadata {

class MetadataCache::Source final : public Publisher {
  public:
    Source(MetadataCache& cache, uint8_t index, std::string name)
        : cache_(cache), index_(index), name_(std::move(name)) {}

    void container(ContainerMeta meta) override {
        if (meta.id.empty())
            return;
        std::unique_lock lock(cache_.mu_);
        int64_t now = now_ns();
        cache_.put(cache_.containers_, index_, std::move(meta));
        cache_.sweep_locked(now);
    }
    void container_gone(std::string_view id) override {
        std::unique_lock lock(cache_.mu_);
        int64_t now = now_ns();
        cache_.gone(cache_.containers_, cache_.gone_containers_, index_, id, now);
        cache_.sweep_locked(now);
    }
    void pod(PodMeta meta) override {
        if (meta.uid.empty())
            return;
        std::unique_lock lock(cache_.mu_);
        int64_t now = now_ns();
        cache_.put(cache_.pods_, index_, std::move(meta));
        cache_.sweep_locked(now);
    }
    void pod_gone(std::string_view uid) override {
        std::unique_lock lock(cache_.mu_);
        int64_t now = now_ns();
        cache_.gone(cache_.pods_, cache_.gone_pods_, index_, uid, now);
        cache_.sweep_locked(now);
    }
    void resync(std::vector<ContainerMeta> containers, std::vector<PodMeta> pods) override {
        cache_.resync(index_, std::move(containers), std::move(pods));
    }
    void set_up(bool up) override {
        bool was = up_.exchange(up);
        if (was == up)
            return;
        (up ? went_up_ : went_down_).fetch_add(1, std::memory_order_relaxed);
        spdlog::info("metadata: provider {} is {}", name_, up ? "up" : "down");
    }
    void error() override { errors_.fetch_add(1, std::memory_order_relaxed); }

    MetadataCache& cache_;
    const uint8_t index_;
    const std::string name_;
    std::atomic<bool> up_{false};
    std::atomic<uint64_t> went_up_{0};
    std::atomic<uint64_t> went_down_{0};
    std::atomic<uint64_t> errors_{0};
    std::atomic<uint64_t> hits_{0};
    std::atomic<uint64_t> misses_{0};
};

namespace {

void fill(std::string& into, const std::string& from) {
    if (into.empty())
        into = from;
}

template <class M> void fill(std::map<std::string, std::string>& into, const M& from) {
    if (into.empty())
        into = from;
}

// Field by field, the first record (in rank order, live before gone) that knows it.
ContainerMeta merge_one(ContainerMeta into, const ContainerMeta& from) {
    fill(into.name, from.name);
    fill(into.image, from.image);
    fill(into.runtime, from.runtime);
    fill(into.pod_uid, from.pod_uid);
    fill(into.labels, from.labels);
    return into;
}

PodMeta merge_one(PodMeta into, const PodMeta& from) {
    fill(into.namespace_, from.namespace_);
    fill(into.name, from.name);
    fill(into.node, from.node);
    fill(into.labels, from.labels);
    fill(into.annotations, from.annotations);
    return into;
}

template <class Record> std::vector<const Record*> ranked(const std::vector<Record>& records) {
    std::vector<const Record*> out;
    for (const auto& r : records)
        out.push_back(&r);
    std::stable_sort(out.begin(), out.end(), [](const Record* a, const Record* b) {
        if ((a->gone_at == 0) != (b->gone_at == 0))
            return a->gone_at == 0;
        return a->source < b->source;
    });
    return out;
}

template <class Slot> void remerge(Slot& slot) {
    auto order = ranked(slot.records);
    if (order.empty()) {
        slot.merged.reset();
        return;
    }
    if (order.size() == 1) { // the common case shares the record: no copy
        slot.merged = order.front()->meta;
        return;
    }
    auto merged = *order.front()->meta;
    for (size_t i = 1; i < order.size(); ++i)
        merged = merge_one(std::move(merged), *order[i]->meta);
    slot.merged = std::make_shared<const std::decay_t<decltype(merged)>>(std::move(merged));
}

const std::string& key_of(const ContainerMeta& m) {
    return m.id;
}
const std::string& key_of(const PodMeta& m) {
    return m.uid;
}

} // namespace

MetadataCache::MetadataCache(CacheOptions options)
    : grace_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(options.grace).count()) {}

MetadataCache::~MetadataCache() {
    stop();
}

int64_t MetadataCache::now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

bool MetadataCache::expired(int64_t gone_at) const {
    return gone_at != 0 && now_ns() - gone_at > grace_ns_;
}

Publisher* MetadataCache::add_source(std::string name) {
    std::lock_guard lifecycle(lifecycle_mu_);
    size_t index = source_count_.load();
    if (index >= kMaxSources) {
        spdlog::error("metadata: cannot add source {}: at most {} sources", name, kMaxSources);
        return nullptr;
    }
    sources_[index] = std::make_unique<Source>(*this, static_cast<uint8_t>(index), std::move(name));
    source_count_.store(index + 1, std::memory_order_release);
    return sources_[index].get();
}

Status MetadataCache::add_provider(std::unique_ptr<Provider> provider) {
    if (!provider)
        return make_error("metadata: null provider");
    Publisher* source = add_source(provider->name());
    if (!source)
        return make_error("metadata: too many providers");
    std::lock_guard lifecycle(lifecycle_mu_);
    provider_source_.push_back(static_cast<Source*>(source)->index_);
    providers_.push_back(std::move(provider));
    return {};
}

Status MetadataCache::start() {
    std::lock_guard lifecycle(lifecycle_mu_);
    Status first;
    for (size_t i = 0; i < providers_.size(); ++i) {
        Status s = providers_[i]->start(*sources_[provider_source_[i]]);
        if (!s) {
            spdlog::error("metadata: provider {} did not start: {}", providers_[i]->name(),
                          s.error().message);
            sources_[provider_source_[i]]->error();
            if (first)
                first = s;
        }
    }
    return first;
}

void MetadataCache::stop() {
    std::lock_guard lifecycle(lifecycle_mu_);
    for (auto& p : providers_)
        p->stop();
}

std::shared_ptr<const ContainerMeta> MetadataCache::lookup_container(std::string_view id) const {
    size_t nsources = source_count_.load(std::memory_order_acquire);
    uint32_t mask = 0;
    std::shared_ptr<const ContainerMeta> out;
    {
        std::shared_lock lock(mu_);
        auto it = containers_.find(id);
        if (it != containers_.end() && !expired(it->second.gone_at)) {
            out = it->second.merged;
            mask = it->second.source_mask;
        }
    }
    (out ? container_hits_ : container_misses_).fetch_add(1, std::memory_order_relaxed);
    for (size_t i = 0; i < nsources; ++i)
        ((mask >> i) & 1 ? sources_[i]->hits_ : sources_[i]->misses_)
            .fetch_add(1, std::memory_order_relaxed);
    return out;
}

std::shared_ptr<const PodMeta> MetadataCache::lookup_pod(std::string_view uid) const {
    std::shared_ptr<const PodMeta> out;
    {
        std::shared_lock lock(mu_);
        auto it = pods_.find(uid);
        if (it != pods_.end() && !expired(it->second.gone_at))
            out = it->second.merged;
    }
    (out ? pod_hits_ : pod_misses_).fetch_add(1, std::memory_order_relaxed);
    return out;
}

template <class Meta> void MetadataCache::put(Map<Meta>& map, uint8_t source, Meta meta) {
    std::string key = key_of(meta);
    auto& slot = map[key];
    auto shared = std::make_shared<const Meta>(std::move(meta));
    auto it = std::find_if(slot.records.begin(), slot.records.end(),
                           [&](const auto& r) { return r.source == source; });
    if (it == slot.records.end())
        slot.records.push_back({source, 0, std::move(shared)});
    else
        *it = {source, 0, std::move(shared)};
    slot.source_mask |= 1u << source;
    slot.gone_at = 0;
    remerge(slot);
}

template <class Meta>
void MetadataCache::gone(Map<Meta>& map, GoneQueue& queue, uint8_t source, std::string_view key,
                         int64_t now) {
    auto slot = map.find(key);
    if (slot == map.end())
        return;
    auto& records = slot->second.records;
    auto it = std::find_if(records.begin(), records.end(),
                           [&](const auto& r) { return r.source == source; });
    if (it == records.end() || it->gone_at != 0)
        return;
    it->gone_at = now;
    bool any_alive =
        std::any_of(records.begin(), records.end(), [](const auto& r) { return r.gone_at == 0; });
    if (!any_alive) {
        slot->second.gone_at = now;
        queue.emplace_back(now, slot->first);
    }
    remerge(slot->second);
}

template <class Meta>
void MetadataCache::expire(Map<Meta>& map, GoneQueue& queue, int64_t now,
                           std::vector<std::shared_ptr<const Meta>>* erased) {
    while (!queue.empty() && now - queue.front().first > grace_ns_) {
        auto it = map.find(queue.front().second);
        // Skip entries that came back (gone_at reset) or went again later.
        if (it != map.end() && it->second.gone_at == queue.front().first) {
            if (erased && it->second.merged)
                erased->push_back(it->second.merged);
            map.erase(it);
        }
        queue.pop_front();
    }
}

void MetadataCache::sweep_locked(int64_t now) {
    constexpr size_t kMaxExpiredPods = 10000;
    expire(containers_, gone_containers_, now);
    std::vector<std::shared_ptr<const PodMeta>> erased;
    expire(pods_, gone_pods_, now, &erased);
    for (const auto& pod : erased) {
        if (expired_pods_.size() >= kMaxExpiredPods)
            expired_pods_.pop_front();
        expired_pods_.emplace_back(pod->namespace_, pod->name);
    }
}

std::vector<std::pair<std::string, std::string>> MetadataCache::take_expired_pods() {
    std::unique_lock lock(mu_);
    sweep_locked(now_ns());
    std::vector<std::pair<std::string, std::string>> out(expired_pods_.begin(),
                                                         expired_pods_.end());
    expired_pods_.clear();
    return out;
}

void MetadataCache::sweep() {
    std::unique_lock lock(mu_);
    sweep_locked(now_ns());
}

void MetadataCache::resync(uint8_t source, std::vector<ContainerMeta> containers,
                           std::vector<PodMeta> pods) {
    std::unordered_set<std::string_view> container_ids, pod_uids;
    for (const auto& c : containers)
        container_ids.insert(c.id);
    for (const auto& p : pods)
        pod_uids.insert(p.uid);

    std::unique_lock lock(mu_);
    int64_t now = now_ns();
    auto forget_missing = [&](auto& map, GoneQueue& queue, const auto& keep) {
        std::vector<std::string> missing;
        for (const auto& [key, slot] : map) {
            if (!((slot.source_mask >> source) & 1) || keep.count(key))
                continue;
            missing.push_back(key);
        }
        for (const auto& key : missing)
            gone(map, queue, source, key, now);
    };
    forget_missing(containers_, gone_containers_, container_ids);
    forget_missing(pods_, gone_pods_, pod_uids);
    for (auto& c : containers)
        if (!c.id.empty())
            put(containers_, source, std::move(c));
    for (auto& p : pods)
        if (!p.uid.empty())
            put(pods_, source, std::move(p));
    sweep_locked(now);
}

CacheStats MetadataCache::stats() const {
    CacheStats out;
    out.container_hits = container_hits_.load(std::memory_order_relaxed);
    out.container_misses = container_misses_.load(std::memory_order_relaxed);
    out.pod_hits = pod_hits_.load(std::memory_order_relaxed);
    out.pod_misses = pod_misses_.load(std::memory_order_relaxed);
    size_t nsources = source_count_.load(std::memory_order_acquire);
    for (size_t i = 0; i < nsources; ++i) {
        const Source& s = *sources_[i];
        ProviderStats p;
        p.name = s.name_;
        p.up = s.up_.load();
        p.went_up = s.went_up_.load();
        p.went_down = s.went_down_.load();
        p.errors = s.errors_.load();
        p.hits = s.hits_.load();
        p.misses = s.misses_.load();
        out.providers.push_back(std::move(p));
    }
    std::shared_lock lock(mu_);
    auto count = [&](const auto& map, size_t& total, size_t& lingering, auto per_source) {
        total = map.size();
        for (const auto& [key, slot] : map) {
            if (slot.gone_at != 0)
                ++lingering;
            for (const auto& r : slot.records)
                if (r.gone_at == 0 && r.source < out.providers.size())
                    ++(out.providers[r.source].*per_source);
        }
    };
    count(containers_, out.containers, out.lingering_containers, &ProviderStats::containers);
    count(pods_, out.pods, out.lingering_pods, &ProviderStats::pods);
    return out;
}

} // namespace podguard::metadata

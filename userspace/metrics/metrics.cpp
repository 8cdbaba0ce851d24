#include "metrics/metrics.h"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <functional>
#include <netinet/in.h>
#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

#include "events/names.h"
#include "metrics/health.h"
#include "metrics/metric_list.h"

#ifndef PODGUARD_VERSION
#define PODGUARD_VERSION "unknown"
#endif

namespace podguard {

namespace {

constexpr const char* kOverflow = "_overflow";

double now_seconds() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string kernel_release() {
    utsname u{};
    if (uname(&u) != 0)
        return "unknown";
    return u.release;
}

prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& registry,
                                                        MetricId id) {
    const auto& spec = metric_spec(id);
    return prometheus::BuildCounter()
        .Name(std::string(spec.name))
        .Help(std::string(spec.help))
        .Register(registry);
}

prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& registry, MetricId id) {
    const auto& spec = metric_spec(id);
    return prometheus::BuildGauge()
        .Name(std::string(spec.name))
        .Help(std::string(spec.help))
        .Register(registry);
}

// Which party an event is a pod's activity for: the actor when it runs in a
// container, else the target's pod (host reaching into a pod).
const Party* attributed_party(const Event& event) {
    if (event.source.container || event.source.pod)
        return &event.source;
    if (event.target.known && (event.target.container || event.target.pod))
        return &event.target;
    return nullptr;
}

struct PodIdentity {
    std::string_view ns, pod, container;
};

// Names when a metadata provider gave them, else the ids the cgroup path
// gives (pod uid, short container id): pods seen without metadata (no
// provider, provider down, a pod too new for the cache) then stay apart,
// instead of all counting in one series with empty labels that no operator
// can trace back to a pod.
PodIdentity identity_of(const Party& party) {
    PodIdentity id;
    if (party.pod) {
        id.ns = party.pod->namespace_;
        id.pod = party.pod->name;
        if (id.pod.empty())
            id.pod = party.pod->uid;
    }
    if (party.container) {
        if (id.pod.empty())
            id.pod = party.container->pod_uid;
        id.container = party.container->name;
        if (id.container.empty())
            id.container = std::string_view(party.container->id).substr(0, 12);
    }
    return id;
}

struct ParsedAddress {
    int family = AF_INET;
    sockaddr_storage addr{};
    socklen_t len = 0;
};

Result<ParsedAddress> parse_address(std::string_view address) {
    auto colon = address.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
        return make_error(fmt::format("metrics address '{}' is not HOST:PORT", address));
    std::string_view host = address.substr(0, colon);
    std::string_view port_text = address.substr(colon + 1);
    unsigned port = 0;
    if (port_text.empty() || port_text.size() > 5)
        return make_error(fmt::format("metrics address '{}' has no valid port", address));
    for (char c : port_text) {
        if (c < '0' || c > '9')
            return make_error(fmt::format("metrics address '{}' has no valid port", address));
        port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port > 65535)
        return make_error(fmt::format("metrics address '{}': port out of range", address));

    ParsedAddress out;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        std::string ip(host.substr(1, host.size() - 2));
        auto* sa = reinterpret_cast<sockaddr_in6*>(&out.addr);
        if (inet_pton(AF_INET6, ip.c_str(), &sa->sin6_addr) != 1)
            return make_error(
                fmt::format("metrics address '{}': '{}' is not an IPv6 address", address, ip));
        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons(static_cast<uint16_t>(port));
        out.family = AF_INET6;
        out.len = sizeof(sockaddr_in6);
    } else {
        std::string ip(host);
        auto* sa = reinterpret_cast<sockaddr_in*>(&out.addr);
        if (inet_pton(AF_INET, ip.c_str(), &sa->sin_addr) != 1)
            return make_error(fmt::format(
                "metrics address '{}': '{}' is not an IPv4 address (use an IP literal, IPv6 "
                "as [ADDR]:PORT)",
                address, ip));
        sa->sin_family = AF_INET;
        sa->sin_port = htons(static_cast<uint16_t>(port));
        out.family = AF_INET;
        out.len = sizeof(sockaddr_in);
    }
    return out;
}

// civetweb only says that it could not start; binding the address ourselves
// tells the operator why.
std::string bind_diagnosis(std::string_view address, const char* fallback) {
    auto parsed = parse_address(address);
    if (!parsed)
        return parsed.error().message;
    int fd = socket(parsed->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return std::strerror(errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    std::string why = fallback;
    if (bind(fd, reinterpret_cast<sockaddr*>(&parsed->addr), parsed->len) != 0)
        why = std::strerror(errno);
    close(fd);
    return why;
}

void wake_listener(std::string_view address, uint16_t port) {
    auto parsed = parse_address(address);
    if (!parsed)
        return;
    auto& storage = parsed->addr;
    if (parsed->family == AF_INET) {
        auto* sa = reinterpret_cast<sockaddr_in*>(&storage);
        sa->sin_port = htons(port);
        if (sa->sin_addr.s_addr == htonl(INADDR_ANY))
            sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
        auto* sa = reinterpret_cast<sockaddr_in6*>(&storage);
        sa->sin6_port = htons(port);
        if (IN6_IS_ADDR_UNSPECIFIED(&sa->sin6_addr))
            sa->sin6_addr = in6addr_loopback;
    }
    int fd = socket(parsed->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return;
    (void)connect(fd, reinterpret_cast<sockaddr*>(&storage), parsed->len);
    close(fd);
}

} // namespace

Result<PodLabels> parse_pod_labels(std::string_view text) {
    if (text == "off")
        return PodLabels::Off;
    if (text == "namespace")
        return PodLabels::Namespace;
    if (text == "pod")
        return PodLabels::NamespacePod;
    if (text == "container")
        return PodLabels::NamespacePodContainer;
    return make_error(
        fmt::format("pod labels '{}': expected off, namespace, pod or container", text));
}

const char* to_string(PodLabels labels) {
    switch (labels) {
    case PodLabels::Off:
        return "off";
    case PodLabels::Namespace:
        return "namespace";
    case PodLabels::NamespacePod:
        return "pod";
    case PodLabels::NamespacePodContainer:
        return "container";
    }
    return "unknown";
}

Status validate_metrics_address(std::string_view address) {
    auto parsed = parse_address(address);
    if (!parsed)
        return parsed.error();
    return {};
}

// --- pod-level series cache ------------------------------------------------

namespace {

struct PodKeyView {
    std::string_view ns, pod, container;
    bool operator==(const PodKeyView&) const = default;
};

struct PodKey {
    std::string ns, pod, container;
    operator PodKeyView() const { return {ns, pod, container}; }
};

struct PodKeyHash {
    using is_transparent = void;
    std::size_t operator()(PodKeyView k) const {
        std::hash<std::string_view> h;
        std::size_t v = h(k.ns);
        v = v * 1000003u ^ h(k.pod);
        v = v * 1000003u ^ h(k.container);
        return v;
    }
};

struct PodKeyEq {
    using is_transparent = void;
    bool operator()(PodKeyView a, PodKeyView b) const { return a == b; }
};

std::vector<prometheus::ClientMetric::Label> identity_labels(PodLabels mode, const PodKey& key) {
    std::vector<prometheus::ClientMetric::Label> labels{{"namespace", key.ns}};
    if (mode != PodLabels::Namespace)
        labels.push_back({"pod", key.pod});
    if (mode == PodLabels::NamespacePodContainer)
        labels.push_back({"container", key.container});
    return labels;
}

} // namespace

struct Metrics::PodEntry {
    PodKey key;
    std::vector<prometheus::ClientMetric::Label> identity; // as chosen by PodLabels
    std::array<std::atomic<uint64_t>, kKinds * kRelations * kActions> counts{};
};

struct Metrics::PodTable {
    std::unordered_map<PodKey, std::unique_ptr<PodEntry>, PodKeyHash, PodKeyEq> entries;
    std::unique_ptr<PodEntry> overflow;
    // kind, relation, action labels of each counts[] slot.
    std::array<std::array<prometheus::ClientMetric::Label, 3>, kKinds * kRelations * kActions>
        slot_labels;
    std::atomic<std::size_t> nonzero_slots{0}; // series to expect at the next scrape
};

// podguard_pod_events_total straight from the PodTable: a prometheus::Family
// would keep a std::map of labels per series and copy it at every scrape,
// which is most of the scrape time at 10k series.
class Metrics::PodEventsCollectable : public prometheus::Collectable {
  public:
    explicit PodEventsCollectable(const Metrics& metrics) : metrics_(metrics) {}

    std::vector<prometheus::MetricFamily> Collect() const override {
        const auto& spec = metric_spec(MetricId::PodEventsTotal);
        prometheus::MetricFamily family{
            std::string(spec.name), std::string(spec.help), prometheus::MetricType::Counter, {}};
        std::shared_lock lock(metrics_.pod_mu_);
        const PodTable& table = *metrics_.pods_;
        family.metric.reserve(table.nonzero_slots.load(std::memory_order_relaxed));
        auto add = [&](const PodEntry& entry) {
            for (std::size_t slot = 0; slot < entry.counts.size(); ++slot) {
                uint64_t count = entry.counts[slot].load(std::memory_order_relaxed);
                if (count == 0)
                    continue;
                prometheus::ClientMetric& metric = family.metric.emplace_back();
                metric.label.reserve(entry.identity.size() + 3);
                metric.label = entry.identity;
                metric.label.insert(metric.label.end(), table.slot_labels[slot].begin(),
                                    table.slot_labels[slot].end());
                metric.counter.value = static_cast<double>(count);
            }
        };
        for (const auto& [key, entry] : table.entries)
            add(*entry);
        if (table.overflow)
            add(*table.overflow);
        return {std::move(family)};
    }

  private:
    const Metrics& metrics_;
};

// --- Metrics ---------------------------------------------------------------

Metrics::Metrics(const MetricsConfig& config)
    : config_(config), registry_(std::make_shared<prometheus::Registry>()) {
    if (config_.version.empty())
        config_.version = PODGUARD_VERSION;
    if (config_.kernel.empty())
        config_.kernel = kernel_release();
}

Metrics::~Metrics() {
    if (!exposer_)
        return;
    // civetweb's listener polls with a 2 s timeout before it notices the stop
    // flag; poking it with connections makes shutdown take milliseconds.
    std::atomic<bool> stopped{false};
    std::thread waker([this, &stopped] {
        while (!stopped.load()) {
            wake_listener(config_.address, port_);
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    });
    exposer_.reset();
    stopped = true;
    waker.join();
}

Result<std::unique_ptr<Metrics>> Metrics::start(const MetricsConfig& config) {
    if (auto valid = validate_metrics_address(config.address); !valid)
        return make_error("metrics: " + valid.error().message);
    std::unique_ptr<Metrics> metrics(new Metrics(config));
    metrics->build();
    try {
        metrics->exposer_ = std::make_unique<prometheus::Exposer>(
            config.address, config.http_threads == 0 ? 1 : config.http_threads,
            health_http_callbacks()); // also /healthz and /readyz (metrics/health.h)
    } catch (const std::exception& e) {
        return make_error(fmt::format("metrics: cannot listen on {}: {}", config.address,
                                      bind_diagnosis(config.address, e.what())));
    }
    metrics->exposer_->RegisterCollectable(metrics->registry_);
    if (metrics->pod_events_)
        metrics->exposer_->RegisterCollectable(metrics->pod_events_);
    auto ports = metrics->exposer_->GetListeningPorts();
    metrics->port_ = ports.empty() ? 0 : static_cast<uint16_t>(ports.front());
    return metrics;
}

void Metrics::build() {
    auto& reg = *registry_;
    auto& events = counter_family(reg, MetricId::EventsTotal);
    for (std::size_t k = 0; k < kKinds; ++k)
        for (std::size_t r = 0; r < kRelations; ++r)
            for (std::size_t a = 0; a < kActions; ++a)
                events_[(k * kRelations + r) * kActions + a] =
                    &events.Add({{"kind", to_string(static_cast<EventKind>(k))},
                                 {"relation", to_string(static_cast<Relation>(r))},
                                 {"action", to_string(static_cast<Action>(a))}});

    auto& decisions = counter_family(reg, MetricId::PolicyDecisionsTotal);
    for (std::size_t k = 0; k < kDecisionKinds; ++k)
        for (std::size_t a = 0; a < kActions; ++a)
            for (std::size_t m = 0; m < kModes; ++m)
                decisions_[(k * kActions + a) * kModes + m] =
                    &decisions.Add({{"kind", to_string(static_cast<EventKind>(k))},
                                    {"action", to_string(static_cast<Action>(a))},
                                    {"mode", to_string(static_cast<EnforcementMode>(m))}});

    auto& mode = gauge_family(reg, MetricId::EnforcementMode);
    for (std::size_t m = 0; m < kModes; ++m)
        mode_gauges_[m] = &mode.Add({{"mode", to_string(static_cast<EnforcementMode>(m))}});
    may_complete_ = &gauge_family(reg, MetricId::EnforcementMayComplete).Add({});

    if (config_.pod_labels != PodLabels::Off) {
        pods_ = std::make_unique<PodTable>();
        for (std::size_t k = 0; k < kKinds; ++k)
            for (std::size_t r = 0; r < kRelations; ++r)
                for (std::size_t a = 0; a < kActions; ++a)
                    pods_->slot_labels[(k * kRelations + r) * kActions + a] = {{
                        {"kind", to_string(static_cast<EventKind>(k))},
                        {"relation", to_string(static_cast<Relation>(r))},
                        {"action", to_string(static_cast<Action>(a))},
                    }};
        pod_events_ = std::make_shared<PodEventsCollectable>(*this);
    }
    build_flood(reg);
    overflow_ = &counter_family(reg, MetricId::SeriesOverflowTotal).Add({});
    pod_series_ = &gauge_family(reg, MetricId::PodSeries).Add({});

    // Pre-created at 0 so that increase() sees the first loss.
    auto& lost = counter_family(reg, MetricId::EventsLostTotal);
    for (std::size_t k = 1; k < PG_EV_KIND_MAX; ++k)
        for (std::size_t r = 0; r < PG_LOST_REASON_MAX; ++r)
            lost_[k * PG_LOST_REASON_MAX + r].counter =
                &lost.Add({{"kind", to_string(static_cast<EventKind>(k - 1))},
                           {"reason", lost_reason_name(r)}});
    for (std::size_t r = 0; r < PG_LOST_REASON_MAX; ++r)
        lost_[r].counter = nullptr; // kind 0: created when the kernel ever counts one
    lost_family_ = &lost;
    dropped_family_ = &counter_family(reg, MetricId::EventsDroppedUserspaceTotal);

    auto& stops = counter_family(reg, MetricId::AgentStopSignalsTotal);
    stops_[0].counter = &stops.Add({{"result", "resumed"}});
    stops_[1].counter = &stops.Add({{"result", "not_resumed"}});
    stops_[2].counter = &stops.Add({{"result", "allowed"}});

    ringbuf_used_ = &gauge_family(reg, MetricId::RingbufUsedBytes).Add({});
    ringbuf_size_ = &gauge_family(reg, MetricId::RingbufSizeBytes).Add({});

    bpf_runs_family_ = &counter_family(reg, MetricId::BpfProgramRunsTotal);
    bpf_seconds_family_ = &counter_family(reg, MetricId::BpfProgramRunSecondsTotal);
    provider_up_family_ = &gauge_family(reg, MetricId::MetadataProviderUp);
    lookups_family_ = &counter_family(reg, MetricId::MetadataLookupsTotal);

    auto& reloads = counter_family(reg, MetricId::PolicyReloadsTotal);
    reload_success_ = &reloads.Add({{"result", "success"}});
    reload_failure_ = &reloads.Add({{"result", "failure"}});
    reload_timestamp_ =
        &gauge_family(reg, MetricId::PolicyLastReloadSuccessTimestampSeconds).Add({});
    policy_rules_ = &gauge_family(reg, MetricId::PolicyRules).Add({});

    gauge_family(reg, MetricId::BuildInfo)
        .Add({{"version", config_.version}, {"kernel", config_.kernel}})
        .Set(1);
    gauge_family(reg, MetricId::StartTimeSeconds).Add({}).Set(now_seconds());

    set_enforcement_mode(EnforcementMode::Monitor);
}

void Metrics::observe(const Event& event) {
    auto k = static_cast<std::size_t>(event.kind);
    auto r = static_cast<std::size_t>(event.relation);
    auto a = static_cast<std::size_t>(event.action);
    if (k >= kKinds || r >= kRelations || a >= kActions)
        return;
    events_[(k * kRelations + r) * kActions + a]->Increment();
    if (k < kDecisionKinds) {
        auto m = static_cast<std::size_t>(mode_.load(std::memory_order_relaxed));
        decisions_[(k * kActions + a) * kModes + m]->Increment();
    }

    if (!pods_)
        return;
    const Party* party = attributed_party(event);
    if (!party)
        return;
    auto [ns, pod, container] = identity_of(*party);
    if (config_.pod_labels != PodLabels::NamespacePodContainer)
        container = {};
    if (config_.pod_labels == PodLabels::Namespace)
        pod = {};
    std::size_t slot = (k * kRelations + r) * kActions + a;

    auto count = [&](PodEntry& entry) {
        if (entry.counts[slot].fetch_add(1, std::memory_order_relaxed) == 0)
            pods_->nonzero_slots.fetch_add(1, std::memory_order_relaxed);
    };
    {
        std::shared_lock lock(pod_mu_);
        auto& table = *pods_;
        auto it = table.entries.find(PodKeyView{ns, pod, container});
        if (it != table.entries.end()) {
            count(*it->second);
            return;
        }
        if (table.overflow && table.entries.size() >= config_.max_pod_series) {
            overflow_->Increment();
            count(*table.overflow);
            return;
        }
    }
    std::unique_lock lock(pod_mu_);
    count(pod_entry(ns, pod, container));
}

Metrics::PodEntry& Metrics::pod_entry(std::string_view ns, std::string_view pod,
                                      std::string_view container) {
    auto& table = *pods_;
    if (auto it = table.entries.find(PodKeyView{ns, pod, container}); it != table.entries.end())
        return *it->second;
    if (table.entries.size() >= config_.max_pod_series) {
        overflow_->Increment();
        if (!table.overflow) {
            table.overflow = std::make_unique<PodEntry>();
            table.overflow->key = {kOverflow, kOverflow, kOverflow};
            table.overflow->identity = identity_labels(config_.pod_labels, table.overflow->key);
        }
        return *table.overflow;
    }
    auto entry = std::make_unique<PodEntry>();
    entry->key = {std::string(ns), std::string(pod), std::string(container)};
    entry->identity = identity_labels(config_.pod_labels, entry->key);
    PodKey key = entry->key;
    auto& ref = *entry;
    table.entries.emplace(std::move(key), std::move(entry));
    pod_series_->Set(static_cast<double>(table.entries.size()));
    return ref;
}

void Metrics::forget_pod(std::string_view ns, std::string_view pod) {
    if (!pods_ || config_.pod_labels == PodLabels::Namespace)
        return;
    std::unique_lock lock(pod_mu_);
    auto& entries = pods_->entries;
    for (auto it = entries.begin(); it != entries.end();) {
        if (it->first.ns == ns && it->first.pod == pod) {
            std::size_t used = 0;
            for (const auto& c : it->second->counts)
                used += c.load(std::memory_order_relaxed) != 0;
            pods_->nonzero_slots.fetch_sub(used, std::memory_order_relaxed);
            it = entries.erase(it);
        } else {
            ++it;
        }
    }
    pod_series_->Set(static_cast<double>(entries.size()));
}

std::size_t Metrics::pod_series() const {
    if (!pods_)
        return 0;
    std::shared_lock lock(pod_mu_);
    return pods_->entries.size();
}

void Metrics::set_enforcement_mode(EnforcementMode mode) {
    auto m = static_cast<std::size_t>(mode);
    if (m >= kModes)
        return;
    mode_.store(static_cast<int>(m), std::memory_order_relaxed);
    for (std::size_t i = 0; i < kModes; ++i)
        mode_gauges_[i]->Set(i == m ? 1 : 0);
    may_complete_->Set(mode == EnforcementMode::SignalFallback ? 1 : 0);
}

void Metrics::FollowedCounter::follow(uint64_t total, double scale) {
    uint64_t delta = total >= last ? total - last : total;
    last = total;
    if (delta && counter)
        counter->Increment(static_cast<double>(delta) * scale);
}

void Metrics::set_lost(const pg_lost_counters& summed) {
    std::lock_guard lock(mu_);
    for (std::size_t k = 0; k < PG_EV_KIND_MAX; ++k) {
        for (std::size_t r = 0; r < PG_LOST_REASON_MAX; ++r) {
            auto& followed = lost_[k * PG_LOST_REASON_MAX + r];
            uint64_t total = summed.count[k][r];
            if (!followed.counter && total)
                followed.counter =
                    &lost_family_->Add({{"kind", "unknown"}, {"reason", lost_reason_name(r)}});
            followed.follow(total, 1.0);
        }
    }
}

void Metrics::add_dropped_userspace(std::string_view reason, uint64_t count) {
    std::lock_guard lock(mu_);
    auto it = dropped_.find(reason);
    if (it == dropped_.end())
        it = dropped_
                 .emplace(std::string(reason),
                          &dropped_family_->Add({{"reason", std::string(reason)}}))
                 .first;
    it->second->Increment(static_cast<double>(count));
}

void Metrics::set_agent_stop_signals(const pg_guard_stats& totals) {
    std::lock_guard lock(mu_);
    stops_[0].follow(totals.resumed, 1.0);
    stops_[1].follow(totals.resume_failed, 1.0);
    stops_[2].follow(totals.allowed_stops, 1.0);
}

void Metrics::set_ringbuf(uint64_t used_bytes, uint64_t size_bytes) {
    ringbuf_used_->Set(static_cast<double>(used_bytes));
    ringbuf_size_->Set(static_cast<double>(size_bytes));
}

void Metrics::update_bpf_programs(const std::vector<BpfProgramStats>& programs) {
    std::lock_guard lock(mu_);
    for (const auto& program : programs) {
        auto it = bpf_.find(program.name);
        if (it == bpf_.end()) {
            BpfCounters counters;
            counters.runs.counter = &bpf_runs_family_->Add({{"program", program.name}});
            counters.seconds.counter = &bpf_seconds_family_->Add({{"program", program.name}});
            it = bpf_.emplace(program.name, counters).first;
        }
        it->second.runs.follow(program.run_count, 1.0);
        it->second.seconds.follow(program.run_time_ns, 1e-9);
    }
}

void Metrics::set_provider_up(std::string_view provider, bool up) {
    std::lock_guard lock(mu_);
    auto it = provider_up_.find(provider);
    if (it == provider_up_.end())
        it = provider_up_
                 .emplace(std::string(provider),
                          &provider_up_family_->Add({{"provider", std::string(provider)}}))
                 .first;
    it->second->Set(up ? 1 : 0);
}

void Metrics::count_metadata_lookup(std::string_view provider, bool hit, uint64_t count) {
    std::lock_guard lock(mu_);
    auto it = lookups_.find(provider);
    if (it == lookups_.end()) {
        std::array<prometheus::Counter*, 2> counters{
            &lookups_family_->Add({{"provider", std::string(provider)}, {"result", "miss"}}),
            &lookups_family_->Add({{"provider", std::string(provider)}, {"result", "hit"}})};
        it = lookups_.emplace(std::string(provider), counters).first;
    }
    it->second[hit ? 1 : 0]->Increment(static_cast<double>(count));
}

void Metrics::record_policy_reload(bool success, std::size_t rules) {
    if (!success) {
        reload_failure_->Increment();
        return;
    }
    reload_success_->Increment();
    reload_timestamp_->Set(now_seconds());
    policy_rules_->Set(static_cast<double>(rules));
}

void Metrics::set_policy_rules(std::size_t rules) {
    policy_rules_->Set(static_cast<double>(rules));
}

std::string Metrics::render() const {
    auto families = registry_->Collect();
    if (pod_events_)
        for (auto& family : pod_events_->Collect())
            families.push_back(std::move(family));
    return prometheus::TextSerializer().Serialize(families);
}

} // namespace podguard

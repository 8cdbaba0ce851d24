#include "enforce_support.h"

#include <unistd.h>

#include <cstring>
#include <sstream>
#include <thread>

#include "container/cgroup_resolver.h"
#include "policy/load.h"
#include "process/kernel_cache.h"
#include "process/proc_scan.h"

namespace podguard::test {

EventReader::EventReader(int events_fd, int prio_events_fd) {
    rb_ = ring_buffer__new(events_fd, &EventReader::on_record, this, nullptr);
    if (!rb_)
        throw FixtureError("ring_buffer__new: " + std::string(strerror(errno)));
    if (prio_events_fd >= 0 && ring_buffer__add(rb_, prio_events_fd, &EventReader::on_record, this))
        throw FixtureError("ring_buffer__add: " + std::string(strerror(errno)));
}

EventReader::~EventReader() {
    ring_buffer__free(rb_);
}

int EventReader::on_record(void* ctx, void* data, size_t size) {
    auto* self = static_cast<EventReader*>(ctx);
    if (size < sizeof(pg_header))
        return 0;
    RawEvent e;
    std::memcpy(&e.hdr, data, sizeof(pg_header));
    switch (e.hdr.kind) {
    case PG_EV_SIGNAL:
        if (size >= sizeof(pg_signal_event)) {
            auto* s = static_cast<const pg_signal_event*>(data);
            e.source = s->source;
            e.target = s->target;
            e.sig = s->sig;
        }
        break;
    case PG_EV_PTRACE:
        if (size >= sizeof(pg_ptrace_event)) {
            auto* p = static_cast<const pg_ptrace_event*>(data);
            e.source = p->source;
            e.target = p->target;
            e.request = p->request;
        }
        break;
    case PG_EV_PROC_ACCESS:
        if (size >= sizeof(pg_proc_access_event)) {
            auto* p = static_cast<const pg_proc_access_event*>(data);
            e.source = p->source;
            e.target = p->target;
            e.entry = p->entry;
        }
        break;
    default:
        return 0; // lifecycle events are not what these tests look at
    }
    self->events_.push_back(e);
    return 0;
}

std::optional<RawEvent> EventReader::wait_for(const std::function<bool(const RawEvent&)>& pred,
                                              std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t checked = 0;
    for (;;) {
        for (; checked < events_.size(); ++checked)
            if (pred(events_[checked]))
                return events_[checked];
        if (std::chrono::steady_clock::now() >= deadline)
            return std::nullopt;
        ring_buffer__poll(rb_, 20);
    }
}

std::string EventReader::describe_recent(size_t n) const {
    std::ostringstream out;
    size_t from = events_.size() > n ? events_.size() - n : 0;
    out << events_.size() << " events; last:";
    for (size_t i = from; i < events_.size(); ++i) {
        const auto& e = events_[i];
        out << "\n  kind=" << e.hdr.kind << " sys=" << e.hdr.syscall << " src=" << e.source.pid
            << " tgt=" << e.target.pid << " action=" << int(e.hdr.action)
            << " rule=" << e.hdr.policy_rule << " result=" << e.hdr.result
            << " flags=" << e.hdr.flags;
    }
    return out.str();
}

std::unique_ptr<BpfObjects> load_enforcing_objects(LoadOptions options) {
    if (auto fs = ensure_kernel_filesystems(); !fs)
        throw FixtureError(fs.error().message);
    auto objects = BpfObjects::load(options);
    if (!objects)
        throw FixtureError("cannot load the BPF object: " + objects.error().message);
    if (auto a = (*objects)->attach(); !a)
        throw FixtureError("cannot attach: " + a.error().message);
    auto root = find_cgroup2_root();
    if (!root)
        throw FixtureError(root.error().message);
    auto threads = scan_processes(true);
    std::unordered_map<std::string, uint64_t> ids;
    for (const auto& t : threads)
        if (!t.cgroup_path.empty() && !ids.count(t.cgroup_path))
            if (auto id = CgroupResolver::cgroup_id_of(*root + t.cgroup_path))
                ids[t.cgroup_path] = *id;
    if (auto s = seed_kernel_cache((*objects)->pids_fd(), (*objects)->procs_fd(), threads, ids); !s)
        throw FixtureError("cannot seed the process cache: " + s.error().message);
    return std::move(*objects);
}

std::string test_policy_yaml(const std::string& pod, const std::string& action) {
    return R"(apiVersion: podguard.io/v1alpha1
kind: PodGuardPolicy
metadata:
  name: enforce-test
spec:
  selector: {pods: [)" +
           pod + R"(]}
  rules:
    - name: sidecar-may-hup
      action: allow
      operations:
        - signal: {signals: [SIGHUP]}
      source: {containers: [a]}
      target: {containers: [b]}
      relations: [same_pod]
    - name: audit-environ
      action: audit
      operations:
        - procAccess: {entries: [environ]}
      relations: [same_pod]
    - name: no-cross-container
      action: )" +
           action + R"(
      operations:
        - signal: {}
        - ptrace: {}
        - procAccess: {entries: [root, cwd]}
      relations: [same_pod]
)";
}

policy::CompiledPolicy compile_yaml(const std::string& yaml) {
    auto set = policy::load_policy_text(yaml, "test.yaml");
    if (!set)
        throw FixtureError("policy does not load: " + set.error().message);
    auto compiled = policy::compile(*set);
    if (!compiled)
        throw FixtureError("policy does not compile: " + compiled.error().message);
    return std::move(*compiled);
}

uint32_t rule_id(const policy::CompiledPolicy& policy, const std::string& name) {
    for (const auto& r : policy.rules)
        if (r.name == name)
            return r.id;
    throw FixtureError("no rule " + name);
}

enforce::CgroupFacts container_facts(const SandboxContainer& c, const std::string& pod,
                                     uint32_t pod_id, uint32_t container_id) {
    enforce::CgroupFacts f;
    f.cgroup_id = c.cgroup().id();
    f.pod_id = pod_id;
    f.container_id = container_id;
    f.party.in_container = true;
    f.party.namespace_ = "enforce-test";
    f.party.pod = pod;
    f.party.container = c.name();
    return f;
}

} // namespace podguard::test

#include "enrich/enricher.h"

#include "enrich/ancestry.h"
#include "events/kinds.h"
#include "process/proc_scan.h"
#include "relation/relation.h"

namespace podguard {

namespace {

int target_arg_of(const Event& e) {
    if (auto* s = std::get_if<SignalDetail>(&e.detail))
        return s->tid_arg > 0 ? s->tid_arg : s->target_arg;
    if (auto* p = std::get_if<PtraceDetail>(&e.detail))
        return p->target_arg;
    if (auto* a = std::get_if<ProcAccessDetail>(&e.detail))
        return a->target_arg;
    return 0;
}

// A successful execve(at) is reported at syscall exit, after the exec hook
// told the process table about the new image; but the one that made the call
// was the old image (as the comm, read at entry, says).
bool replaced_own_image(const Event& e) {
    auto* a = std::get_if<ProcAccessDetail>(&e.detail);
    return a && a->result == 0 && (a->syscall == PG_SYS_EXECVE || a->syscall == PG_SYS_EXECVEAT);
}

bool is_pidfd(const Event& e) {
    auto* s = std::get_if<SignalDetail>(&e.detail);
    return s && s->syscall == PG_SYS_PIDFD_SEND_SIGNAL;
}

} // namespace

void Enricher::resolve_unknown_target(Event& e) {
    int arg = target_arg_of(e);
    if (e.target.known || arg <= 0 || is_pidfd(e))
        return;
    // The kernel cache missed (a process older than the agent that the seed
    // raced with): the user-space table may still know the number.
    const ProcessRecord* r = e.source.pidns == host_pidns_inode()
                                 ? processes_.find(arg)
                                 : processes_.find_in_namespace(e.source.pidns, arg);
    if (!r || r->exited_ns)
        return;
    e.target = party_of(*r);
}

std::optional<ContainerInfo> Enricher::container_of(uint64_t cgroup_id) {
    auto id = cgroups_.identity_of(cgroup_id);
    if (!id)
        return std::nullopt;
    ContainerInfo c;
    c.id = id->container_id;
    c.runtime = id->runtime;
    c.pod_uid = !id->pod_uid.empty() ? id->pod_uid : id->pod_id;
    return c;
}

void Enricher::enrich_party(Party& p) {
    if (!p.known)
        return;
    if (const ProcessRecord* r = processes_.find(p.pid))
        p.exe = r->exe;
    p.container = container_of(p.cgroup_id);
    for (const PartyEnricher* enricher : party_enrichers_)
        enricher->enrich(p);
}

void Enricher::enrich(Event& e) {
    enrich_party(e.source);
    if (replaced_own_image(e))
        if (const ProcessRecord* r = processes_.find(e.source.pid);
            r && r->start_ns / 10000000 == e.source.start_ns / 10000000)
            e.source.exe = r->exe_before_exec;
    if (!is_lifecycle(e.kind)) {
        resolve_unknown_target(e);
        enrich_party(e.target);
        e.relation = classify_relation(e.source, e.target);
        fill_ancestry(e, processes_, [this](uint64_t id) { return container_of(id); });
    } else {
        e.relation = e.source.container ? Relation::SameContainer : Relation::Host;
    }
}

} // namespace podguard

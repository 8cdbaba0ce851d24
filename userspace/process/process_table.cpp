#include "process/process_table.h"

namespace podguard {

ProcessRecord& ProcessTable::upsert(const Party& p) {
    ProcessRecord& r = by_pid_[p.pid];
    if (r.start_ns != p.start_ns || r.exited_ns) {
        // A reused pid is a new process: drop what belonged to the old one.
        r = ProcessRecord{};
    }
    r.pid = p.pid;
    // The parent that forked it, not a reaper it was handed to after its
    // parent exited: ancestry is about who started it.
    if (!r.ppid)
        r.ppid = p.ppid;
    r.ns_pid = p.ns_pid;
    r.pidns = p.pidns;
    r.mntns = p.mntns;
    r.uid = p.uid;
    r.cgroup_id = p.cgroup_id;
    r.start_ns = p.start_ns;
    r.comm = p.comm;
    by_ns_pid_[ns_key(p.pidns, p.ns_pid)] = p.pid;
    return r;
}

Party party_of(const ProcessRecord& r) {
    Party t;
    t.known = true;
    t.pid = t.tid = r.pid;
    t.ns_pid = t.ns_tid = r.ns_pid;
    t.uid = t.euid = r.uid;
    t.pidns = r.pidns;
    t.mntns = r.mntns;
    t.cgroup_id = r.cgroup_id;
    t.start_ns = r.start_ns;
    t.ppid = r.ppid;
    t.comm = r.comm;
    return t;
}

void ProcessTable::seed(const std::vector<ProcSnapshot>& snapshots,
                        const std::unordered_map<std::string, uint64_t>& cgroup_ids) {
    for (const auto& s : snapshots) {
        if (s.tid != s.tgid)
            continue;
        auto cgroup = cgroup_ids.find(s.cgroup_path);
        ProcessRecord& r = upsert(party_of(s, cgroup != cgroup_ids.end() ? cgroup->second : 0));
        r.ppid = s.ppid;
        r.exe = s.exe;
        r.args = s.args;
    }
}

void ProcessTable::on_fork(const Party& process) {
    // The child runs its parent's image until it execs.
    const ProcessRecord* parent = find(process.ppid);
    std::string exe = parent ? parent->exe : std::string();
    std::string args = parent ? parent->args : std::string();
    ProcessRecord& r = upsert(process);
    r.exe = std::move(exe);
    r.args = std::move(args);
}

void ProcessTable::on_exec(const Party& process, std::string filename, std::string args) {
    ProcessRecord& r = upsert(process);
    r.exe_before_exec = std::move(r.exe);
    r.exe = std::move(filename);
    r.args = std::move(args);
}

void ProcessTable::on_exit(const Party& process, uint64_t now_boot_ns) {
    auto it = by_pid_.find(process.pid);
    if (it != by_pid_.end() && it->second.start_ns == process.start_ns)
        it->second.exited_ns = now_boot_ns ? now_boot_ns : 1;
}

void ProcessTable::expire(uint64_t now_boot_ns, uint64_t keep_ns) {
    for (auto it = by_pid_.begin(); it != by_pid_.end();) {
        const ProcessRecord& r = it->second;
        if (r.exited_ns && r.exited_ns + keep_ns < now_boot_ns) {
            auto ns = by_ns_pid_.find(ns_key(r.pidns, r.ns_pid));
            if (ns != by_ns_pid_.end() && ns->second == r.pid)
                by_ns_pid_.erase(ns);
            it = by_pid_.erase(it);
        } else {
            ++it;
        }
    }
}

const ProcessRecord* ProcessTable::find(uint32_t pid) const {
    auto it = by_pid_.find(pid);
    return it == by_pid_.end() ? nullptr : &it->second;
}

const ProcessRecord* ProcessTable::find_in_namespace(uint32_t pidns, uint32_t ns_pid) const {
    auto it = by_ns_pid_.find(ns_key(pidns, ns_pid));
    return it == by_ns_pid_.end() ? nullptr : find(it->second);
}

std::vector<const ProcessRecord*> ProcessTable::ancestry(uint32_t pid, size_t max_depth) const {
    std::vector<const ProcessRecord*> out;
    const ProcessRecord* r = find(pid);
    while (r && out.size() < max_depth) {
        out.push_back(r);
        if (r->pid <= 1 || r->ppid == r->pid)
            break;
        r = find(r->ppid);
    }
    return out;
}

} // namespace podguard

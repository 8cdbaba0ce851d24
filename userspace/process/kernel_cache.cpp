#include "process/kernel_cache.h"

#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>
#include <sys/stat.h>

#include "podguard.h"

namespace podguard {

namespace {

bool alive(uint32_t tgid, uint32_t tid) {
    struct stat st;
    std::string p = "/proc/" + std::to_string(tgid) + "/task/" + std::to_string(tid);
    return stat(p.c_str(), &st) == 0;
}

// A party as the kernel's process cache keeps it (decode/party.cpp's
// decode_party reads it back).
pg_task task_of(const Party& p) {
    pg_task t{};
    t.pid = p.pid;
    t.tid = p.tid;
    t.ns_pid = p.ns_pid;
    t.ns_tid = p.ns_tid;
    t.uid = p.uid;
    t.euid = p.euid;
    t.pidns = p.pidns;
    t.mntns = p.mntns;
    t.cgroup_id = p.cgroup_id;
    t.start_ns = p.start_ns;
    t.ppid = p.ppid;
    strncpy(t.comm, p.comm.c_str(), sizeof(t.comm) - 1);
    return t;
}

} // namespace

Result<SeedStats> seed_kernel_cache(int pids_fd, int procs_fd,
                                    const std::vector<ProcSnapshot>& threads,
                                    const std::unordered_map<std::string, uint64_t>& cgroup_ids) {
    SeedStats stats;
    const uint32_t host_ns = host_pidns_inode();
    const uint32_t host_mnt = host_mntns_inode();
    std::vector<pg_pid_key> written;
    for (const auto& s : threads) {
        if (s.nspids.empty())
            continue;
        pg_pid_value v{s.tid, s.tgid, static_cast<uint32_t>(s.nspids.back()), 0};
        // NSpid lists the number in every level, but /proc only names the
        // outermost (ours) and innermost namespaces; middle levels are rare.
        pg_pid_key keys[2] = {{host_ns, s.nspids.front()}, {s.pidns, s.nspids.back()}};
        size_t nkeys = s.nspids.size() > 1 && s.pidns != host_ns ? 2 : 1;
        for (size_t i = 0; i < nkeys; ++i) {
            if (bpf_map_update_elem(pids_fd, &keys[i], &v, BPF_NOEXIST) == 0)
                written.push_back(keys[i]);
            else if (errno != EEXIST)
                return make_error(std::string("cannot seed process cache: ") + strerror(errno));
        }
        ++stats.threads;
        if (s.tid != s.tgid)
            continue;
        auto cgroup = cgroup_ids.find(s.cgroup_path);
        pg_task t = task_of(party_of(s, cgroup != cgroup_ids.end() ? cgroup->second : 0));
        // As the exec hook would have armed it (bpf/posture.bpf.h): a
        // process outside the host's namespaces runs a container's code.
        if (s.pidns != host_ns || s.mntns != host_mnt)
            t.flags = PG_TASK_ARMED;
        if (bpf_map_update_elem(procs_fd, &t.pid, &t, BPF_NOEXIST) != 0 && errno != EEXIST)
            return make_error(std::string("cannot seed process cache: ") + strerror(errno));
        ++stats.processes;
    }
    // A task that exited between the scan and the insert left an entry
    // the exit hook could not remove.
    for (const auto& s : threads) {
        if (alive(s.tgid, s.tid))
            continue;
        pg_pid_value v;
        for (const auto& k : written)
            if (bpf_map_lookup_elem(pids_fd, &k, &v) == 0 && v.tid == s.tid) {
                bpf_map_delete_elem(pids_fd, &k);
                ++stats.stale_removed;
            }
        if (s.tid == s.tgid)
            bpf_map_delete_elem(procs_fd, &s.tgid);
    }
    return stats;
}

} // namespace podguard

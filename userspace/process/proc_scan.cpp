#include "process/proc_scan.h"

#include <charconv>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace podguard {

namespace {

bool parse_u32(std::string_view s, uint32_t& out) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

std::vector<uint32_t> numeric_entries(const std::string& dir) {
    std::vector<uint32_t> out;
    DIR* d = opendir(dir.c_str());
    if (!d)
        return out;
    while (struct dirent* e = readdir(d)) {
        uint32_t n;
        if (parse_u32(e->d_name, n))
            out.push_back(n);
    }
    closedir(d);
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

uint32_t namespace_inode(const std::string& ns_link_path) {
    struct stat st;
    if (stat(ns_link_path.c_str(), &st) != 0)
        return 0;
    return static_cast<uint32_t>(st.st_ino);
}

uint32_t host_pidns_inode() {
    static const uint32_t ino = namespace_inode("/proc/self/ns/pid");
    return ino;
}

uint32_t host_mntns_inode() {
    static const uint32_t ino = [] {
        uint32_t init = namespace_inode("/proc/1/ns/mnt");
        return init ? init : namespace_inode("/proc/self/ns/mnt");
    }();
    return ino;
}

Result<ProcSnapshot> snapshot_task(uint32_t tgid, uint32_t tid) {
    ProcSnapshot s;
    s.tgid = tgid;
    s.tid = tid;
    const std::string base = "/proc/" + std::to_string(tgid);
    const std::string task = base + "/task/" + std::to_string(tid);
    std::ifstream status(task + "/status");
    if (!status)
        return make_error("process " + std::to_string(tid) + " is gone");
    std::string line;
    while (std::getline(status, line)) {
        std::istringstream ls(line);
        std::string key;
        ls >> key;
        if (key == "Name:") {
            s.comm = line.substr(line.find(':') + 1);
            s.comm.erase(0, s.comm.find_first_not_of(" \t"));
        } else if (key == "PPid:") {
            ls >> s.ppid;
        } else if (key == "Uid:") {
            ls >> s.uid >> s.euid;
        } else if (key == "NSpid:") {
            uint32_t n;
            while (ls >> n)
                s.nspids.push_back(n);
        }
    }
    s.pidns = namespace_inode(task + "/ns/pid");
    s.mntns = namespace_inode(task + "/ns/mnt");
    // Field 22 of stat, after the parenthesised comm that may hold spaces.
    std::string stat = read_file(task + "/stat");
    if (auto close = stat.rfind(')'); close != std::string::npos) {
        std::istringstream fs(stat.substr(close + 2));
        std::string field;
        for (int i = 3; i <= 22 && fs >> field; ++i)
            if (i == 22)
                s.start_ns = std::stoull(field) * (1000000000ull / sysconf(_SC_CLK_TCK));
    }
    char exe[4096];
    ssize_t n = readlink((base + "/exe").c_str(), exe, sizeof(exe) - 1);
    if (n > 0)
        s.exe.assign(exe, n);
    s.args = read_file(base + "/cmdline");
    while (!s.args.empty() && s.args.back() == '\0')
        s.args.pop_back();
    for (auto& c : s.args)
        if (c == '\0')
            c = ' ';
    std::ifstream cg(base + "/cgroup");
    while (std::getline(cg, line))
        if (line.rfind("0::", 0) == 0)
            s.cgroup_path = line.substr(3);
    return s;
}

std::vector<ProcSnapshot> scan_processes(bool with_threads) {
    std::vector<ProcSnapshot> out;
    for (uint32_t tgid : numeric_entries("/proc")) {
        std::vector<uint32_t> tids =
            with_threads ? numeric_entries("/proc/" + std::to_string(tgid) + "/task")
                         : std::vector<uint32_t>{tgid};
        for (uint32_t tid : tids)
            if (auto s = snapshot_task(tgid, tid); s)
                out.push_back(std::move(*s));
    }
    return out;
}

Party party_of(const ProcSnapshot& s, uint64_t cgroup_id) {
    Party p;
    p.known = true;
    p.pid = s.tgid;
    p.tid = s.tid;
    p.ns_pid = p.ns_tid = s.nspids.empty() ? s.tid : s.nspids.back();
    p.uid = s.uid;
    p.euid = s.euid;
    p.pidns = s.pidns;
    p.mntns = s.mntns;
    p.cgroup_id = cgroup_id;
    p.start_ns = s.start_ns;
    p.ppid = s.ppid;
    p.comm = s.comm;
    p.exe = s.exe;
    return p;
}

} // namespace podguard

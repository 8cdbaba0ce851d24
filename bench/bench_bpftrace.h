// bpftrace doing a job comparable to the agent's on the same syscalls, as a
// reference for the benchmarks: at entry it reads the first bytes of a path
// (and keeps /proc ones) or the target of a signal or ptrace (and keeps
// those aimed at another process), in a per-thread map; at exit it prints
// what it kept with the result; identity syscalls update a per-process map.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "loader/syscall_hooks.h"

namespace podguard::bench {

// The fields of a syscall tracepoint after __syscall_nr, as "type name".
inline std::vector<std::pair<std::string, std::string>> tracepoint_fields(const std::string& tp) {
    std::vector<std::pair<std::string, std::string>> out;
    std::ifstream in("/sys/kernel/tracing/events/syscalls/" + tp + "/format");
    bool past_nr = false;
    for (std::string line; std::getline(in, line);) {
        auto f = line.find("field:"), semi = line.find(';');
        if (f == std::string::npos || semi == std::string::npos)
            continue;
        std::string decl = line.substr(f + 6, semi - f - 6);
        auto sp = decl.find_last_of(" *");
        std::string type = decl.substr(0, sp + 1), name = decl.substr(sp + 1);
        if (past_nr)
            out.emplace_back(type, name);
        past_nr = past_nr || name == "__syscall_nr";
    }
    return out;
}

inline std::string join(const std::vector<std::string>& v, const std::string& sep) {
    std::string out;
    for (const auto& e : v)
        out += (out.empty() ? "" : sep) + e;
    return out;
}

inline std::string bpftrace_script(const std::vector<SyscallTracepoint>& tps) {
    std::ostringstream s;
    std::vector<std::string> exits, ids;
    s << "BEGIN { printf(\"ready\\n\"); }\n";
    for (const auto& tp : tps) {
        if (!tp.enter) {
            // An exit without an entry: an identity syscall.
            std::string entry = "sys_enter_" + tp.name.substr(9);
            bool has_enter = false;
            for (const auto& o : tps)
                has_enter = has_enter || o.name == entry;
            (has_enter ? exits : ids).push_back("tracepoint:syscalls:" + tp.name);
            continue;
        }
        auto fields = tracepoint_fields(tp.name);
        std::string path, target;
        for (const auto& [type, name] : fields) {
            // mount's dev_name is a plain "char *" in its tracepoint.
            if (path.empty() && type.find("char *") != std::string::npos)
                path = name;
            if (name == "pid")
                target = name;
        }
        if (target.empty() && !fields.empty())
            target = fields[0].second;
        s << "tracepoint:syscalls:" << tp.name << " { ";
        if (!path.empty())
            s << "if (strncmp(str(args->" << path
              << ", 8), \"/proc\", 5) == 0) { @inflight[tid] = 1; }";
        else
            s << "if (args->" << target << " != (int64)pid) { @inflight[tid] = args->" << target
              << "; }";
        s << " }\n";
    }
    if (!exits.empty())
        s << join(exits, ",\n")
          << " { if (@inflight[tid]) { printf(\"%s %d %d %d\\n\", probe, pid, @inflight[tid], "
             "args->ret); delete(@inflight[tid]); } }\n";
    if (!ids.empty())
        s << join(ids, ",\n") << " { if (args->ret == 0) { @ids[pid] = uid; } }\n";
    return s.str();
}

struct Bpftrace {
    pid_t pid = -1;
    std::string out_path;
};

// Starts bpftrace with the script and waits until its probes are attached
// (BEGIN has printed); exits the benchmark if it does not get there.
inline Bpftrace start_bpftrace(const std::string& script) {
    Bpftrace b;
    const std::string script_path = "/tmp/podguard-bench-bpftrace.bt";
    b.out_path = "/tmp/podguard-bench-bpftrace.out";
    std::ofstream(script_path) << script;
    unlink(b.out_path.c_str());
    b.pid = fork();
    if (b.pid == 0) {
        // Never outlive the benchmark (it runs under the kernel lock, whose
        // descriptor a leftover would keep).
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        freopen("/tmp/podguard-bench-bpftrace.err", "w", stderr);
        // Its output goes to a file, flushed by line: "-o" holds it in a
        // buffer until exit, where the readiness line would never be seen.
        freopen(b.out_path.c_str(), "w", stdout);
        execlp("bpftrace", "bpftrace", "-B", "line", script_path.c_str(), nullptr);
        _exit(127);
    }
    for (int i = 0; i < 6000; ++i) {  // 5 minutes: it compiles 50-odd probes with LLVM
        std::ifstream in(b.out_path); // "Attaching N probes...", then BEGIN's line
        for (std::string line; std::getline(in, line);)
            if (line == "ready")
                return b;
        int status;
        if (waitpid(b.pid, &status, WNOHANG) == b.pid)
            break;
        usleep(50000);
    }
    kill(b.pid, SIGKILL);
    std::fprintf(stderr, "bpftrace did not attach, see /tmp/podguard-bench-bpftrace.err\n");
    std::exit(1);
}

inline void stop_bpftrace(Bpftrace& b) {
    kill(b.pid, SIGINT);
    int status;
    waitpid(b.pid, &status, 0);
}

} // namespace podguard::bench

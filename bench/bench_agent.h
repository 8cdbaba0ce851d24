// The agent as the benchmarks run it: `podguard run` writing events to
// /dev/null, no store, no metadata, plus whatever a benchmark adds.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace podguard::bench {

struct Agent {
    pid_t pid = -1;
    std::string err_path; // its stderr: the log, ending with the delivery summary
};

// Starts the agent and waits until it is attached; exits the benchmark if it
// does not get there (a figure without the agent would be a lie).
inline Agent start_agent(const std::string& tag, const std::vector<std::string>& extra,
                         const std::string& binary = PODGUARD_BINARY) {
    Agent a;
    a.err_path = "/tmp/podguard-bench-" + tag + ".err";
    const std::string ready = "/tmp/podguard-bench-" + tag + ".ready";
    unlink(ready.c_str());
    a.pid = fork();
    if (a.pid == 0) {
        int fd = open(a.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        // A benchmark that names an events file or a store replaces the default.
        auto names = [&](const std::string& flag) {
            for (const auto& e : extra)
                if (e == flag || e.rfind(flag + "=", 0) == 0)
                    return true;
            return false;
        };
        // PODGUARD_BENCH_AGENT: another build of the agent in place of this
        // one (an earlier version, for a before/after figure); a benchmark
        // that names its own second binary keeps it.
        const char* other = std::getenv("PODGUARD_BENCH_AGENT");
        const std::string bin =
            binary == PODGUARD_BINARY && other && *other ? std::string(other) : binary;
        std::vector<std::string> args = {bin, "run", "--ready-file", ready, "--no-metadata"};
        if (!names("--events"))
            args.insert(args.end(), {"--events", "/dev/null"});
        if (!names("--store"))
            args.push_back("--no-store");
        args.insert(args.end(), extra.begin(), extra.end());
        std::vector<char*> argv;
        for (auto& s : args)
            argv.push_back(s.data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    for (int i = 0; i < 300 && access(ready.c_str(), F_OK) != 0; ++i)
        usleep(100000);
    if (access(ready.c_str(), F_OK) != 0) {
        std::fprintf(stderr, "agent did not become ready, see %s\n", a.err_path.c_str());
        std::exit(1);
    }
    return a;
}

// Stops the agent (SIGTERM) and returns its log.
inline std::string stop_agent(Agent& a) {
    kill(a.pid, SIGTERM);
    int status;
    waitpid(a.pid, &status, 0);
    std::ifstream in(a.err_path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace podguard::bench

#include "support/agent.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

extern char** environ;

namespace podguard::test {

namespace {

std::string errno_text(int err) {
    return std::to_string(err) + " (" + std::strerror(err) + ")";
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string tail(const std::string& text, size_t max_chars = 4000) {
    if (text.size() <= max_chars)
        return text;
    return "[...]" + text.substr(text.size() - max_chars);
}

// The test's environment with `overrides` ("KEY=value") applied.
std::vector<std::string> merged_env(const std::vector<std::string>& overrides) {
    std::map<std::string, std::string> vars;
    std::vector<std::string> order;
    auto put = [&](const std::string& kv) {
        auto key = kv.substr(0, kv.find('='));
        if (!vars.count(key))
            order.push_back(key);
        vars[key] = kv;
    };
    for (char** e = environ; *e; ++e)
        put(*e);
    for (const auto& kv : overrides)
        put(kv);
    std::vector<std::string> out;
    for (const auto& key : order)
        out.push_back(vars[key]);
    return out;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
    std::vector<char*> out;
    for (auto& s : v)
        out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

} // namespace

std::string CommandResult::describe() const {
    std::string s = timed_out ? "timed out (killed)" : status.describe();
    s += "\n--- stdout ---\n" + tail(out) + "\n--- stderr ---\n" + tail(err);
    return s;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::vector<std::string>& env) {
    if (argv.empty())
        throw FixtureError("run_command: empty argv");
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0)
        throw FixtureError("pipe2: " + errno_text(errno));
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        throw FixtureError("pipe2: " + errno_text(errno));
    }
    // Prepared before fork: the child only calls async-signal-safe functions.
    auto args = argv;
    auto envs = merged_env(env);
    auto c_args = c_strings(args);
    auto c_envs = c_strings(envs);
    Proc proc;
    try {
        proc = spawn_process(SpawnSpec{}, [&]() -> int {
            ::setpgid(0, 0); // so a timeout kills helpers too
            int null_fd = ::open("/dev/null", O_RDONLY);
            ::dup2(null_fd, 0);
            ::dup2(out_pipe[1], 1);
            ::dup2(err_pipe[1], 2);
            ::execvpe(c_args[0], c_args.data(), c_envs.data());
            std::string msg = std::string("exec ") + c_args[0] + ": " + std::strerror(errno) + "\n";
            (void)!::write(2, msg.data(), msg.size());
            return 127;
        });
    } catch (...) {
        for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
            ::close(fd);
        throw;
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);

    CommandResult result;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::optional<std::chrono::steady_clock::time_point> exited_at;
    bool out_open = true, err_open = true;
    while (out_open || err_open) {
        auto now = std::chrono::steady_clock::now();
        if (!exited_at && !proc.running())
            exited_at = now;
        // Daemons the command left behind (conmon...) may hold the pipes
        // forever: stop reading shortly after the command itself is gone.
        if (exited_at && now - *exited_at > 200ms)
            break;
        if (!exited_at && now > deadline) {
            ::kill(-proc.pid(), SIGKILL);
            proc.kill_and_reap();
            result.timed_out = true;
            break;
        }
        pollfd fds[2] = {{out_open ? out_pipe[0] : -1, POLLIN, 0},
                         {err_open ? err_pipe[0] : -1, POLLIN, 0}};
        int pr = ::poll(fds, 2, 20);
        if (pr <= 0)
            continue;
        for (int i = 0; i < 2; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[65536];
            ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0)
                (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
            else if (n == 0 || errno != EINTR)
                (i == 0 ? out_open : err_open) = false;
        }
    }
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    if (!result.timed_out) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        auto status = proc.wait(std::max(left, std::chrono::milliseconds(100)));
        if (!status) {
            ::kill(-proc.pid(), SIGKILL);
            result.timed_out = true;
            result.status = proc.kill_and_reap();
        } else {
            result.status = *status;
        }
    } else {
        result.status = proc.kill_and_reap();
    }
    return result;
}

std::string podguard_binary() {
#ifdef PODGUARD_BINARY
    return PODGUARD_BINARY;
#else
    return "";
#endif
}

// --- AgentProcess ---------------------------------------------------------------

AgentProcess::AgentProcess(std::vector<std::string> extra_args) {
    AgentOptions options;
    options.extra_args = std::move(extra_args);
    start(std::move(options));
}

AgentProcess::AgentProcess(AgentOptions options) {
    start(std::move(options));
}

AgentProcess::~AgentProcess() {
    if (proc_.valid())
        stop(5s);
}

void AgentProcess::start(AgentOptions options) {
    events_path_ = dir_.file("events.jsonl");
    ready_path_ = dir_.file("ready");
    stdout_path_ = dir_.file("agent.out");
    stderr_path_ = dir_.file("agent.err");
    if (options.binary.empty())
        options.binary = podguard_binary();
    if (options.binary.empty() || ::access(options.binary.c_str(), X_OK) != 0)
        throw FixtureError("podguard binary '" + options.binary + "' is not executable");

    std::vector<std::string> argv = {options.binary, "run",          "--events",
                                     events_path_,   "--ready-file", ready_path_};
    // Tests never take the fixed default metrics port: agents of parallel
    // runs or benchmarks would collide on it.
    bool has_metrics = false;
    for (const auto& a : options.extra_args)
        has_metrics = has_metrics || a.rfind("--metrics-address", 0) == 0;
    if (!has_metrics)
        argv.push_back("--metrics-address=127.0.0.1:0");
    // Each test agent keeps its own event store, not the machine's.
    bool has_store = false;
    for (const auto& a : options.extra_args)
        has_store = has_store || a.rfind("--store", 0) == 0 || a == "--no-store";
    if (!has_store)
        argv.push_back("--store=" + dir_.file("events.db"));
    argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
    auto envs = merged_env(options.env);
    auto c_args = c_strings(argv);
    auto c_envs = c_strings(envs);
    std::string out_path = stdout_path_, err_path = stderr_path_;

    auto started = std::chrono::steady_clock::now();
    proc_ = spawn_process(SpawnSpec{}, [&]() -> int {
        int null_fd = ::open("/dev/null", O_RDONLY);
        int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (null_fd < 0 || out < 0 || err < 0)
            return 126;
        ::dup2(null_fd, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        ::execve(c_args[0], c_args.data(), c_envs.data());
        return 127;
    });

    std::string command;
    for (const auto& a : argv)
        command += (command.empty() ? "" : " ") + a;
    auto deadline = started + options.ready_timeout;
    for (;;) {
        if (::access(ready_path_.c_str(), F_OK) == 0)
            break;
        if (auto status = proc_.wait(0ms))
            throw FixtureError("agent exited before it was ready (" + status->describe() +
                               ")\ncommand: " + command + "\nstderr:\n" + tail(stderr_text()));
        if (std::chrono::steady_clock::now() > deadline) {
            proc_.kill_and_reap();
            throw FixtureError(
                "agent not ready within " + std::to_string(options.ready_timeout.count()) +
                " ms (killed)\ncommand: " + command + "\nstderr:\n" + tail(stderr_text()));
        }
        std::this_thread::sleep_for(10ms);
    }
    startup_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
}

std::string AgentProcess::stdout_text() const {
    return slurp(stdout_path_);
}
std::string AgentProcess::stderr_text() const {
    return slurp(stderr_path_);
}

const std::vector<nlohmann::json>& AgentProcess::events() {
    std::ifstream in(events_path_, std::ios::binary);
    if (!in)
        return events_;
    in.seekg(static_cast<std::streamoff>(consumed_));
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t start = 0;
    for (size_t nl; (nl = chunk.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string line = chunk.substr(start, nl - start);
        consumed_ += nl + 1 - start;
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        try {
            events_.push_back(nlohmann::json::parse(line));
        } catch (const nlohmann::json::exception& e) {
            throw FixtureError("events file " + events_path_ + " has a line that is not JSON (" +
                               e.what() + "): " + line);
        }
    }
    return events_;
}

std::optional<nlohmann::json> AgentProcess::poll_for(const EventPredicate& pred,
                                                     std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t checked = 0;
    for (;;) {
        const auto& all = events();
        for (; checked < all.size(); ++checked)
            if (pred(all[checked]))
                return all[checked];
        if (std::chrono::steady_clock::now() >= deadline)
            return std::nullopt;
        std::this_thread::sleep_for(10ms);
    }
}

nlohmann::json AgentProcess::wait_for(const EventPredicate& pred, std::chrono::milliseconds timeout,
                                      const std::string& what) {
    if (auto ev = poll_for(pred, timeout))
        return *ev;
    throw FixtureError("no event " + (what.empty() ? std::string("matching the predicate") : what) +
                       " within " + std::to_string(timeout.count()) + " ms\n" + diagnostics());
}

std::string AgentProcess::diagnostics(size_t last_events) {
    std::string s;
    std::vector<nlohmann::json> all;
    try {
        all = events();
    } catch (const FixtureError& e) {
        s += std::string(e.what()) + "\n";
        all = events_;
    }
    size_t from = all.size() > last_events ? all.size() - last_events : 0;
    s += "events seen: " + std::to_string(all.size()) + ", last " +
         std::to_string(all.size() - from) + ":\n";
    for (size_t i = from; i < all.size(); ++i)
        s += "  " + all[i].dump() + "\n";
    s += proc_.running() ? "agent running (pid " + std::to_string(proc_.pid()) + ")\n"
                         : "agent NOT running\n";
    s += "agent stderr:\n" + tail(stderr_text());
    return s;
}

ExitStatus AgentProcess::stop(std::chrono::milliseconds timeout) {
    if (auto done = proc_.wait(0ms))
        return *done;
    proc_.signal(SIGTERM);
    if (auto status = proc_.wait(timeout))
        return *status;
    return proc_.kill_and_reap();
}

} // namespace podguard::test

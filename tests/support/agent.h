// The podguard binary as a subprocess, the way an operator runs it, and a
// generic command runner for CLI tests.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/sandbox.h"

namespace podguard::test {

struct CommandResult {
    ExitStatus status;
    std::string out;
    std::string err;
    bool timed_out = false;
    bool success() const { return !timed_out && status.success(); }
    std::string describe() const; // status, stdout and stderr for failure messages
};

// Runs argv (argv[0] is looked up in PATH unless it holds a '/'), stdin from
// /dev/null, collecting stdout and stderr. `env` entries ("KEY=value") are
// added to / override the test's environment. On timeout the command's
// process group is SIGKILLed and timed_out is set. Throws FixtureError only
// when the command cannot be started at all.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = 30s,
                          const std::vector<std::string>& env = {});

// The path of the built podguard binary (PODGUARD_BINARY).
std::string podguard_binary();

struct AgentOptions {
    std::string binary;                  // empty: podguard_binary()
    std::vector<std::string> extra_args; // after `run --events F --ready-file R`
    std::vector<std::string> env;        // "KEY=value"
    std::chrono::milliseconds ready_timeout = 30s;
};

using EventPredicate = std::function<bool(const nlohmann::json&)>;

// `<binary> run --events <tmp>/events.jsonl --ready-file <tmp>/ready [extra]`,
// started by the constructor, which returns once the ready file exists (the
// agent creates it when its programs are attached) and throws FixtureError
// with the agent's stderr if it exits or times out first. Stopped (SIGTERM,
// then SIGKILL) by the destructor at the latest.
class AgentProcess {
  public:
    explicit AgentProcess(std::vector<std::string> extra_args = {});
    explicit AgentProcess(AgentOptions options);
    ~AgentProcess();
    AgentProcess(const AgentProcess&) = delete;
    AgentProcess& operator=(const AgentProcess&) = delete;

    pid_t pid() const { return proc_.pid(); }
    bool running() const { return proc_.running(); }
    const std::string& events_path() const { return events_path_; }
    const std::string& ready_path() const { return ready_path_; }
    std::string stdout_text() const;
    std::string stderr_text() const;
    std::chrono::milliseconds startup_time() const { return startup_time_; }

    // Every complete JSON line written so far (a trailing partial line waits
    // for its newline). Throws FixtureError on a line that is not JSON.
    const std::vector<nlohmann::json>& events();
    // First event (from the start) matching pred; throws FixtureError after
    // `timeout` with `what`, the last events seen and, if the agent died, its
    // stderr.
    nlohmann::json wait_for(const EventPredicate& pred, std::chrono::milliseconds timeout = 10s,
                            const std::string& what = "");
    // Same without failing: nullopt after timeout (for "no such event" checks).
    std::optional<nlohmann::json> poll_for(const EventPredicate& pred,
                                           std::chrono::milliseconds timeout);
    // SIGTERM, wait up to `timeout`, then SIGKILL; returns the exit status
    // (the same status on later calls).
    ExitStatus stop(std::chrono::milliseconds timeout = 10s);

    // "last N events: ...\nstderr: ..." for failure messages.
    std::string diagnostics(size_t last_events = 10);

  private:
    void start(AgentOptions options);

    TempDir dir_;
    std::string events_path_;
    std::string ready_path_;
    std::string stdout_path_;
    std::string stderr_path_;
    Proc proc_;
    std::chrono::milliseconds startup_time_{0};
    std::vector<nlohmann::json> events_;
    size_t consumed_ = 0; // bytes of the events file already parsed
};

} // namespace podguard::test

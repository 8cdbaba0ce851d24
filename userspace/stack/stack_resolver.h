// Stack ids of an event (bpf/stack.bpf.h) to symbolized frames: reads the
// call chains from the pg_stacks map and names each address. Runs on the
// pipeline thread; never throws: what cannot be read is said in the
// event's stack errors, and the event goes on.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "events/event.h"
#include "stack/symbolizer.h"

namespace podguard {

// The addresses of one call chain, innermost first.
Result<std::vector<uint64_t>> read_stack(int stacks_fd, int32_t stack_id);
// Why bpf_get_stackid gave no id (its negative errno), for people.
std::string stack_id_error(int32_t stack_id);

struct StackStats {
    uint64_t resolved = 0;     // events given stacks
    uint64_t stack_errors = 0; // stacks missing (id errors, unreadable ids)
};

class StackResolver {
  public:
    explicit StackResolver(int stacks_fd, size_t max_processes = 64);

    // pid and start_ns: the source process, whose user addresses these are.
    EventStacks resolve(uint32_t pid, uint64_t start_ns, int32_t user_id,
                        int32_t kernel_id) noexcept;
    // Exec or exit of pid: its symbols change.
    void forget(uint32_t pid) noexcept;
    const StackStats& stats() const { return stats_; }

  private:
    // The chain of an id, read once: identical stacks share an id, and the
    // map never reuses one (stack.bpf.h).
    const std::vector<uint64_t>* chain(int32_t id, std::string& error);

    int fd_;
    Symbolizer symbols_;
    std::unordered_map<int32_t, std::vector<uint64_t>> chains_;
    std::unordered_map<uint64_t, StackFrame> kernel_frames_;
    // A process' user chains as symbolized, by stack id: a process that
    // keeps doing the same thing costs one lookup per event.
    struct UserChains {
        uint64_t start_ns = 0;
        std::unordered_map<int32_t, std::vector<StackFrame>> by_id;
        std::unordered_map<int32_t, std::string> errors; // walks cut short
    };
    std::unordered_map<uint32_t, UserChains> user_chains_;
    size_t user_chain_count_ = 0;
    StackStats stats_;
};

} // namespace podguard

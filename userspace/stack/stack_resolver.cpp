#include "stack/stack_resolver.h"

#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>

namespace podguard {

namespace {

constexpr size_t kStackDepth = 127; // PG_STACK_DEPTH (bpf/stack.bpf.h)
// Bounds on what the caches hold before they start over.
constexpr size_t kMaxChains = 16384;
constexpr size_t kMaxKernelFrames = 65536;
constexpr size_t kMaxUserChains = 16384;
// x86-64 and arm64 user space ends below 2^47 (4-level page tables) or
// 2^56 (5-level); anything above the canonical user half is not code.
constexpr uint64_t kUserSpaceEnd = (1ull << 56) - 1;

bool is_tracing_frame(const std::string& symbol) {
    return symbol.starts_with("bpf_prog_") || symbol.starts_with("bpf_trace_run") ||
           symbol.starts_with("__bpf_trace_") || symbol.starts_with("__traceiter_");
}

} // namespace

Result<std::vector<uint64_t>> read_stack(int stacks_fd, int32_t stack_id) {
    if (stack_id < 0)
        return make_error(stack_id_error(stack_id));
    uint64_t ips[kStackDepth] = {};
    uint32_t key = static_cast<uint32_t>(stack_id);
    if (bpf_map_lookup_elem(stacks_fd, &key, ips) != 0)
        return make_error(std::string("stack ") + std::to_string(stack_id) +
                          " cannot be read: " + strerror(errno));
    std::vector<uint64_t> out;
    for (uint64_t ip : ips) {
        if (!ip)
            break;
        out.push_back(ip);
    }
    return out;
}

std::string stack_id_error(int32_t id) {
    switch (-id) {
    case EEXIST:
        return "another stack took its slot in the stack map (too many distinct stacks)";
    case EFAULT:
        return "no stack to walk (no user space, or its memory could not be read)";
    case ENOMEM:
        return "the stack map is full";
    default:
        return "bpf_get_stackid failed: " + std::string(strerror(-id));
    }
}

StackResolver::StackResolver(int stacks_fd, size_t max_processes)
    : fd_(stacks_fd), symbols_(max_processes) {}

const std::vector<uint64_t>* StackResolver::chain(int32_t id, std::string& error) {
    if (auto it = chains_.find(id); it != chains_.end())
        return &it->second;
    auto read = read_stack(fd_, id);
    if (!read.ok()) {
        error = read.error().message;
        return nullptr;
    }
    if (chains_.size() >= kMaxChains)
        chains_.clear();
    return &chains_.emplace(id, std::move(*read)).first->second;
}

void StackResolver::forget(uint32_t pid) noexcept {
    symbols_.forget(pid);
    if (auto it = user_chains_.find(pid); it != user_chains_.end()) {
        user_chain_count_ -= it->second.by_id.size();
        user_chains_.erase(it);
    }
}

EventStacks StackResolver::resolve(uint32_t pid, uint64_t start_ns, int32_t user_id,
                                   int32_t kernel_id) noexcept {
    EventStacks out;
    try {
        if (auto* ips = chain(kernel_id, out.kernel_error)) {
            for (uint64_t ip : *ips) {
                auto it = kernel_frames_.find(ip);
                if (it == kernel_frames_.end()) {
                    if (kernel_frames_.size() >= kMaxKernelFrames)
                        kernel_frames_.clear();
                    it = kernel_frames_.emplace(ip, symbols_.kernel_frame(ip)).first;
                }
                // The hook's own frames (the BPF program, the tracepoint
                // glue) say nothing about the source.
                if (out.kernel.empty() && is_tracing_frame(it->second.symbol))
                    continue;
                out.kernel.push_back(it->second);
            }
        }
        UserChains& chains = user_chains_[pid];
        if (chains.start_ns != start_ns) { // a new process under a reused pid
            user_chain_count_ -= chains.by_id.size();
            chains = UserChains{start_ns, {}, {}};
        }
        if (auto cached = chains.by_id.find(user_id); cached != chains.by_id.end()) {
            out.user = cached->second;
            if (auto e = chains.errors.find(user_id); e != chains.errors.end())
                out.user_error = e->second;
        } else if (auto* ips = chain(user_id, out.user_error)) {
            for (uint64_t ip : *ips) {
                // The kernel walks frame pointers: code built without them
                // (most of libc) sends the walk into data. No user return
                // address lies above the user address space.
                if (ip > kUserSpaceEnd) {
                    out.user_error = "the walk stopped at a function without a frame pointer";
                    break;
                }
                out.user.push_back(symbols_.user_frame(pid, start_ns, ip));
            }
            if (user_chain_count_ >= kMaxUserChains) {
                user_chains_.clear();
                user_chain_count_ = 0;
            }
            UserChains& c = user_chains_[pid];
            c.start_ns = start_ns;
            c.by_id.emplace(user_id, out.user);
            if (!out.user_error.empty())
                c.errors.emplace(user_id, out.user_error);
            ++user_chain_count_;
        }
    } catch (...) {
        // Out of memory, most likely: what was resolved so far stays.
        if (out.user_error.empty())
            out.user_error = "stack resolution failed";
    }
    ++stats_.resolved;
    if (!out.user_error.empty() || !out.kernel_error.empty())
        ++stats_.stack_errors;
    return out;
}

} // namespace podguard

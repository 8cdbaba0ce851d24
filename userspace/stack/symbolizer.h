// Addresses to symbols through BCC's symbolization (bcc_syms.h): kernel
// addresses from /proc/kallsyms, user addresses from the ELF files a
// process maps (read through /proc/<pid>/root, so container binaries
// resolve too). One cache per process, kept until the process execs or
// exits. BCC stays behind this interface: its headers clash with libbpf's.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>

#include "events/event.h"

namespace podguard {

class Symbolizer {
  public:
    // At most max_processes process caches are kept (least recently used
    // go first): each holds the symbol tables of every module it resolved.
    explicit Symbolizer(size_t max_processes = 64);
    ~Symbolizer();
    Symbolizer(const Symbolizer&) = delete;
    Symbolizer& operator=(const Symbolizer&) = delete;

    // Never fail: what cannot be named keeps its address (and its module
    // and the offset in it when the address lies in a mapped file).
    StackFrame kernel_frame(uint64_t address) noexcept;
    // start_ns tells a reused pid from the process the cache was made for.
    StackFrame user_frame(uint32_t pid, uint64_t start_ns, uint64_t address) noexcept;
    // The process exec'd or exited: its mappings are no longer the cached ones.
    void forget(uint32_t pid) noexcept;

    size_t cached_processes() const { return processes_.size(); }

  private:
    struct Process {
        void* cache = nullptr; // bcc_symcache_new(pid)
        uint64_t start_ns = 0;
        std::list<uint32_t>::iterator lru;
    };
    void* process_cache(uint32_t pid, uint64_t start_ns);
    void drop(uint32_t pid);

    size_t max_processes_;
    void* kernel_ = nullptr; // bcc_symcache_new(-1)
    std::unordered_map<uint32_t, Process> processes_;
    std::list<uint32_t> lru_; // most recently used first
};

} // namespace podguard

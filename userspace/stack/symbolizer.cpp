#include "stack/symbolizer.h"

// bcc's headers stay in this file: they bring their own linux/bpf.h.
extern "C" {
#include <bcc/bcc_syms.h>
}

#include "stack/bcc_symbols.h"

namespace podguard {

namespace {

StackFrame frame_from(uint64_t address, void* cache) {
    StackFrame f;
    f.address = address;
    const BccSymbols* bcc = bcc_symbols();
    if (!cache || !bcc)
        return f;
    bcc_symbol sym{};
    if (bcc->symcache_resolve(cache, address, &sym) == 0) {
        const char* name = sym.demangle_name ? sym.demangle_name : sym.name;
        if (name)
            f.symbol = name;
        if (sym.module)
            f.module = sym.module;
        f.offset = sym.offset;
        bcc->symbol_free_demangle_name(&sym);
    } else if (sym.module) {
        // Inside a mapped file without a symbol for it: module + offset.
        f.module = sym.module;
        f.offset = sym.offset;
    }
    return f;
}

} // namespace

Symbolizer::Symbolizer(size_t max_processes) : max_processes_(max_processes ? max_processes : 1) {}

// Every cache was made by a loaded libbcc: bcc_symbols() is then non-null.
Symbolizer::~Symbolizer() {
    for (auto& [pid, p] : processes_)
        bcc_symbols()->free_symcache(p.cache, int(pid));
    if (kernel_)
        bcc_symbols()->free_symcache(kernel_, -1);
}

StackFrame Symbolizer::kernel_frame(uint64_t address) noexcept {
    try {
        if (!kernel_ && bcc_symbols())
            kernel_ = bcc_symbols()->symcache_new(-1, nullptr);
        StackFrame f = frame_from(address, kernel_);
        if (f.module.empty() && !f.symbol.empty())
            f.module = "kernel";
        return f;
    } catch (...) {
        StackFrame f;
        f.address = address;
        return f;
    }
}

void* Symbolizer::process_cache(uint32_t pid, uint64_t start_ns) {
    auto it = processes_.find(pid);
    if (it != processes_.end() && it->second.start_ns != start_ns) {
        drop(pid); // the pid was reused
        it = processes_.end();
    }
    if (it != processes_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        return it->second.cache;
    }
    while (processes_.size() >= max_processes_ && !lru_.empty())
        drop(lru_.back());
    // A process that is gone yields an empty cache: addresses stay raw.
    if (!bcc_symbols())
        return nullptr;
    void* cache = bcc_symbols()->symcache_new(int(pid), nullptr);
    if (!cache)
        return nullptr;
    lru_.push_front(pid);
    processes_.emplace(pid, Process{cache, start_ns, lru_.begin()});
    return cache;
}

StackFrame Symbolizer::user_frame(uint32_t pid, uint64_t start_ns, uint64_t address) noexcept {
    try {
        return frame_from(address, process_cache(pid, start_ns));
    } catch (...) {
        StackFrame f;
        f.address = address;
        return f;
    }
}

void Symbolizer::drop(uint32_t pid) {
    auto it = processes_.find(pid);
    if (it == processes_.end())
        return;
    bcc_symbols()->free_symcache(it->second.cache, int(pid));
    lru_.erase(it->second.lru);
    processes_.erase(it);
}

void Symbolizer::forget(uint32_t pid) noexcept {
    drop(pid);
}

} // namespace podguard

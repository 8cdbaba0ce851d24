// The four BCC functions the symbolizer uses, resolved at run time
// (stack/bcc_library.cpp). Included only where bcc's own headers are.
#pragma once

#include <cstdint>

struct bcc_symbol;
struct bcc_symbol_option;

namespace podguard {

struct BccSymbols {
    void* (*symcache_new)(int pid, struct bcc_symbol_option* option) = nullptr;
    void (*free_symcache)(void* symcache, int pid) = nullptr;
    int (*symcache_resolve)(void* symcache, uint64_t addr, struct bcc_symbol* sym) = nullptr;
    void (*symbol_free_demangle_name)(struct bcc_symbol* sym) = nullptr;
};

// Null when libbcc cannot be loaded.
const BccSymbols* bcc_symbols();

} // namespace podguard

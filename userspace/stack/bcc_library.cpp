#include "stack/bcc_library.h"

#include <dlfcn.h>
#include <mutex>

#include "stack/bcc_symbols.h"

namespace podguard {

namespace {

BccSymbols g_bcc;
std::string g_error;
std::once_flag g_once;

template <class F> bool resolve(void* lib, const char* name, F*& out) {
    out = reinterpret_cast<F*>(dlsym(lib, name));
    if (!out)
        g_error = std::string("libbcc lacks ") + name;
    return out != nullptr;
}

void open_bcc() {
    void* lib = dlopen("libbcc.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char* e = dlerror();
        g_error = std::string("cannot load libbcc (install libbpfcc for --stacks): ") +
                  (e ? e : "unknown error");
        return;
    }
    BccSymbols s;
    if (resolve(lib, "bcc_symcache_new", s.symcache_new) &&
        resolve(lib, "bcc_free_symcache", s.free_symcache) &&
        resolve(lib, "bcc_symcache_resolve", s.symcache_resolve) &&
        resolve(lib, "bcc_symbol_free_demangle_name", s.symbol_free_demangle_name))
        g_bcc = s;
}

} // namespace

const BccSymbols* bcc_symbols() {
    std::call_once(g_once, open_bcc);
    return g_bcc.symcache_new ? &g_bcc : nullptr;
}

bool bcc_available(std::string* why) {
    if (bcc_symbols())
        return true;
    if (why)
        *why = g_error;
    return false;
}

} // namespace podguard

// libbcc, opened with dlopen the first time --stacks needs it: linking it
// would map libbcc, libLLVM and libclang-cpp (~170 MB on disk, ~45 MB of
// resident memory) into every agent, stacks or not.
#pragma once

#include <string>

namespace podguard {

// Opens libbcc.so.0 once (thread-safe); false with why when it cannot.
bool bcc_available(std::string* why = nullptr);

} // namespace podguard

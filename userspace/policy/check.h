// `podguard policy check FILE...`: validate and compile, report like a compiler.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace podguard::policy {

// Prints every problem as `file:line:col: error: message` on `err`, or on
// success a summary (policies in precedence order, rule ids, fingerprint) on
// `out`. Returns 0 when the files are valid, 1 otherwise.
int policy_check_main(const std::vector<std::string>& paths, std::ostream& out, std::ostream& err);

} // namespace podguard::policy

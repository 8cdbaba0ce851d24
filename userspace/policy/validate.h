// The meaning of parsed documents: required fields, known words, unique
// names. Collects every error, never stops at the first.
#pragma once

#include <vector>

#include "policy/model.h"

namespace podguard::policy {

// Reserved for the built-in policy the compiler prepends.
inline constexpr const char* kSelfProtectionName = "podguard-self-protection";
inline constexpr int64_t kMaxPriority = 1000000;

// One document on its own.
std::vector<Diagnostic> validate(const PolicyDocument& doc);
// Every document, plus what only the whole set shows (duplicate policy names).
std::vector<Diagnostic> validate(const std::vector<PolicyDocument>& docs);

} // namespace podguard::policy

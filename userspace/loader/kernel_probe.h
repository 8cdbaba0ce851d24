// What this kernel offers podguard, found by trying rather than by reading
// config: /sys/kernel/security/lsm can list "bpf" while LSM programs are
// still refused at load (as on the machines this was written on).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace podguard {

enum class EnforcementMode { Lsm, SignalFallback, Monitor };
const char* to_string(EnforcementMode mode);

struct FeatureCheck {
    std::string name;
    bool ok = false;
    std::string detail;
};

struct KernelProbe {
    std::string kernel_release;
    std::vector<FeatureCheck> checks;
    EnforcementMode mode = EnforcementMode::Monitor;
    std::string mode_explanation;
    bool can_observe = false; // everything `podguard run` needs is there

    const FeatureCheck* find(const std::string& name) const;
};

// Mounts tracefs, securityfs and bpffs where they are missing.
Status ensure_kernel_filesystems();

KernelProbe probe_kernel();
std::string format_probe(const KernelProbe& probe);
std::string format_probe_json(const KernelProbe& probe);

} // namespace podguard

// Per-program run statistics the kernel keeps for every BPF program
// (struct bpf_prog_info run_cnt / run_time_ns). The kernel only counts while
// kernel.bpf_stats_enabled is 1 or some process holds a BPF_ENABLE_STATS fd,
// because the accounting costs two clock reads per program run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace podguard {

struct BpfProgramStats {
    std::string name;         // program name (metric label "program")
    uint64_t run_count = 0;   // monotonic since the program was loaded
    uint64_t run_time_ns = 0; // monotonic since the program was loaded
};

struct BpfProgramRef {
    std::string name; // empty: the kernel's (15-character) name of the program
    int fd = -1;
};

// Turns run-time accounting on for as long as the returned fd stays open
// (close it to turn it off again; the sysctl is left as it was). Needs
// CAP_SYS_ADMIN.
Result<int> enable_bpf_stats();

// Reads run_cnt/run_time_ns of each program with bpf_obj_get_info_by_fd.
// Fails on the first fd that is not a BPF program.
Result<std::vector<BpfProgramStats>> read_bpf_program_stats(const std::vector<int>& prog_fds);
Result<std::vector<BpfProgramStats>>
read_bpf_program_stats(const std::vector<BpfProgramRef>& programs);

} // namespace podguard

#include "metrics/bpf_stats.h"

#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <linux/bpf.h>
#include <string_view>
#include <unistd.h>

namespace podguard {

namespace {

bool is_bpf_prog_fd(int fd) {
    char link[64];
    std::string path = fmt::format("/proc/self/fd/{}", fd);
    ssize_t n = readlink(path.c_str(), link, sizeof(link) - 1);
    if (n < 0)
        return false;
    return std::string_view(link, static_cast<size_t>(n)) == "anon_inode:bpf-prog";
}

} // namespace

Result<int> enable_bpf_stats() {
    int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    if (fd < 0)
        return make_error(fmt::format(
            "cannot enable BPF run-time statistics (BPF_ENABLE_STATS): {}", std::strerror(-fd)));
    return fd;
}

Result<std::vector<BpfProgramStats>>
read_bpf_program_stats(const std::vector<BpfProgramRef>& programs) {
    std::vector<BpfProgramStats> out;
    out.reserve(programs.size());
    for (const auto& program : programs) {
        // A map or link fd also answers bpf_obj_get_info_by_fd, with bytes
        // that are not a bpf_prog_info: check what the fd is first.
        if (!is_bpf_prog_fd(program.fd))
            return make_error(
                fmt::format("fd {} ({}) is not a BPF program", program.fd, program.name));
        bpf_prog_info info{};
        __u32 len = sizeof(info);
        int err = bpf_obj_get_info_by_fd(program.fd, &info, &len);
        if (err < 0)
            return make_error(fmt::format("cannot read BPF program info of fd {} ({}): {}",
                                          program.fd, program.name, std::strerror(-err)));
        BpfProgramStats stats;
        stats.name = program.name.empty()
                         ? std::string(info.name, strnlen(info.name, sizeof(info.name)))
                         : program.name;
        stats.run_count = info.run_cnt;
        stats.run_time_ns = info.run_time_ns;
        out.push_back(std::move(stats));
    }
    return out;
}

Result<std::vector<BpfProgramStats>> read_bpf_program_stats(const std::vector<int>& prog_fds) {
    std::vector<BpfProgramRef> refs;
    refs.reserve(prog_fds.size());
    for (int fd : prog_fds)
        refs.push_back({"", fd});
    return read_bpf_program_stats(refs);
}

} // namespace podguard

// Owns the loaded BPF object: load with this daemon's settings, attach every
// hook, expose the maps the daemon reads and writes. Destruction detaches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

struct podguard_bpf; // bpftool skeleton

namespace podguard {

struct LoadOptions {
    uint32_t ringbuf_bytes = 16u << 20; // power of two
    bool report_self = false;           // events of a process acting on itself
    uint32_t agent_tgid = 0;            // this daemon: never reported
};

struct ProgramInfo {
    std::string name;
    int fd = -1;
};

class BpfObjects {
  public:
    static Result<std::unique_ptr<BpfObjects>> load(const LoadOptions& options);
    ~BpfObjects();
    BpfObjects(const BpfObjects&) = delete;
    BpfObjects& operator=(const BpfObjects&) = delete;

    Status attach();

    int events_fd() const;
    int lost_fd() const;
    int pids_fd() const;
    int procs_fd() const;
    uint32_t ringbuf_bytes() const { return ringbuf_bytes_; }
    std::vector<ProgramInfo> programs() const;

  private:
    explicit BpfObjects(struct ::podguard_bpf* skel, uint32_t ringbuf_bytes)
        : skel_(skel), ringbuf_bytes_(ringbuf_bytes) {}
    Status fill_proc_names();

    struct ::podguard_bpf* skel_;
    uint32_t ringbuf_bytes_;
};

// Route libbpf's messages to spdlog (debug unless they are warnings).
void route_libbpf_logs_to_spdlog();

} // namespace podguard

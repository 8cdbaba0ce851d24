// Run statistics of a real BPF program: a socket filter loaded from raw
// instructions, attached to a UDP socket on 127.0.0.1 and fed datagrams.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <cstring>
#include <fstream>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics/bpf_stats.h"
#include "metrics/metrics.h"
#include "metrics/metrics_test_util.h"

using namespace podguard;
using namespace podguard::metrics_test;

namespace {

class Fd {
  public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    void reset() {
        if (fd_ >= 0)
            close(fd_);
        fd_ = -1;
    }

  private:
    int fd_;
};

// r0 = -1 (keep the whole packet); exit
int load_accept_all_filter(const char* name) {
    bpf_insn insns[2]{};
    insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
    insns[0].dst_reg = BPF_REG_0;
    insns[0].imm = -1;
    insns[1].code = BPF_JMP | BPF_EXIT;
    return bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, name, "GPL", insns, 2, nullptr);
}

// Sends `count` datagrams through a socket filtered by prog_fd and reads
// them back, so the filter runs once per datagram.
void run_filter(int prog_fd, int count) {
    Fd rx(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    Fd tx(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_GE(rx.get(), 0);
    ASSERT_GE(tx.get(), 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    ASSERT_EQ(bind(rx.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(getsockname(rx.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ASSERT_EQ(setsockopt(rx.get(), SOL_SOCKET, SO_ATTACH_BPF, &prog_fd, sizeof(prog_fd)), 0)
        << std::strerror(errno);
    timeval timeout{2, 0};
    setsockopt(rx.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    char buf[16] = "podguard";
    for (int i = 0; i < count; ++i) {
        ASSERT_EQ(
            sendto(tx.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            static_cast<ssize_t>(sizeof(buf)));
        ASSERT_EQ(recv(rx.get(), buf, sizeof(buf), 0), static_cast<ssize_t>(sizeof(buf)))
            << std::strerror(errno);
    }
}

bool stats_sysctl_enabled() {
    std::ifstream in("/proc/sys/kernel/bpf_stats_enabled");
    int v = 0;
    in >> v;
    return v != 0;
}

} // namespace

TEST(MetricsBpfStats, CountsRunsOfARealProgramWhileStatsAreEnabled) {
    auto stats_fd = enable_bpf_stats();
    ASSERT_TRUE(stats_fd.ok()) << stats_fd.error().message;
    Fd stats(*stats_fd);
    Fd prog(load_accept_all_filter("pg_test_filter"));
    ASSERT_GE(prog.get(), 0) << "bpf_prog_load: " << std::strerror(errno);

    auto before = read_bpf_program_stats(std::vector<int>{prog.get()});
    ASSERT_TRUE(before.ok()) << before.error().message;
    ASSERT_EQ(before->size(), 1u);
    EXPECT_EQ((*before)[0].name, "pg_test_filter");
    EXPECT_EQ((*before)[0].run_count, 0u);

    run_filter(prog.get(), 50);
    auto after = read_bpf_program_stats(std::vector<BpfProgramRef>{{"accept_all", prog.get()}});
    ASSERT_TRUE(after.ok()) << after.error().message;
    EXPECT_EQ((*after)[0].name, "accept_all");
    EXPECT_EQ((*after)[0].run_count, 50u);
    EXPECT_GT((*after)[0].run_time_ns, 0u);

    // The exporter shows what the kernel counted.
    MetricsConfig config;
    config.address = "127.0.0.1:0";
    auto metrics = Metrics::start(config);
    ASSERT_TRUE(metrics.ok()) << metrics.error().message;
    (*metrics)->update_bpf_programs(*after);
    auto body = http_get("http://127.0.0.1:" + std::to_string((*metrics)->port()) + "/metrics");
    auto samples = parse_exposition(body.body);
    EXPECT_EQ(sample_value(samples, "podguard_bpf_program_runs_total", {{"program", "accept_all"}}),
              50);
    EXPECT_NEAR(
        sample_value(samples, "podguard_bpf_program_run_seconds_total", {{"program", "accept_all"}})
            .value_or(-1),
        static_cast<double>((*after)[0].run_time_ns) * 1e-9, 1e-12);

    // Closing the BPF_ENABLE_STATS fd stops the accounting (unless the
    // sysctl turns it on for everyone).
    stats.reset();
    if (!stats_sysctl_enabled()) {
        run_filter(prog.get(), 10);
        auto stopped = read_bpf_program_stats(std::vector<int>{prog.get()});
        ASSERT_TRUE(stopped.ok());
        EXPECT_EQ((*stopped)[0].run_count, 50u);
    }
}

TEST(MetricsBpfStats, RejectsFdsThatAreNotPrograms) {
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    Fd r(pipe_fds[0]), w(pipe_fds[1]);
    auto bad = read_bpf_program_stats(std::vector<int>{r.get()});
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("not a BPF program"), std::string::npos);

    Fd map(bpf_map_create(BPF_MAP_TYPE_ARRAY, "pg_test_map", 4, 8, 1, nullptr));
    ASSERT_GE(map.get(), 0) << std::strerror(errno);
    auto not_prog = read_bpf_program_stats(std::vector<int>{map.get()});
    ASSERT_FALSE(not_prog.ok());
    EXPECT_NE(not_prog.error().message.find("not a BPF program"), std::string::npos);

    auto closed = read_bpf_program_stats(std::vector<int>{987654});
    EXPECT_FALSE(closed.ok());
}

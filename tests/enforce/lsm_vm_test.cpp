// Real BPF-LSM denial. This kernel refuses LSM programs, so the test boots
// Debian's own kernel (BPF LSM active) under qemu with a busybox initramfs
// and a static loader (tests/enforce/vm/lsm_loader.cpp) that loads our real
// BPF object, compiles a policy into its maps with the daemon's code, and
// reports what the kernel answered on the serial console ("PGVM " lines).
// See ../shared/notes/lsm-vm.md (beside this repository). The kernel package is downloaded with
// apt once and cached in the build directory; no kernel = FAIL.
#include <gtest/gtest.h>

#include <errno.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "podguard.h"
#include "support/agent.h"
#include "support/sandbox.h"

namespace podguard::test {
namespace {

namespace fs = std::filesystem;

// vmlinuz of the kernel linux-image-amd64 points at, fetched into the cache.
std::string debian_kernel(std::string& error) {
    const fs::path cache = PODGUARD_VM_CACHE;
    fs::create_directories(cache);
    for (const auto& e : fs::recursive_directory_iterator(cache))
        if (e.path().filename().string().rfind("vmlinuz-", 0) == 0)
            return e.path();
    auto deps = run_command({"apt-cache", "depends", "linux-image-amd64"}, 60s);
    std::smatch m;
    std::regex re(R"(Depends: (linux-image-[0-9][^\s]*-amd64))");
    if (!deps.success() || !std::regex_search(deps.out, m, re)) {
        error = "cannot tell which kernel package linux-image-amd64 means (apt-get update?): " +
                deps.describe();
        return "";
    }
    const std::string pkg = m[1];
    auto dl =
        run_command({"sh", "-c", "cd '" + cache.string() + "' && apt-get download " + pkg}, 600s);
    if (!dl.success()) {
        error = "cannot download " + pkg +
                " with apt-get (needed to test the BPF LSM for real): " + dl.describe();
        return "";
    }
    auto x = run_command({"sh", "-c",
                          "cd '" + cache.string() + "' && dpkg-deb -x " + pkg +
                              "_*.deb extracted && rm -f " + pkg +
                              "_*.deb && find extracted -mindepth 1 -maxdepth 1 ! -name boot "
                              "-exec rm -rf {} +"},
                         300s);
    if (!x.success()) {
        error = "cannot unpack " + pkg + ": " + x.describe();
        return "";
    }
    for (const auto& e : fs::recursive_directory_iterator(cache))
        if (e.path().filename().string().rfind("vmlinuz-", 0) == 0)
            return e.path();
    error = pkg + " holds no vmlinuz";
    return "";
}

const char* kInit = R"(#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t securityfs securityfs /sys/kernel/security
mount -t tracefs tracefs /sys/kernel/tracing
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
/loader
echo "PGVM loader_exit $?"
poweroff -f
)";

std::string make_initrd(const TempDir& dir) {
    fs::path root = dir.file("root");
    fs::create_directories(root / "bin");
    fs::copy_file("/bin/busybox", root / "bin/busybox");
    fs::copy_file(PODGUARD_LSM_VM_LOADER, root / "loader");
    {
        std::ofstream init(root / "init");
        init << kInit;
    }
    fs::permissions(root / "init",
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
    std::string out = dir.file("initrd.gz");
    auto r = run_command({"sh", "-c",
                          "cd '" + root.string() +
                              "' && find . | cpio -o -H newc 2>/dev/null | "
                              "gzip -1 > '" +
                              out + "'"},
                         120s);
    if (!r.success())
        throw FixtureError("cannot build the initramfs: " + r.describe());
    return out;
}

struct VmRun {
    std::map<std::string, std::map<std::string, int>> err; // case -> op -> errno (0 = ok)
    std::map<std::string, std::string> exit;               // case -> status
    std::map<std::string, std::vector<std::array<long long, 5>>>
        events; // kind action rule res flags
    struct Access {
        long long action = 0;
        long long result = 0;
        std::string syscall;
        unsigned flags = 0;
        unsigned entry = 0;
    };
    std::map<std::string, std::vector<Access>> accesses; // case -> proc_access events
    std::map<std::string, uint32_t> rule;                // rule name -> id
    bool done = false;
    int compat = -1; // the guest can make 32-bit syscalls (1) or not (0)
    std::string lsm;
    std::string log;
};

VmRun parse(const std::string& log) {
    VmRun v;
    v.log = log;
    std::istringstream in(log);
    std::string line;
    std::regex result(R"(PGVM result case=(\w+) op=(\w+) ret=(-?\d+) errno=(\d+))");
    std::regex exit(R"(PGVM exit case=(\w+) status=(\S+))");
    std::regex event(R"(PGVM event case=(\w+) kind=(\d+) action=(\d+) rule=(\d+) result=(-?\d+))");
    std::regex rule(R"(PGVM rule id=(\d+) name=(\S+))");
    std::regex flags_re(R"( flags=(\d+))");
    std::regex access(
        R"(PGVM event case=(\w+) kind=3 action=(\d+) rule=\d+ result=(-?\d+) syscall=(\S+) flags=(\d+) entry=(\d+))");
    std::smatch m;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (std::regex_search(line, m, result))
            v.err[m[1]][m[2]] = std::stoi(m[4]);
        else if (std::regex_search(line, m, exit))
            v.exit[m[1]] = m[2];
        else if (std::regex_search(line, m, event)) {
            std::smatch f;
            long long flags = std::regex_search(line, f, flags_re) ? std::stoll(f[1]) : -1;
            v.events[m[1]].push_back(
                {std::stoll(m[2]), std::stoll(m[3]), std::stoll(m[4]), std::stoll(m[5]), flags});
            std::smatch a;
            if (std::regex_search(line, a, access))
                v.accesses[a[1]].push_back({std::stoll(a[2]), std::stoll(a[3]), a[4],
                                            static_cast<unsigned>(std::stoul(a[5])),
                                            static_cast<unsigned>(std::stoul(a[6]))});
        } else if (std::regex_search(line, m, rule))
            v.rule[m[2]] = std::stoul(m[1]);
        else if (line.find("PGVM done") != std::string::npos)
            v.done = true;
        else if (line.find("PGVM compat_syscalls ") != std::string::npos)
            v.compat = std::stoi(line.substr(line.find("PGVM compat_syscalls ") + 21));
        else if (line.find("PGVM lsm ") != std::string::npos)
            v.lsm = line.substr(line.find("PGVM lsm ") + 9);
    }
    return v;
}

// One boot for every assertion below (about 10 s under TCG).
const VmRun& vm_run() {
    static VmRun run;
    static bool started = false;
    if (started)
        return run;
    started = true;
    std::string error;
    std::string kernel = debian_kernel(error);
    if (kernel.empty())
        throw FixtureError(error);
    TempDir dir;
    std::string initrd = make_initrd(dir);
    auto r = run_command({"qemu-system-x86_64", "-m", "1024", "-smp", "2", "-nographic",
                          "-no-reboot", "-kernel", kernel, "-initrd", initrd, "-append",
                          "console=ttyS0 quiet panic=-1"},
                         300s);
    run = parse(r.out);
    if (!run.done)
        throw FixtureError("the VM did not finish the run: " + r.describe());
    return run;
}

class LsmVm : public ::testing::Test {
  protected:
    void SetUp() override { v_ = &vm_run(); }
    const VmRun* v_ = nullptr;
    // A key the guest never reported fails with the guest's whole log, so
    // the failure says what the loader printed instead.
    template <class Map>
    const typename Map::mapped_type& at(const Map& m, const std::string& key) const {
        static const typename Map::mapped_type none{};
        auto it = m.find(key);
        if (it != m.end())
            return it->second;
        ADD_FAILURE() << "the guest reported nothing for '" << key << "':\n" << v_->log;
        return none;
    }
};

TEST_F(LsmVm, GuestHasTheBpfLsm) {
    EXPECT_NE(("," + v_->lsm + ",").find(",bpf,"), std::string::npos) << v_->lsm;
}

TEST_F(LsmVm, BlockedOperationsAreDenied) {
    const auto& e = at(v_->err, "blocked");
    EXPECT_EQ(at(e, "kill"), EPERM) << v_->log;
    EXPECT_EQ(at(e, "ptrace_attach"), EPERM);
    EXPECT_EQ(at(e, "open_proc_root"), EACCES);
    EXPECT_EQ(at(e, "kill_agent"), EPERM) << "self-protection";
    EXPECT_EQ(at(v_->exit, "blocked"), "code:0") << "denied, not killed";
    uint32_t rule = at(v_->rule, "vm-test/a-may-not-touch-b");
    uint32_t self = at(v_->rule, "podguard-self-protection/agent-is-untouchable");
    std::set<long long> kinds;
    for (const auto& ev : at(v_->events, "blocked")) {
        EXPECT_EQ(ev[1], PG_ACT_BLOCKED) << "kind " << ev[0];
        EXPECT_TRUE(ev[2] == rule || ev[2] == self) << "rule " << ev[2];
        EXPECT_LT(ev[3], 0) << "the syscall failed";
        kinds.insert(ev[0]);
    }
    EXPECT_EQ(kinds, (std::set<long long>{PG_EV_SIGNAL, PG_EV_PTRACE, PG_EV_PROC_ACCESS}));
}

// The same open of /proc/<pid>/root/init through a symlink and through
// io_uring: denied by lsm/ptrace_access_check with the entry the path walk
// reached, each reported once with the operation's result.
TEST_F(LsmVm, OtherSpellingsAreDeniedAndReported) {
    const auto& e = at(v_->err, "blocked");
    EXPECT_EQ(at(e, "open_symlink"), EACCES) << v_->log;
    EXPECT_EQ(at(e, "uring_open"), EACCES);
    EXPECT_EQ(at(e, "uring_open_symlink"), EACCES);
    EXPECT_EQ(at(v_->exit, "blocked"), "code:0") << "denied, not killed";
    std::map<std::string, int> seen; // syscall -> events
    for (const auto& a : at(v_->accesses, "blocked")) {
        EXPECT_EQ(a.action, PG_ACT_BLOCKED) << a.syscall;
        EXPECT_EQ(a.entry, PG_PROC_ROOT) << a.syscall;
        EXPECT_EQ(a.result, -EACCES) << a.syscall;
        ++seen[a.syscall + ((a.flags & PG_F_BY_OBJECT) ? "/object" : "")];
    }
    EXPECT_EQ(seen["openat"], 1) << "the plain open";
    EXPECT_EQ(seen["openat/object"], 1) << "the symlinked open";
    EXPECT_EQ(seen["io_uring:openat"], 1) << "the plain io_uring open";
    EXPECT_EQ(seen["io_uring:openat/object"], 1) << "the symlinked io_uring open";
    const auto& ok = at(v_->err, "allowed");
    EXPECT_EQ(at(ok, "open_symlink"), 0);
    EXPECT_EQ(at(ok, "uring_open"), 0);
    EXPECT_EQ(at(ok, "uring_open_symlink"), 0);
}

// The same open and kill made as 32-bit syscalls (int $0x80), which no
// per-syscall tracepoint sees: the compat hooks name the open by its
// spelling (syscall "open", not by object), the LSM denies both, and without
// the LSM the offender is killed at the open.
TEST_F(LsmVm, ThirtyTwoBitSyscallsAreSeenAndDecided) {
    ASSERT_EQ(v_->compat, 1) << "the guest cannot make 32-bit syscalls:\n" << v_->log;
    const auto& e = at(v_->err, "blocked");
    EXPECT_EQ(at(e, "open32_proc_root"), EACCES) << v_->log;
    EXPECT_EQ(at(e, "kill32"), EPERM);
    int spelled = 0;
    for (const auto& a : at(v_->accesses, "blocked"))
        if (a.syscall == "open" && !(a.flags & PG_F_BY_OBJECT)) {
            ++spelled;
            EXPECT_EQ(a.action, PG_ACT_BLOCKED);
            EXPECT_EQ(a.entry, PG_PROC_ROOT);
        }
    EXPECT_EQ(spelled, 1) << v_->log;
    const auto& ok = at(v_->err, "allowed");
    EXPECT_EQ(at(ok, "open32_proc_root"), 0);
    EXPECT_EQ(at(ok, "kill32"), 0);
    EXPECT_EQ(at(v_->exit, "fallback"), "signal:9") << "killed at the 32-bit open";
    int killed = 0;
    for (const auto& a : at(v_->accesses, "fallback"))
        if (a.syscall == "open" && a.action == PG_ACT_KILLED && a.entry == PG_PROC_ROOT)
            ++killed;
    EXPECT_EQ(killed, 1) << v_->log;
}

TEST_F(LsmVm, AllowedPairSucceeds) {
    const auto& e = at(v_->err, "allowed");
    EXPECT_EQ(at(e, "kill"), 0) << v_->log;
    EXPECT_EQ(at(e, "ptrace_attach"), 0);
    EXPECT_EQ(at(e, "open_proc_root"), 0);
    EXPECT_EQ(at(v_->exit, "allowed"), "code:0");
    for (const auto& ev : at(v_->events, "allowed")) {
        EXPECT_EQ(ev[1], PG_ACT_ALLOWED);
        EXPECT_EQ(ev[2], 0);
    }
}

// A container cgroup no daemon registered (machine.slice/libpod-<id>.scope),
// under the default posture (closed): the runtime's setup before the exec is
// judged as the host (its open of the target's /proc/<pid>/root succeeds),
// and the container's first acts after its exec are denied, each event
// saying blocked and that the posture decided.
TEST_F(LsmVm, UnidentifiedContainerFirstActIsDenied) {
    const auto& e = at(v_->err, "unidentified");
    EXPECT_EQ(at(e, "setup_open_proc_root"), 0) << "the runtime's setup\n" << v_->log;
    EXPECT_EQ(at(e, "kill"), EPERM);
    EXPECT_EQ(at(e, "ptrace_attach"), EPERM);
    EXPECT_EQ(at(e, "open_proc_root"), EACCES);
    EXPECT_EQ(at(e, "open_symlink"), EACCES);
    EXPECT_EQ(at(e, "uring_open"), EACCES);
    EXPECT_EQ(at(v_->exit, "unidentified"), "code:0") << "denied, not killed";
    uint32_t rule = at(v_->rule, "vm-test/a-may-not-touch-b");
    std::set<long long> kinds;
    int allowed = 0;
    for (const auto& ev : at(v_->events, "unidentified")) {
        if (ev[1] == PG_ACT_ALLOWED) { // the setup's open, as the host's
            EXPECT_EQ(ev[4] & PG_F_UNIDENTIFIED, 0);
            ++allowed;
            continue;
        }
        EXPECT_EQ(ev[1], PG_ACT_BLOCKED) << "kind " << ev[0];
        EXPECT_EQ(ev[2], rule);
        EXPECT_NE(ev[4] & PG_F_UNIDENTIFIED, 0) << "kind " << ev[0] << " flags " << ev[4];
        EXPECT_LT(ev[3], 0) << "the syscall failed";
        kinds.insert(ev[0]);
    }
    EXPECT_GE(allowed, 1) << "the setup's open is reported";
    EXPECT_EQ(kinds, (std::set<long long>{PG_EV_SIGNAL, PG_EV_PTRACE, PG_EV_PROC_ACCESS}));
}

TEST_F(LsmVm, AuditModeChangesNothing) {
    const auto& e = at(v_->err, "audit");
    EXPECT_EQ(at(e, "kill"), 0) << v_->log;
    EXPECT_EQ(at(e, "ptrace_attach"), 0);
    EXPECT_EQ(at(e, "open_proc_root"), 0);
    EXPECT_EQ(at(v_->exit, "audit"), "code:0");
    std::set<long long> kinds;
    for (const auto& ev : at(v_->events, "audit")) { // PTRACE_DETACH is one too
        EXPECT_EQ(ev[1], PG_ACT_AUDITED);
        EXPECT_EQ(ev[2], at(v_->rule, "vm-test/a-may-not-touch-b"));
        EXPECT_GE(ev[3], 0);
        kinds.insert(ev[0]);
    }
    EXPECT_EQ(kinds, (std::set<long long>{PG_EV_SIGNAL, PG_EV_PTRACE, PG_EV_PROC_ACCESS}));
}

} // namespace
} // namespace podguard::test

#include "support/podman_api.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/podman_pod.h"

namespace podguard::test {

namespace {

bool socket_accepts(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return ok;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace

PodmanApiService::PodmanApiService() {
    socket_ = dir_.file("podman.sock");
    std::string conf = podman_containers_conf();
    std::string log = dir_.file("service.log");
    std::vector<std::string> argv{"/usr/bin/podman", "system", "service", "--time=0", "unix://" + socket_};
    proc_ = spawn_on_host([argv, conf, log] {
        setenv("CONTAINERS_CONF", conf.c_str(), 1);
        int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        return exec_body(argv)();
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
        if (!proc_.running())
            break;
        if (socket_accepts(socket_))
            return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw FixtureError("podman system service did not open " + socket_ + "\nlog: " + slurp(log));
}

PodmanApiService::~PodmanApiService() {
    if (!proc_.running())
        return;
    proc_.signal(SIGTERM);
    if (!proc_.wait(std::chrono::seconds(5)))
        proc_.kill_and_reap();
}

} // namespace podguard::test

// `podman system service` on a socket in a fresh temp dir, with the
// fixtures' containers.conf: what the agent's --runtime-socket names when a
// test needs container names and pods from the runtime.
#pragma once

#include <string>

#include "support/process.h"
#include "support/sandbox.h"

namespace podguard::test {

class PodmanApiService {
  public:
    PodmanApiService();  // throws FixtureError when the socket does not open in 15 s
    ~PodmanApiService(); // SIGTERM, then SIGKILL
    PodmanApiService(const PodmanApiService&) = delete;
    PodmanApiService& operator=(const PodmanApiService&) = delete;

    const std::string& socket() const { return socket_; }

  private:
    TempDir dir_;
    std::string socket_;
    Proc proc_;
};

} // namespace podguard::test

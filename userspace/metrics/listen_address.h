// The HOST:PORT the exporter listens on (`--metrics-address`): IP literals
// only, since the exporter never resolves names. IPv4 "A.B.C.D:PORT", IPv6
// "[ADDR]:PORT"; port 0 picks a free port.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/socket.h>

#include "common/result.h"

namespace podguard {

struct ListenAddress {
    int family = AF_INET;
    sockaddr_storage addr{};
    socklen_t len = 0;
};

Result<ListenAddress> parse_listen_address(std::string_view address);

// Checks the HOST:PORT form Metrics::start accepts.
Status validate_metrics_address(std::string_view address);

// civetweb only says that it could not start; binding the address ourselves
// tells the operator why (strerror of bind, else `fallback`).
std::string bind_diagnosis(std::string_view address, const char* fallback);

// Opens and drops a connection to the listener on `port` (the loopback for a
// wildcard address), so that a listener waiting in poll notices a stop flag.
void wake_listener(std::string_view address, uint16_t port);

} // namespace podguard

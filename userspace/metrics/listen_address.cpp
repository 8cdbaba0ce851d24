#include "metrics/listen_address.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <netinet/in.h>
#include <unistd.h>

namespace podguard {

Result<ListenAddress> parse_listen_address(std::string_view address) {
    auto colon = address.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
        return make_error(fmt::format("metrics address '{}' is not HOST:PORT", address));
    std::string_view host = address.substr(0, colon);
    std::string_view port_text = address.substr(colon + 1);
    unsigned port = 0;
    if (port_text.empty() || port_text.size() > 5)
        return make_error(fmt::format("metrics address '{}' has no valid port", address));
    for (char c : port_text) {
        if (c < '0' || c > '9')
            return make_error(fmt::format("metrics address '{}' has no valid port", address));
        port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port > 65535)
        return make_error(fmt::format("metrics address '{}': port out of range", address));

    ListenAddress out;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        std::string ip(host.substr(1, host.size() - 2));
        auto* sa = reinterpret_cast<sockaddr_in6*>(&out.addr);
        if (inet_pton(AF_INET6, ip.c_str(), &sa->sin6_addr) != 1)
            return make_error(
                fmt::format("metrics address '{}': '{}' is not an IPv6 address", address, ip));
        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons(static_cast<uint16_t>(port));
        out.family = AF_INET6;
        out.len = sizeof(sockaddr_in6);
    } else {
        std::string ip(host);
        auto* sa = reinterpret_cast<sockaddr_in*>(&out.addr);
        if (inet_pton(AF_INET, ip.c_str(), &sa->sin_addr) != 1)
            return make_error(fmt::format(
                "metrics address '{}': '{}' is not an IPv4 address (use an IP literal, IPv6 "
                "as [ADDR]:PORT)",
                address, ip));
        sa->sin_family = AF_INET;
        sa->sin_port = htons(static_cast<uint16_t>(port));
        out.family = AF_INET;
        out.len = sizeof(sockaddr_in);
    }
    return out;
}

std::string bind_diagnosis(std::string_view address, const char* fallback) {
    auto parsed = parse_listen_address(address);
    if (!parsed)
        return parsed.error().message;
    int fd = socket(parsed->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return std::strerror(errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    std::string why = fallback;
    if (bind(fd, reinterpret_cast<sockaddr*>(&parsed->addr), parsed->len) != 0)
        why = std::strerror(errno);
    close(fd);
    return why;
}

void wake_listener(std::string_view address, uint16_t port) {
    auto parsed = parse_listen_address(address);
    if (!parsed)
        return;
    auto& storage = parsed->addr;
    if (parsed->family == AF_INET) {
        auto* sa = reinterpret_cast<sockaddr_in*>(&storage);
        sa->sin_port = htons(port);
        if (sa->sin_addr.s_addr == htonl(INADDR_ANY))
            sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
        auto* sa = reinterpret_cast<sockaddr_in6*>(&storage);
        sa->sin6_port = htons(port);
        if (IN6_IS_ADDR_UNSPECIFIED(&sa->sin6_addr))
            sa->sin6_addr = in6addr_loopback;
    }
    int fd = socket(parsed->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return;
    (void)connect(fd, reinterpret_cast<sockaddr*>(&storage), parsed->len);
    close(fd);
}

Status validate_metrics_address(std::string_view address) {
    auto parsed = parse_listen_address(address);
    if (!parsed)
        return parsed.error();
    return {};
}

} // namespace podguard

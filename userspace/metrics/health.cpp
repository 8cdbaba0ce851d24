#include "metrics/health.h"

#include <CivetServer.h>
#include <atomic>
#include <cstring>
#include <ctime>
#include <fmt/format.h>

namespace podguard {

namespace {

std::atomic<bool> g_attached{false};
std::atomic<bool> g_policy{false};
std::atomic<int64_t> g_last_beat_ns{0}; // CLOCK_MONOTONIC; 0 = never
std::atomic<int64_t> g_stall_limit_ns{10'000'000'000};

int64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int on_request(mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    if (!info || !info->local_uri)
        return 0;
    std::string_view path = info->local_uri;
    if (path != "/healthz" && path != "/readyz")
        return 0; // /metrics and the rest: prometheus-cpp's handler
    HealthReport r = health_check(path);
    std::string body = r.body + "\n";
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
              "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
              r.status, r.status == 200 ? "OK" : "Service Unavailable", body.size());
    if (std::strcmp(info->request_method, "HEAD") != 0)
        mg_write(conn, body.data(), body.size());
    return r.status;
}

CivetCallbacks make_callbacks() {
    CivetCallbacks cb; // zeroes every mg_callbacks member
    cb.begin_request = on_request;
    return cb;
}

const CivetCallbacks g_callbacks = make_callbacks();

} // namespace

void health_set_attached(bool attached) {
    g_attached.store(attached);
}

void health_set_policy_loaded(bool loaded) {
    g_policy.store(loaded);
}

void health_beat() {
    g_last_beat_ns.store(monotonic_ns());
}

void health_set_stall_limit(std::chrono::milliseconds limit) {
    g_stall_limit_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(limit).count());
}

void health_reset() {
    g_attached = false;
    g_policy = false;
    g_last_beat_ns = 0;
    g_stall_limit_ns = 10'000'000'000;
}

HealthReport health_check(std::string_view path) {
    if (path == "/readyz") {
        if (!g_attached.load())
            return {503, "not ready: BPF programs not attached yet"};
        if (!g_policy.load())
            return {503, "not ready: no policy loaded yet"};
        if (g_last_beat_ns.load() == 0)
            return {503, "not ready: the event loop has not started yet"};
        return {200, "ready"};
    }
    const int64_t last = g_last_beat_ns.load();
    if (last == 0)
        return {503, "starting: the event loop has not run yet"};
    const int64_t age = monotonic_ns() - last;
    if (age > g_stall_limit_ns.load())
        return {503, fmt::format("unhealthy: the ring buffer has not been drained for {} ms",
                                 age / 1'000'000)};
    return {200, "ok"};
}

const CivetCallbacks* health_http_callbacks() {
    return &g_callbacks;
}

} // namespace podguard

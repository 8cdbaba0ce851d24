// /healthz and /readyz on the metrics port, for the kubelet's probes.
//   /readyz  200 once every program is attached, a policy is loaded and the
//            event loop runs.
//   /healthz 200 while the event loop drains the ring buffer: it has ticked
//            within the stall limit (it ticks every second, even when idle).
// Otherwise 503 with the reason as the body. Served from civetweb's
// begin_request hook, before the Prometheus handler sees the request.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

struct CivetCallbacks;

namespace podguard {

struct HealthReport {
    int status = 503; // HTTP status
    std::string body;
};

// Process-wide: one agent per process.
void health_set_attached(bool attached);
void health_set_policy_loaded(bool loaded);
// The event loop's heartbeat (each tick, i.e. at least once a second).
void health_beat();
void health_set_stall_limit(std::chrono::milliseconds limit); // default 10 s
void health_reset();                                          // tests

HealthReport health_check(std::string_view path); // "/healthz" or "/readyz"

// Callbacks for prometheus::Exposer (civetweb): answers the two paths.
const CivetCallbacks* health_http_callbacks();

} // namespace podguard

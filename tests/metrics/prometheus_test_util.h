// A real Prometheus server for the metrics suites, and the PromQL of the
// Grafana dashboard (dashboards/podguard.json) and alert rules
// (dashboards/alerts.yml) as Prometheus would run it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "metrics/metrics_test_util.h"

namespace podguard::metrics_test {

std::string dashboard_path();
std::string alerts_path();
nlohmann::json load_dashboard();

struct Expression {
    std::string where; // panel title / variable / alert name, for messages
    std::string expr;
};

// Every panel (rows' nested panels included).
std::vector<const nlohmann::json*> all_panels(const nlohmann::json& dashboard);
// Every panel target and query variable (label_values() turned into PromQL).
std::vector<Expression> dashboard_expressions(const nlohmann::json& dashboard);
std::vector<Expression> alert_expressions();
// Grafana's variables as a Prometheus query would see them with "All"
// selected and a 1 h range; an unknown variable is a test failure.
std::string substitute_variables(const std::string& expr);

// find_tool(name), or a test failure naming the package when it is absent.
std::string require_tool(const std::string& name);

// Polls `condition` every 100 ms until it holds or `timeout` passes.
template <class F> bool wait_for(F condition, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return condition();
}

// A Prometheus server on 127.0.0.1 scraping 127.0.0.1:<exporter_port> as job
// "podguard" every second and evaluating dashboards/alerts.yml every second;
// killed (and its data removed) on scope exit whatever the test did.
class PrometheusServer {
  public:
    PrometheusServer(const std::string& binary, int exporter_port);
    ~PrometheusServer();
    PrometheusServer(const PrometheusServer&) = delete;
    PrometheusServer& operator=(const PrometheusServer&) = delete;

    std::string url(const std::string& path) const;
    std::string log() const;
    bool running() const;

    // /-/ready answers 200 within `timeout`.
    bool wait_ready(std::chrono::milliseconds timeout);
    // up{job="podguard"} has at least `scrapes` samples in the last minute,
    // the last of them 1, within `timeout`.
    bool wait_scrapes(int scrapes, std::chrono::milliseconds timeout);
    // /api/v1/query at now; the JSON answer, or null on transport failure.
    nlohmann::json query(const std::string& promql) const;
    // /api/v1/rules, or null.
    nlohmann::json rules() const;

  private:
    TempDir dir_;
    int port_;
    std::string log_;
    pid_t pid_ = -1;
};

} // namespace podguard::metrics_test

// /healthz and /readyz on the metrics port, beside /metrics.
#include <gtest/gtest.h>
#include <thread>

#include "metrics/health.h"
#include "metrics/metrics.h"
#include "metrics_test_util.h"

using namespace podguard;

TEST(Health, ProbesAnswerOnTheMetricsPort) {
    health_reset();
    MetricsConfig config;
    config.address = "127.0.0.1:0";
    auto m = Metrics::start(config);
    ASSERT_TRUE(m.ok()) << m.error().message;
    const std::string base = "http://127.0.0.1:" + std::to_string((*m)->port());
    auto get = [&](const std::string& path) { return metrics_test::http_get(base + path); };

    EXPECT_EQ(get("/healthz").status, 503) << "not healthy before the event loop ran";
    EXPECT_EQ(get("/readyz").status, 503);
    health_set_attached(true);
    auto r = get("/readyz");
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find("policy"), std::string::npos) << r.body;
    health_set_policy_loaded(true);
    EXPECT_EQ(get("/readyz").status, 503) << "the event loop has not run yet";
    health_beat();
    EXPECT_EQ(get("/readyz").status, 200);
    EXPECT_EQ(get("/healthz").status, 200);
    EXPECT_EQ(get("/metrics").status, 200) << "the exporter still serves /metrics";

    // The loop stops draining: unhealthy once the stall limit passes.
    health_set_stall_limit(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    r = get("/healthz");
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find("not been drained"), std::string::npos) << r.body;
    health_beat();
    EXPECT_EQ(get("/healthz").status, 200);
    health_reset();
}

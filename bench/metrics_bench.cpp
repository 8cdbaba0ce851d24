// Metrics costs: observe() per event, and a real HTTP scrape (libcurl on
// 127.0.0.1) with ~10,000 series. Target: a scrape at 10k series <= 50 ms.
//   ./build/bench/podguard_bench_metrics [series]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <curl/curl.h>
#include <string>
#include <vector>

#include "metrics/metrics.h"

using namespace podguard;
using Clock = std::chrono::steady_clock;

namespace {

size_t append(char* data, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
}

Event event_for(int pod, int combo) {
    Event e;
    e.kind = static_cast<EventKind>(combo % 3);
    e.relation = combo < 3 ? Relation::SamePod : Relation::SameContainer;
    e.action = static_cast<Action>(combo % 4);
    e.source.known = true;
    e.source.comm = "sh";
    e.source.container = ContainerInfo{"0123456789abcdef", "containerd", "app", "img", ""};
    e.source.pod = PodInfo{"ns-" + std::to_string(pod % 50), "pod-" + std::to_string(pod), "", {}};
    return e;
}

double ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

double observe_ns(Metrics& metrics, const std::vector<Event>& events, int rounds) {
    auto start = Clock::now();
    for (int r = 0; r < rounds; ++r)
        for (const auto& e : events)
            metrics.observe(e);
    auto total = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    return total / (static_cast<double>(rounds) * static_cast<double>(events.size()));
}

struct Scrapes {
    std::vector<double> ms;
    std::size_t series = 0, bytes = 0; // bytes as received (compressed with gzip)
    std::string error;
};

Scrapes scrape(const std::string& url, bool gzip) {
    Scrapes out;
    CURL* curl = curl_easy_init();
    std::string body;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    // civetweb closes every connection after the response without saying
    // so; a reused connection would race that close.
    curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
    // Raw bytes: count what travels; decompression is the scraper's cost.
    curl_slist* headers = gzip ? curl_slist_append(nullptr, "Accept-Encoding: gzip") : nullptr;
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    for (int i = 0; i < 31; ++i) {
        body.clear();
        auto t0 = Clock::now();
        CURLcode rc = curl_easy_perform(curl);
        auto t1 = Clock::now();
        if (rc != CURLE_OK) {
            out.error = curl_easy_strerror(rc);
            break;
        }
        if (i == 0) { // warm-up
            out.bytes = body.size();
            for (size_t pos = 0; (pos = body.find('\n', pos)) != std::string::npos; ++pos)
                if (pos + 1 < body.size() && body[pos + 1] != '#')
                    ++out.series;
            continue;
        }
        out.ms.push_back(ms(t1 - t0));
    }
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    return out;
}

} // namespace

int main(int argc, char** argv) {
    const int target_series = argc > 1 ? std::atoi(argv[1]) : 10000;
    constexpr int kCombos = 5; // kind/relation/action tuples per pod
    const int pods = target_series / kCombos;

    MetricsConfig config;
    config.address = "127.0.0.1:0";
    config.max_pod_series = static_cast<size_t>(pods);
    auto started = Metrics::start(config);
    if (!started) {
        std::fprintf(stderr, "%s\n", started.error().message.c_str());
        return 1;
    }
    Metrics& metrics = **started;

    std::vector<Event> all;
    for (int p = 0; p < pods; ++p)
        for (int c = 0; c < kCombos; ++c)
            all.push_back(event_for(p, c));
    for (const auto& e : all) // creates every series
        metrics.observe(e);

    // observe(): events of 100 busy pods (cache hits), all 10k series, and
    // the global counters alone.
    std::vector<Event> hot(all.begin(), all.begin() + std::min<size_t>(all.size(), 500));
    double hot_ns = observe_ns(metrics, hot, 2000);
    double spread_ns = observe_ns(metrics, all, 100);
    MetricsConfig off_config = config;
    off_config.pod_labels = PodLabels::Off;
    auto off = Metrics::start(off_config);
    double global_ns = off ? observe_ns(**off, hot, 2000) : -1;

    std::string url = "http://127.0.0.1:" + std::to_string(metrics.port()) + "/metrics";
    Scrapes plain = scrape(url, false);
    Scrapes gzip = scrape(url, true); // what Prometheus asks for
    if (!plain.error.empty() || !gzip.error.empty()) {
        std::fprintf(stderr, "scrape failed: %s%s\n", plain.error.c_str(), gzip.error.c_str());
        return 1;
    }

    std::vector<double> render_ms;
    for (int i = 0; i < 10; ++i) {
        auto t0 = Clock::now();
        auto text = metrics.render();
        render_ms.push_back(ms(Clock::now() - t0));
    }

    std::printf("metrics bench: %zu series, exposition %zu bytes (%.1f KiB), gzip on the wire "
                "%zu bytes\n",
                plain.series, plain.bytes, static_cast<double>(plain.bytes) / 1024.0, gzip.bytes);
    for (const auto* s : {&plain, &gzip})
        std::printf("scrape over HTTP%s (30 runs): median %.2f ms, p90 %.2f ms, max %.2f ms "
                    "(target <= 50 ms) %s\n",
                    s == &gzip ? " with gzip" : "", percentile(s->ms, 0.5), percentile(s->ms, 0.9),
                    percentile(s->ms, 1.0), percentile(s->ms, 0.5) <= 50 ? "OK" : "OVER");
    std::printf("render() in process: median %.2f ms\n", percentile(render_ms, 0.5));
    std::printf("observe(): %.1f ns/event (500 hot series), %.1f ns/event (all %d pods), "
                "%.1f ns/event (pod labels off)\n",
                hot_ns, spread_ns, pods, global_ns);
    return 0;
}

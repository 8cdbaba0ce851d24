#include "metadata/kubernetes/provider.h"

#include <spdlog/spdlog.h>

#include "metadata/backoff.h"
#include "metadata/json_util.h"

namespace podguard::metadata::kubernetes {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A bounded, printable excerpt of untrusted input for a log line.
std::string preview(std::string_view s, size_t max = 120) {
    std::string out;
    for (char c : s.substr(0, max))
        out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    if (s.size() > max)
        out += "...";
    return out;
}

// The message of a Kubernetes Status body, or an excerpt of whatever came.
std::string status_message(const std::string& body) {
    json j = json::parse(body, nullptr, false);
    std::string msg = j.is_discarded() ? "" : safe_json::string(j, "message");
    return msg.empty() ? preview(body) : msg;
}

} // namespace

KubernetesProvider::KubernetesProvider(KubernetesOptions options) : options_(std::move(options)) {}

KubernetesProvider::~KubernetesProvider() {
    stop();
}

Status KubernetesProvider::check() {
    const std::string& server = options_.config.server;
    if (server.rfind("https://", 0) != 0 && server.rfind("http://", 0) != 0)
        return make_error("kubernetes: server must be an http(s):// URL, got '" + server + "'");
    if (options_.page_size == 0)
        options_.page_size = 500;
    return {};
}

std::string KubernetesProvider::resource_version() const {
    std::lock_guard lock(rv_mu_);
    return rv_;
}

void KubernetesProvider::set_resource_version(std::string rv) {
    if (rv.empty())
        return;
    std::lock_guard lock(rv_mu_);
    rv_ = std::move(rv);
}

std::string KubernetesProvider::pods_path() const {
    std::string path = "/api/v1/pods?";
    if (!options_.node_name.empty())
        path += "fieldSelector=" + url_escape("spec.nodeName=" + options_.node_name) + "&";
    return path;
}

void KubernetesProvider::run() {
    Backoff backoff(options_.backoff_initial, options_.backoff_max);
    bool need_list = true;
    while (!stopping()) {
        if (need_list) {
            Status listed = list();
            if (stopping())
                break;
            if (!listed) {
                fail(listed.error().message);
                wait(backoff.next());
                continue;
            }
            need_list = false;
        }
        auto started = Clock::now();
        std::string rv_at_start = resource_version();
        WatchEnd end = watch();
        if (stopping())
            break;
        switch (end) {
        case WatchEnd::Gone:
            spdlog::info("metadata: {}: resourceVersion {} is too old (410 Gone); listing again",
                         options_.name, rv_at_start);
            need_list = true;
            break;
        case WatchEnd::Closed:
            // A normal end (timeoutSeconds). One that ends at once without
            // progress must not spin.
            if (Clock::now() - started < std::chrono::seconds(1) &&
                resource_version() == rv_at_start)
                wait(backoff.next());
            else
                backoff.reset();
            break;
        case WatchEnd::Failed:
            fail(watch_failure_);
            wait(backoff.next());
            break;
        }
    }
}

Status KubernetesProvider::list() {
    auto target = http_target(options_.config);
    if (!target)
        return make_error(target.error().message);
    std::vector<ContainerMeta> containers;
    std::vector<PodMeta> pods;
    std::map<std::string, std::set<std::string>> pod_containers;
    std::string rv, cont;
    do {
        std::string path = pods_path() + "limit=" + std::to_string(options_.page_size);
        if (!cont.empty())
            path += "&continue=" + url_escape(cont);
        auto res = http_.get(*target, path);
        if (!res)
            return make_error("list pods: " + res.error().message);
        if (res->status == 410)
            return make_error("list pods: continue token expired (410 Gone)");
        if (res->status != 200)
            return make_error(
                fmt::format("list pods: HTTP {}: {}", res->status, status_message(res->body)));
        json body = json::parse(res->body, nullptr, false);
        if (body.is_discarded() || !body.is_object())
            return make_error(fmt::format("list pods: malformed JSON ({} bytes): {}",
                                          res->body.size(), preview(res->body)));
        res->body.clear();
        for (const auto& item : safe_json::array(body, "items")) {
            auto records = pod_records(item, options_.limits);
            if (!records) {
                spdlog::warn("metadata: {}: skipping a listed pod: {}", options_.name,
                             records.error().message);
                out().error();
                continue;
            }
            for (const auto& w : records->warnings) {
                spdlog::warn("metadata: {}: pod {}/{}: {}", options_.name, records->pod.namespace_,
                             records->pod.name, w);
                out().error();
            }
            auto& ids = pod_containers[records->pod.uid];
            for (auto& c : records->containers) {
                ids.insert(c.id);
                containers.push_back(std::move(c));
            }
            pods.push_back(std::move(records->pod));
        }
        const json& meta = safe_json::object(body, "metadata");
        rv = safe_json::string(meta, "resourceVersion");
        cont = safe_json::string(meta, "continue");
    } while (!cont.empty());
    if (rv.empty())
        return make_error("list pods: response without metadata.resourceVersion");
    spdlog::info("metadata: {}: listed {} pods, {} containers at resourceVersion {}", options_.name,
                 pods.size(), containers.size(), rv);
    out().resync(std::move(containers), std::move(pods));
    pod_containers_ = std::move(pod_containers);
    set_resource_version(std::move(rv));
    lists_.fetch_add(1);
    set_up(true);
    return {};
}

KubernetesProvider::WatchEnd KubernetesProvider::watch() {
    watch_failure_.clear();
    auto target = http_target(options_.config);
    if (!target) {
        watch_failure_ = target.error().message;
        return WatchEnd::Failed;
    }
    std::string path = pods_path() + "watch=1&allowWatchBookmarks=true&resourceVersion=" +
                       url_escape(resource_version()) +
                       "&timeoutSeconds=" + std::to_string(options_.watch_timeout_seconds);
    watches_.fetch_add(1);

    LineSplitter lines(options_.max_event_bytes);
    WatchEnd end = WatchEnd::Closed;
    HttpOptions http_options;
    http_options.timeout_ms = 0;
    auto on_headers = [this](long status) {
        if (status == 200)
            set_up(true);
    };
    auto on_line = [&](std::string_view line) { return handle_event(line, end); };
    auto on_data = [&](std::string_view chunk) {
        if (lines.feed(chunk, on_line))
            return true;
        if (lines.overflowed()) {
            watch_failure_ =
                fmt::format("watch event larger than {} bytes", options_.max_event_bytes);
            end = WatchEnd::Failed;
        }
        return false;
    };
    auto res = http_.get(*target, path, http_options, on_data, nullptr, on_headers);
    if (end != WatchEnd::Closed) // a watch event ended it
        return end;
    if (!res) {
        watch_failure_ = lines.pending()
                             ? fmt::format("watch stream broke inside an event ({} bytes "
                                           "unparsed): {}",
                                           lines.pending(), res.error().message)
                             : "watch: " + res.error().message;
        return WatchEnd::Failed;
    }
    if (res->status == 410)
        return WatchEnd::Gone;
    if (res->status != 200) {
        watch_failure_ =
            fmt::format("watch pods: HTTP {}: {}", res->status, status_message(res->body));
        return WatchEnd::Failed;
    }
    if (lines.pending()) {
        watch_failure_ =
            fmt::format("watch stream ended inside an event ({} bytes unparsed)", lines.pending());
        return WatchEnd::Failed;
    }
    return WatchEnd::Closed;
}

bool KubernetesProvider::handle_event(std::string_view line, WatchEnd& end) {
    try {
        json event = json::parse(line, nullptr, false);
        if (event.is_discarded() || !event.is_object()) {
            watch_failure_ =
                fmt::format("{} in watch event ({} bytes): {}",
                            event.is_discarded() ? "malformed JSON" : "not a JSON object",
                            line.size(), preview(line));
            end = WatchEnd::Failed;
            return false;
        }
        std::string type = safe_json::string(event, "type");
        const json& object = safe_json::object(event, "object");
        if (type == "ADDED" || type == "MODIFIED" || type == "DELETED") {
            apply_pod(object, type == "DELETED");
        } else if (type == "BOOKMARK") {
            set_resource_version(
                safe_json::string(safe_json::object(object, "metadata"), "resourceVersion"));
        } else if (type == "ERROR") {
            long long code = safe_json::integer(object, "code");
            if (code == 410) {
                end = WatchEnd::Gone;
                return false;
            }
            watch_failure_ = fmt::format("watch ERROR event: code {}: {}", code,
                                         preview(safe_json::string(object, "message")));
            end = WatchEnd::Failed;
            return false;
        } else {
            spdlog::warn("metadata: {}: ignoring watch event of unknown type '{}'", options_.name,
                         preview(type));
            out().error();
        }
        return true;
    } catch (const std::exception& e) { // allocation failure or a JSON surprise
        watch_failure_ =
            fmt::format("watch event ({} bytes) not handled: {}", line.size(), e.what());
        end = WatchEnd::Failed;
        return false;
    }
}

void KubernetesProvider::apply_pod(const json& object, bool deleted) {
    auto records = pod_records(object, options_.limits);
    if (!records) {
        spdlog::warn("metadata: {}: ignoring a watch event: {}", options_.name,
                     records.error().message);
        out().error();
        return;
    }
    for (const auto& w : records->warnings) {
        spdlog::warn("metadata: {}: pod {}/{}: {}", options_.name, records->pod.namespace_,
                     records->pod.name, w);
        out().error();
    }
    const std::string uid = records->pod.uid;
    auto& known = pod_containers_[uid];
    if (deleted) {
        for (const auto& id : known)
            out().container_gone(id);
        out().pod_gone(uid);
        pod_containers_.erase(uid);
    } else {
        std::set<std::string> now;
        out().pod(std::move(records->pod));
        for (auto& c : records->containers) {
            now.insert(c.id);
            out().container(std::move(c));
        }
        for (const auto& id : known)
            if (!now.count(id))
                out().container_gone(id);
        known = std::move(now);
    }
    set_resource_version(std::move(records->resource_version));
}

} // namespace podguard::metadata::kubernetes

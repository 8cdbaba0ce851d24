#include "metadata/runtime/provider.h"

#include <spdlog/spdlog.h>

#include "metadata/backoff.h"
#include "metadata/json_util.h"

namespace podguard::metadata::runtime {

namespace {

using nlohmann::json;

// The libpod API of podman 4.x; podman 4.3 serves /v4.0.0/libpod/... and the
// Docker-compatible /v1.41/... on the same socket.
constexpr const char* kLibpod = "/v4.0.0/libpod";
constexpr const char* kDocker = "/v1.41";

std::string preview(std::string_view s, size_t max = 120) {
    std::string out;
    for (char c : s.substr(0, max))
        out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    if (s.size() > max)
        out += "...";
    return out;
}

std::string first_name(const json& names) {
    std::string name;
    if (names.is_array() && !names.empty() && names.front().is_string())
        name = names.front().get<std::string>();
    else if (names.is_string())
        name = names.get<std::string>();
    if (!name.empty() && name.front() == '/')
        name.erase(0, 1);
    return name;
}

std::string get_or(const std::map<std::string, std::string>& m, const char* key,
                   std::string fallback) {
    auto it = m.find(key);
    return it != m.end() && !it->second.empty() ? it->second : std::move(fallback);
}

Result<json> parse_body(const Result<HttpResult>& res, const std::string& what) {
    if (!res)
        return make_error(what + ": " + res.error().message);
    if (res->status != 200)
        return make_error(fmt::format("{}: HTTP {}: {}", what, res->status, preview(res->body)));
    json j = json::parse(res->body, nullptr, false);
    if (j.is_discarded())
        return make_error(fmt::format("{}: malformed JSON ({} bytes): {}", what, res->body.size(),
                                      preview(res->body)));
    return j;
}

bool refreshes(std::string_view action) {
    return action == "create" || action == "init" || action == "start" || action == "rename" ||
           action == "update" || action == "restart";
}

bool removes(std::string_view action) {
    return action == "remove" || action == "destroy";
}

} // namespace

const char* to_string(Api api) {
    switch (api) {
    case Api::Auto:
        return "auto";
    case Api::Libpod:
        return "libpod";
    case Api::Docker:
        return "docker";
    }
    return "?";
}

ContainerMeta libpod_container(const json& inspect, size_t max_labels, PodMeta* pod_hint) {
    const json& config = safe_json::object(inspect, "Config");
    auto annotations = safe_json::string_map(config, "Annotations", 1024);
    ContainerMeta c;
    c.id = safe_json::string(inspect, "Id");
    std::string name = safe_json::string(inspect, "Name");
    if (name.empty()) // list entries carry Names[]
        name = first_name(safe_json::field(inspect, "Names") ? *safe_json::field(inspect, "Names")
                                                             : json());
    c.name = get_or(annotations, "io.kubernetes.container.name", name);
    c.image = safe_json::string(inspect, "ImageName");
    if (c.image.empty())
        c.image = safe_json::string(config, "Image");
    if (c.image.empty())
        c.image = safe_json::string(inspect, "Image");
    c.runtime = "libpod";
    c.pod_uid = safe_json::string(inspect, "Pod");
    c.labels = safe_json::string_map(config, "Labels", max_labels);
    if (c.labels.empty())
        c.labels = safe_json::string_map(inspect, "Labels", max_labels);
    if (pod_hint) {
        pod_hint->uid = c.pod_uid;
        pod_hint->namespace_ = get_or(annotations, "io.kubernetes.pod.namespace", "");
        pod_hint->name = get_or(annotations, "io.kubernetes.pod.name", "");
    }
    return c;
}

PodMeta libpod_pod(const json& pod, size_t max_labels) {
    PodMeta p;
    p.uid = safe_json::string(pod, "Id");
    p.name = safe_json::string(pod, "Name");
    p.namespace_ = safe_json::string(pod, "Namespace"); // libpod namespace, usually empty
    p.labels = safe_json::string_map(pod, "Labels", max_labels);
    return p;
}

ContainerMeta docker_container(const json& summary, size_t max_labels, PodMeta* pod) {
    ContainerMeta c;
    c.id = safe_json::string(summary, "Id");
    c.labels = safe_json::string_map(summary, "Labels", max_labels);
    const json* names = safe_json::field(summary, "Names");
    c.name = get_or(c.labels, "io.kubernetes.container.name", first_name(names ? *names : json()));
    c.image = safe_json::string(summary, "Image");
    c.runtime = "docker";
    c.pod_uid = get_or(c.labels, "io.kubernetes.pod.uid", "");
    if (pod) {
        pod->uid = c.pod_uid;
        pod->namespace_ = get_or(c.labels, "io.kubernetes.pod.namespace", "");
        pod->name = get_or(c.labels, "io.kubernetes.pod.name", "");
    }
    return c;
}

RuntimeProvider::RuntimeProvider(RuntimeOptions options) : options_(std::move(options)) {
    target_.base_url = "http://localhost";
    target_.unix_socket = options_.socket_path;
}

RuntimeProvider::~RuntimeProvider() {
    stop();
}

Status RuntimeProvider::check() {
    if (options_.socket_path.empty())
        return make_error("runtime provider: no socket path");
    return {};
}

void RuntimeProvider::reset_connections() {
    events_http_.reset();
    api_http_.reset();
}

void RuntimeProvider::interrupt() {
    events_http_.interrupt();
    api_http_.interrupt();
}

std::string RuntimeProvider::describe() const {
    return options_.name + " (" + options_.socket_path + ")";
}

Result<Api> RuntimeProvider::detect() {
    if (options_.api != Api::Auto)
        return options_.api;
    auto body = parse_body(api_http_.get(target_, "/version"), "GET /version");
    if (!body)
        return make_error(body.error().message);
    for (const auto& component : safe_json::array(*body, "Components"))
        if (safe_json::string(component, "Name") == "Podman Engine")
            return Api::Libpod;
    return Api::Docker;
}

std::string RuntimeProvider::events_path() const {
    std::string filters =
        api() == Api::Libpod ? R"({"type":["container","pod"]})" : R"({"type":["container"]})";
    std::string base = api() == Api::Libpod ? std::string(kLibpod) + "/events?stream=true&"
                                            : std::string(kDocker) + "/events?";
    return base + "filters=" + url_escape(filters);
}

void RuntimeProvider::run() {
    Backoff backoff(options_.backoff_initial, options_.backoff_max);
    while (!stopping()) {
        if (api() == Api::Auto) {
            auto api = detect();
            if (stopping())
                break;
            if (!api) {
                fail(api.error().message);
                wait(backoff.next());
                continue;
            }
            api_.store(*api);
            spdlog::info("metadata: {}: {} speaks the {} API", options_.name, options_.socket_path,
                         to_string(*api));
        }

        // List once the event stream is open, so that nothing happening in
        // between is missed; re-list periodically in case an event was.
        bool stream_open = false;
        bool need_list = true;
        std::string failure;
        auto last_list = std::chrono::steady_clock::now();
        LineSplitter lines(options_.max_event_bytes);
        HttpOptions stream;
        stream.timeout_ms = 0;
        auto on_headers = [&](long status) { stream_open = status == 200; };
        auto on_data = [&](std::string_view chunk) {
            if (lines.feed(chunk, [&](std::string_view line) {
                    on_event_line(line);
                    return true;
                }))
                return true;
            failure = fmt::format("event larger than {} bytes", options_.max_event_bytes);
            return false;
        };
        auto on_idle = [&] {
            auto now = std::chrono::steady_clock::now();
            if (stream_open && (need_list || now - last_list >= options_.relist_interval)) {
                Status listed = relist();
                if (!listed) {
                    failure = listed.error().message;
                    return false;
                }
                need_list = false;
                last_list = now;
                backoff.reset();
                set_up(true);
            }
            process_pending();
            return true;
        };
        auto res = events_http_.get(target_, events_path(), stream, on_data, on_idle, on_headers);
        if (stopping())
            break;
        if (failure.empty())
            failure = !res ? res.error().message
                      : res->status != 200
                          ? fmt::format("GET events: HTTP {}: {}", res->status, preview(res->body))
                          : "event stream ended";
        fail(failure);
        if (options_.api == Api::Auto)
            api_.store(Api::Auto); // the engine behind the socket may have changed
        wait(backoff.next());
    }
}

Status RuntimeProvider::relist() {
    std::vector<ContainerMeta> containers;
    std::map<std::string, PodMeta> pods;
    std::map<std::string, ContainerMeta> known;
    if (api() == Api::Libpod) {
        auto list =
            parse_body(api_http_.get(target_, std::string(kLibpod) + "/containers/json?all=true"),
                       "list containers");
        if (!list)
            return make_error(list.error().message);
        for (const auto& entry : list->is_array() ? *list : json::array()) {
            std::string id = safe_json::string(entry, "Id");
            if (id.empty())
                continue;
            if (auto it = known_.find(id); it != known_.end()) {
                known.emplace(id, it->second);
                continue;
            }
            PodMeta hint;
            auto c = inspect_container(id, &hint);
            if (!c) { // removed since the list: its remove event follows
                spdlog::debug("metadata: {}: {}", options_.name, c.error().message);
                continue;
            }
            if (!hint.uid.empty() && (!hint.namespace_.empty() || !hint.name.empty()))
                pod_hints_[hint.uid] = hint;
            known.emplace(id, std::move(*c));
        }
        auto pod_list =
            parse_body(api_http_.get(target_, std::string(kLibpod) + "/pods/json"), "list pods");
        if (!pod_list)
            return make_error(pod_list.error().message);
        for (const auto& entry : pod_list->is_array() ? *pod_list : json::array()) {
            PodMeta p = libpod_pod(entry, options_.max_labels);
            if (p.uid.empty())
                continue;
            if (auto h = pod_hints_.find(p.uid); h != pod_hints_.end()) {
                if (!h->second.namespace_.empty())
                    p.namespace_ = h->second.namespace_;
                if (!h->second.name.empty())
                    p.name = h->second.name;
            }
            pods[p.uid] = std::move(p);
        }
    } else {
        auto list =
            parse_body(api_http_.get(target_, std::string(kDocker) + "/containers/json?all=true"),
                       "list containers");
        if (!list)
            return make_error(list.error().message);
        for (const auto& entry : list->is_array() ? *list : json::array()) {
            PodMeta pod;
            ContainerMeta c = docker_container(entry, options_.max_labels, &pod);
            if (c.id.empty())
                continue;
            if (!pod.uid.empty())
                pods[pod.uid] = std::move(pod);
            known.emplace(c.id, std::move(c));
        }
    }
    known_ = std::move(known);
    for (const auto& [id, c] : known_)
        containers.push_back(c);
    known_pods_ = pods;
    std::vector<PodMeta> pod_vector;
    for (auto& [uid, p] : pods)
        pod_vector.push_back(std::move(p));
    spdlog::debug("metadata: {}: listed {} containers, {} pods", options_.name, containers.size(),
                  pod_vector.size());
    out().resync(std::move(containers), std::move(pod_vector));
    lists_.fetch_add(1);
    return {};
}

Result<ContainerMeta> RuntimeProvider::inspect_container(const std::string& id, PodMeta* pod_hint) {
    if (api() == Api::Libpod) {
        auto body = parse_body(api_http_.get(target_, std::string(kLibpod) + "/containers/" +
                                                          url_escape(id) + "/json"),
                               "inspect container " + id);
        if (!body)
            return make_error(body.error().message);
        return libpod_container(*body, options_.max_labels, pod_hint);
    }
    std::string filter = R"({"id":[")" + id + R"("]})";
    auto body = parse_body(
        api_http_.get(target_, std::string(kDocker) +
                                   "/containers/json?all=true&filters=" + url_escape(filter)),
        "list container " + id);
    if (!body)
        return make_error(body.error().message);
    for (const auto& entry : body->is_array() ? *body : json::array())
        if (safe_json::string(entry, "Id") == id)
            return docker_container(entry, options_.max_labels, pod_hint);
    return make_error("container " + id + " not found");
}

Result<PodMeta> RuntimeProvider::inspect_pod(const std::string& id) {
    auto body = parse_body(
        api_http_.get(target_, std::string(kLibpod) + "/pods/" + url_escape(id) + "/json"),
        "inspect pod " + id);
    if (!body)
        return make_error(body.error().message);
    return libpod_pod(*body, options_.max_labels);
}

void RuntimeProvider::publish_pod(const std::string& pod_id, const PodMeta* hint) {
    PodMeta p;
    if (api() == Api::Libpod) {
        auto inspected = inspect_pod(pod_id);
        if (!inspected) {
            spdlog::debug("metadata: {}: {}", options_.name, inspected.error().message);
            return;
        }
        p = std::move(*inspected);
    } else if (hint) {
        p = *hint;
    }
    if (hint && !hint->namespace_.empty())
        p.namespace_ = hint->namespace_;
    if (hint && !hint->name.empty())
        p.name = hint->name;
    if (p.uid.empty())
        return;
    known_pods_[p.uid] = p;
    out().pod(std::move(p));
}

void RuntimeProvider::on_event_line(std::string_view line) {
    json event = json::parse(line, nullptr, false);
    if (event.is_discarded() || !event.is_object()) {
        spdlog::warn("metadata: {}: malformed event ({} bytes): {}", options_.name, line.size(),
                     preview(line));
        out().error();
        return;
    }
    std::string type = safe_json::string(event, "Type");
    std::string action = safe_json::string(event, "Action");
    if (action.empty())
        action = safe_json::string(event, "status");
    std::string id = safe_json::string(safe_json::object(event, "Actor"), "ID");
    if (id.empty())
        id = safe_json::string(event, "id");
    if ((type != "container" && type != "pod") || id.empty())
        return;
    pending_.push_back({std::move(type), std::move(action), std::move(id)});
}

void RuntimeProvider::process_pending() {
    auto pending = std::move(pending_);
    pending_.clear();
    for (const auto& ev : pending) {
        if (stopping())
            return;
        events_.fetch_add(1);
        if (ev.type == "pod") {
            if (removes(ev.action)) {
                known_pods_.erase(ev.id);
                pod_hints_.erase(ev.id);
                out().pod_gone(ev.id);
            } else if (refreshes(ev.action) && !known_pods_.count(ev.id)) {
                auto hint = pod_hints_.find(ev.id);
                publish_pod(ev.id, hint == pod_hints_.end() ? nullptr : &hint->second);
            }
            continue;
        }
        if (removes(ev.action)) {
            known_.erase(ev.id);
            out().container_gone(ev.id);
            continue;
        }
        if (!refreshes(ev.action))
            continue; // die, stop, cleanup, exec...: the record stays as it is
        if (ev.action != "rename" && ev.action != "update" && known_.count(ev.id))
            continue; // create, init, start of a container we already have
        PodMeta hint;
        auto c = inspect_container(ev.id, &hint);
        if (!c) {
            spdlog::debug("metadata: {}: {}", options_.name, c.error().message);
            continue;
        }
        if (!hint.uid.empty() && (!hint.namespace_.empty() || !hint.name.empty()))
            pod_hints_[hint.uid] = hint;
        std::string pod_uid = c->pod_uid;
        known_[ev.id] = *c;
        out().container(std::move(*c));
        if (!pod_uid.empty() && !known_pods_.count(pod_uid))
            publish_pod(pod_uid, hint.uid.empty() ? nullptr : &hint);
    }
}

} // namespace podguard::metadata::runtime

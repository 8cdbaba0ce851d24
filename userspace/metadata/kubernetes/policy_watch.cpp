#include "metadata/kubernetes/policy_watch.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "metadata/backoff.h"
#include "metadata/json_util.h"

namespace podguard::metadata::kubernetes {

namespace {

using nlohmann::json;

std::string excerpt(std::string_view s, size_t max = 120) {
    std::string out;
    for (char c : s.substr(0, max))
        out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    return s.size() > max ? out + "..." : out;
}

std::string status_message(const std::string& body) {
    json j = json::parse(body, nullptr, false);
    std::string msg = j.is_discarded() ? "" : safe_json::string(j, "message");
    return msg.empty() ? excerpt(body) : msg;
}

} // namespace

Result<std::pair<std::string, std::string>> policy_document(const json& object) {
    const json& meta = safe_json::object(object, "metadata");
    std::string name = safe_json::string(meta, "name");
    if (name.empty())
        return make_error("PodGuardPolicy without metadata.name");
    // What the policy language knows; the server's own fields (uid,
    // resourceVersion, managedFields, status...) are not policy.
    json doc = {{"apiVersion", safe_json::string(object, "apiVersion")},
                {"kind", safe_json::string(object, "kind")},
                {"metadata", {{"name", name}}}};
    if (object.contains("spec"))
        doc["spec"] = object["spec"];
    return std::pair{name, doc.dump(2)};
}

PolicyWatch::PolicyWatch(PolicyWatchOptions options) : options_(std::move(options)) {}

PolicyWatch::~PolicyWatch() {
    stop();
}

void PolicyWatch::start() {
    thread_ = std::thread([this] { run(); });
}

void PolicyWatch::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    http_.interrupt();
    if (thread_.joinable())
        thread_.join();
}

bool PolicyWatch::wait(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

std::optional<PolicyObjects> PolicyWatch::take_changes() {
    std::lock_guard lock(mu_);
    if (!changed_)
        return std::nullopt;
    changed_ = false;
    return objects_;
}

std::string PolicyWatch::resource_version() const {
    std::lock_guard lock(mu_);
    return rv_;
}

void PolicyWatch::put(const std::string& name, std::string doc) {
    std::lock_guard lock(mu_);
    auto& slot = objects_[name];
    if (slot != doc) {
        slot = std::move(doc);
        changed_ = true;
    }
}

void PolicyWatch::erase(const std::string& name) {
    std::lock_guard lock(mu_);
    changed_ |= objects_.erase(name) > 0;
}

void PolicyWatch::run() {
    Backoff backoff(options_.backoff_initial, options_.backoff_max);
    bool need_list = true;
    auto stopping = [this] {
        std::lock_guard lock(mu_);
        return stopping_;
    };
    while (!stopping()) {
        if (need_list) {
            if (auto st = list(); !st) {
                if (stopping())
                    break;
                spdlog::warn("policy: PodGuardPolicy list: {} (retrying)", st.error().message);
                wait(backoff.next());
                continue;
            }
            need_list = false;
        }
        auto started = std::chrono::steady_clock::now();
        std::string rv = resource_version(), failure;
        End end = watch(failure);
        if (stopping())
            break;
        if (end == End::Gone) {
            spdlog::info("policy: PodGuardPolicy resourceVersion {} too old (410 Gone); listing "
                         "again",
                         rv);
            need_list = true;
        } else if (end == End::Failed) {
            spdlog::warn("policy: PodGuardPolicy watch: {} (reconnecting)", failure);
            wait(backoff.next());
        } else if (std::chrono::steady_clock::now() - started < std::chrono::seconds(1) &&
                   resource_version() == rv) {
            wait(backoff.next()); // ended at once without progress: do not spin
        } else {
            backoff.reset();
        }
    }
}

Status PolicyWatch::list() {
    auto target = http_target(options_.config);
    if (!target)
        return make_error(target.error().message);
    PolicyObjects fresh;
    std::string rv, cont;
    do {
        std::string path = std::string(kPolicyPath) + "?limit=500";
        if (!cont.empty())
            path += "&continue=" + url_escape(cont);
        auto res = http_.get(*target, path);
        if (!res)
            return make_error(res.error().message);
        if (res->status != 200)
            return make_error(fmt::format("HTTP {}: {}{}", res->status, status_message(res->body),
                                          res->status == 404 ? " (is the PodGuardPolicy CRD "
                                                               "installed?)"
                                                             : ""));
        json body = json::parse(res->body, nullptr, false);
        if (body.is_discarded() || !body.is_object())
            return make_error("malformed JSON: " + excerpt(res->body));
        for (const auto& item : safe_json::array(body, "items")) {
            auto doc = policy_document(item);
            if (!doc) {
                spdlog::warn("policy: skipping a listed PodGuardPolicy: {}", doc.error().message);
                continue;
            }
            fresh[doc->first] = std::move(doc->second);
        }
        const json& meta = safe_json::object(body, "metadata");
        rv = safe_json::string(meta, "resourceVersion");
        cont = safe_json::string(meta, "continue");
    } while (!cont.empty());
    if (rv.empty())
        return make_error("list without metadata.resourceVersion");
    const size_t count = fresh.size();
    {
        std::lock_guard lock(mu_);
        // A relist replaces everything: objects deleted while the watch was
        // gone disappear here.
        if (fresh != objects_ || !synced_.load()) {
            objects_ = std::move(fresh);
            changed_ = true;
        }
        rv_ = rv;
    }
    spdlog::info("policy: {} PodGuardPolicy object(s) listed at resourceVersion {}", count, rv);
    synced_ = true;
    lists_.fetch_add(1);
    return {};
}

PolicyWatch::End PolicyWatch::watch(std::string& failure) {
    auto target = http_target(options_.config);
    if (!target) {
        failure = target.error().message;
        return End::Failed;
    }
    std::string path =
        std::string(kPolicyPath) +
        "?watch=1&allowWatchBookmarks=true&resourceVersion=" + url_escape(resource_version()) +
        "&timeoutSeconds=" + std::to_string(options_.watch_timeout_seconds);
    LineSplitter lines(options_.max_event_bytes);
    End end = End::Closed;
    HttpOptions http_options;
    http_options.timeout_ms = 0;
    auto on_line = [&](std::string_view line) { return handle_event(line, end, failure); };
    auto on_data = [&](std::string_view chunk) {
        if (lines.feed(chunk, on_line))
            return true;
        if (lines.overflowed()) {
            failure = fmt::format("watch event larger than {} bytes", options_.max_event_bytes);
            end = End::Failed;
        }
        return false;
    };
    auto res = http_.get(*target, path, http_options, on_data);
    if (end != End::Closed)
        return end;
    if (!res) {
        failure = res.error().message;
        return End::Failed;
    }
    if (res->status == 410)
        return End::Gone;
    if (res->status != 200) {
        failure = fmt::format("HTTP {}: {}", res->status, status_message(res->body));
        return End::Failed;
    }
    if (lines.pending()) {
        failure = "stream ended inside an event";
        return End::Failed;
    }
    return End::Closed;
}

bool PolicyWatch::handle_event(std::string_view line, End& end, std::string& failure) {
    try {
        json event = json::parse(line, nullptr, false);
        if (event.is_discarded() || !event.is_object()) {
            failure = "malformed watch event: " + excerpt(line);
            end = End::Failed;
            return false;
        }
        std::string type = safe_json::string(event, "type");
        const json& object = safe_json::object(event, "object");
        const std::string rv =
            safe_json::string(safe_json::object(object, "metadata"), "resourceVersion");
        if (type == "ADDED" || type == "MODIFIED" || type == "DELETED") {
            auto doc = policy_document(object);
            if (!doc) {
                spdlog::warn("policy: ignoring a watch event: {}", doc.error().message);
            } else if (type == "DELETED") {
                spdlog::info("policy: PodGuardPolicy {} deleted", doc->first);
                erase(doc->first);
            } else {
                spdlog::info("policy: PodGuardPolicy {} {}", doc->first,
                             type == "ADDED" ? "added" : "modified");
                put(doc->first, std::move(doc->second));
            }
        } else if (type == "ERROR") {
            long long code = safe_json::integer(object, "code");
            if (code == 410) {
                end = End::Gone;
                return false;
            }
            failure = fmt::format("ERROR event {}: {}", code,
                                  excerpt(safe_json::string(object, "message")));
            end = End::Failed;
            return false;
        } else if (type != "BOOKMARK") {
            return true;
        }
        if (!rv.empty()) {
            std::lock_guard lock(mu_);
            rv_ = rv;
        }
        return true;
    } catch (const std::exception& e) {
        failure = std::string("watch event not handled: ") + e.what();
        end = End::Failed;
        return false;
    }
}

} // namespace podguard::metadata::kubernetes

#include "fake_kube_api.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <httplib.h>

namespace podguard::test {

using nlohmann::json;

namespace {

json status_object(int code, const std::string& reason, const std::string& message) {
    return {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason},
            {"code", code}};
}

} // namespace

json make_pod(const std::string& ns, const std::string& name, const std::string& uid,
              const std::string& node, const std::map<std::string, std::string>& labels,
              const std::vector<FakeContainer>& containers) {
    json spec_containers = json::array();
    json statuses = json::array();
    for (const auto& c : containers) {
        spec_containers.push_back({{"name", c.name}, {"image", c.image}});
        statuses.push_back({{"name", c.name},
                            {"image", c.image},
                            {"imageID", "sha256:0000"},
                            {"containerID", c.container_id},
                            {"ready", true},
                            {"restartCount", 0},
                            {"started", true},
                            {"state", {{"running", {{"startedAt", "2026-11-23T10:00:00Z"}}}}}});
    }
    return {
        {"kind", "Pod"},
        {"apiVersion", "v1"},
        {"metadata",
         {{"name", name},
          {"namespace", ns},
          {"uid", uid},
          {"resourceVersion", "0"},
          {"creationTimestamp", "2026-11-23T10:00:00Z"},
          {"labels", labels},
          {"annotations",
           {{"kubectl.kubernetes.io/default-container",
             containers.empty() ? "" : containers[0].name},
            {"unrelated.example.com/blob", std::string(200, 'x')}}}}},
        {"spec",
         {{"nodeName", node}, {"shareProcessNamespace", true}, {"containers", spec_containers}}},
        {"status", {{"phase", "Running"}, {"podIP", "10.0.0.7"}, {"containerStatuses", statuses}}}};
}

FakeKubeApi::FakeKubeApi(std::string token) : token_(std::move(token)) {}

FakeKubeApi::~FakeKubeApi() {
    kill();
}

std::string FakeKubeApi::url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
}

void FakeKubeApi::start() {
    {
        std::lock_guard lock(mu_);
        killed_ = false;
    }
    server_ = std::make_unique<httplib::Server>();
    server_->set_keep_alive_timeout(1); // so that kill() is quick
    serve();
    if (port_ == 0) {
        port_ = server_->bind_to_any_port("127.0.0.1");
        if (port_ <= 0)
            throw std::runtime_error("fake kube api: cannot bind 127.0.0.1");
    } else {
        bool bound = false;
        for (int i = 0; i < 100 && !bound; ++i) { // the old socket may linger a moment
            bound = server_->bind_to_port("127.0.0.1", port_);
            if (!bound)
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (!bound)
            throw std::runtime_error("fake kube api: cannot rebind port " + std::to_string(port_));
    }
    listener_ = std::thread([this] { server_->listen_after_bind(); });
}

void FakeKubeApi::kill() {
    if (!server_)
        return;
    {
        std::lock_guard lock(mu_);
        killed_ = true;
    }
    cv_.notify_all();
    server_->stop();
    if (listener_.joinable())
        listener_.join();
    server_.reset();
    std::lock_guard lock(mu_);
    watches_open_.clear();
}

void FakeKubeApi::serve() {
    server_->Get("/api/v1/pods", [this](const httplib::Request& req, httplib::Response& res) {
        handle(req, res, Resource::Pods);
    });
    server_->Get("/apis/podguard.io/v1alpha1/podguardpolicies",
                 [this](const httplib::Request& req, httplib::Response& res) {
                     handle(req, res, Resource::Policies);
                 });
}

void FakeKubeApi::handle(const httplib::Request& req, httplib::Response& res, Resource resource) {
    {
        std::unique_lock lock(mu_);
        if (req.get_header_value("Authorization") != "Bearer " + token_) {
            ++unauthorized_;
            res.status = 401;
            res.set_content(status_object(401, "Unauthorized", "Unauthorized").dump(),
                            "application/json");
            return;
        }
        std::string selector = req.get_param_value("fieldSelector");
        last_field_selector_ = selector;
        std::string node;
        if (selector.rfind("spec.nodeName=", 0) == 0)
            node = selector.substr(strlen("spec.nodeName="));
        auto on_node = [&](const json& pod) {
            return node.empty() || pod["spec"].value("nodeName", "") == node;
        };

        if (req.get_param_value("watch") == "1" || req.get_param_value("watch") == "true") {
            std::string rv_param = req.get_param_value("resourceVersion");
            last_watch_rv_ = rv_param;
            uint64_t from = rv_param.empty() ? rv_ : std::stoull(rv_param);
            if (from < compacted_rv_) {
                ++gone_;
                std::string message = "too old resource version: " + rv_param + " (" +
                                      std::to_string(compacted_rv_) + ")";
                if (gone_style_ == GoneStyle::HttpStatus) {
                    res.status = 410;
                    res.set_content(status_object(410, "Expired", message).dump(),
                                    "application/json");
                    return;
                }
                std::string line =
                    json{{"type", "ERROR"}, {"object", status_object(410, "Expired", message)}}
                        .dump() +
                    "\n";
                res.set_chunked_content_provider("application/json",
                                                 [line](size_t, httplib::DataSink& sink) {
                                                     sink.write(line.data(), line.size());
                                                     sink.done();
                                                     return true;
                                                 });
                return;
            }
            ++(resource == Resource::Pods ? watches_ : policy_watches_);
            auto watch = std::make_shared<Watch>();
            watch->resource = resource;
            watch->next = static_cast<size_t>(
                std::upper_bound(log_.begin(), log_.end(), from,
                                 [](uint64_t v, const auto& e) { return v < e.rv; }) -
                log_.begin());
            watches_open_.push_back(watch);
            res.set_chunked_content_provider(
                "application/json",
                [this, watch, on_node](size_t, httplib::DataSink& sink) {
                    std::string out;
                    Injection::Kind action = Injection::Data;
                    {
                        std::unique_lock lock(mu_);
                        cv_.wait_for(lock, std::chrono::milliseconds(50), [&] {
                            return killed_ || watch->next < log_.size() || !watch->inject.empty();
                        });
                        if (killed_)
                            return false;
                        for (; watch->next < log_.size(); ++watch->next)
                            if (log_[watch->next].resource == watch->resource ||
                                log_[watch->next].resource == Resource::Any)
                                out += log_[watch->next].line + "\n";
                        while (!watch->inject.empty() && action == Injection::Data) {
                            Injection i = std::move(watch->inject.front());
                            watch->inject.pop_front();
                            out += i.bytes;
                            action = i.kind;
                        }
                    }
                    if (!out.empty() && !sink.write(out.data(), out.size()))
                        return false;
                    if (action == Injection::Drop)
                        return false;
                    if (action == Injection::End)
                        sink.done();
                    return true;
                },
                [this, watch](bool) {
                    std::lock_guard lock(mu_);
                    watches_open_.erase(
                        std::remove(watches_open_.begin(), watches_open_.end(), watch),
                        watches_open_.end());
                });
            return;
        }

        if (resource == Resource::Policies) {
            ++policy_lists_;
            json items = json::array();
            for (const auto& [name, p] : policies_)
                items.push_back(p);
            json body = {{"kind", "PodGuardPolicyList"},
                         {"apiVersion", "podguard.io/v1alpha1"},
                         {"metadata", {{"resourceVersion", std::to_string(rv_)}}},
                         {"items", items}};
            res.set_content(body.dump(), "application/json");
            return;
        }
        if (!broken_list_body_.empty()) {
            ++lists_;
            res.set_content(broken_list_body_, "application/json");
            return;
        }
        // A list: pages of `limit` pods; the continue token is the offset.
        size_t limit = req.has_param("limit") ? std::stoul(req.get_param_value("limit")) : 0;
        size_t offset = 0;
        if (req.has_param("continue"))
            offset = std::stoul(req.get_param_value("continue"));
        else
            ++lists_;
        ++list_pages_;
        std::vector<json> matching;
        for (const auto& [uid, pod] : pods_)
            if (on_node(pod))
                matching.push_back(pod);
        json items = json::array();
        size_t end = limit ? std::min(matching.size(), offset + limit) : matching.size();
        for (size_t i = offset; i < end; ++i)
            items.push_back(matching[i]);
        json meta = {{"resourceVersion", std::to_string(rv_)}};
        if (end < matching.size())
            meta["continue"] = std::to_string(end);
        json body = {
            {"kind", "PodList"}, {"apiVersion", "v1"}, {"metadata", meta}, {"items", items}};
        res.set_content(body.dump(), "application/json");
    }
}

void FakeKubeApi::append_event(const std::string& type, const json& object, Resource resource) {
    log_.push_back({rv_, json{{"type", type}, {"object", object}}.dump(), resource});
    cv_.notify_all();
}

void FakeKubeApi::put_pod(json pod, bool emit_event) {
    std::lock_guard lock(mu_);
    ++rv_;
    pod["metadata"]["resourceVersion"] = std::to_string(rv_);
    std::string uid = pod["metadata"]["uid"];
    bool added = !pods_.count(uid);
    pods_[uid] = pod;
    if (emit_event)
        append_event(added ? "ADDED" : "MODIFIED", pod);
}

void FakeKubeApi::delete_pod(const std::string& uid) {
    std::lock_guard lock(mu_);
    auto it = pods_.find(uid);
    if (it == pods_.end())
        return;
    ++rv_;
    json pod = it->second;
    pod["metadata"]["resourceVersion"] = std::to_string(rv_);
    pods_.erase(it);
    append_event("DELETED", pod);
}

void FakeKubeApi::put_policy(json policy, bool emit_event) {
    std::lock_guard lock(mu_);
    ++rv_;
    policy["metadata"]["resourceVersion"] = std::to_string(rv_);
    std::string name = policy["metadata"]["name"];
    bool added = !policies_.count(name);
    policies_[name] = policy;
    if (emit_event)
        append_event(added ? "ADDED" : "MODIFIED", policy, Resource::Policies);
}

void FakeKubeApi::delete_policy(const std::string& name) {
    std::lock_guard lock(mu_);
    auto it = policies_.find(name);
    if (it == policies_.end())
        return;
    ++rv_;
    json policy = it->second;
    policy["metadata"]["resourceVersion"] = std::to_string(rv_);
    policies_.erase(it);
    append_event("DELETED", policy, Resource::Policies);
}

int FakeKubeApi::policy_lists() const {
    std::lock_guard lock(mu_);
    return policy_lists_;
}

int FakeKubeApi::policy_watches() const {
    std::lock_guard lock(mu_);
    return policy_watches_;
}

void FakeKubeApi::bookmark() {
    std::lock_guard lock(mu_);
    ++rv_; // other resources moved on; only the version reaches this watch
    append_event("BOOKMARK",
                 {{"kind", "Pod"},
                  {"apiVersion", "v1"},
                  {"metadata", {{"resourceVersion", std::to_string(rv_)}}}},
                 Resource::Any);
}

void FakeKubeApi::compact() {
    std::lock_guard lock(mu_);
    compacted_rv_ = ++rv_; // writes elsewhere moved the version on
    log_.clear();
    // Watches opened before still hold indexes into the old log.
    for (auto& w : watches_open_)
        w->next = 0;
}

void FakeKubeApi::error_410_to_watches() {
    json event = {{"type", "ERROR"},
                  {"object", status_object(410, "Expired", "too old resource version")}};
    inject_all({Injection::End, event.dump() + "\n"});
}

void FakeKubeApi::set_gone_style(GoneStyle style) {
    std::lock_guard lock(mu_);
    gone_style_ = style;
}

void FakeKubeApi::set_token(std::string token) {
    std::lock_guard lock(mu_);
    token_ = std::move(token);
}

void FakeKubeApi::break_lists(std::string body) {
    std::lock_guard lock(mu_);
    broken_list_body_ = std::move(body);
}

void FakeKubeApi::inject_all(Injection injection) {
    std::lock_guard lock(mu_);
    for (auto& w : watches_open_)
        w->inject.push_back(injection);
    cv_.notify_all();
}

void FakeKubeApi::send_raw(const std::string& bytes) {
    inject_all({Injection::Data, bytes});
}
void FakeKubeApi::drop_watches() {
    inject_all({Injection::Drop, ""});
}
void FakeKubeApi::end_watches() {
    inject_all({Injection::End, ""});
}

int FakeKubeApi::lists() const {
    std::lock_guard lock(mu_);
    return lists_;
}
int FakeKubeApi::list_pages() const {
    std::lock_guard lock(mu_);
    return list_pages_;
}
int FakeKubeApi::watches() const {
    std::lock_guard lock(mu_);
    return watches_;
}
int FakeKubeApi::gone_responses() const {
    std::lock_guard lock(mu_);
    return gone_;
}
int FakeKubeApi::unauthorized() const {
    std::lock_guard lock(mu_);
    return unauthorized_;
}
int FakeKubeApi::open_watches() const {
    std::lock_guard lock(mu_);
    return static_cast<int>(watches_open_.size());
}
std::string FakeKubeApi::last_watch_resource_version() const {
    std::lock_guard lock(mu_);
    return last_watch_rv_;
}
std::string FakeKubeApi::last_field_selector() const {
    std::lock_guard lock(mu_);
    return last_field_selector_;
}
uint64_t FakeKubeApi::resource_version() const {
    std::lock_guard lock(mu_);
    return rv_;
}

bool FakeKubeApi::eventually(const std::function<bool()>& pred, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
}

} // namespace podguard::test

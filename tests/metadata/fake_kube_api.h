// A Kubernetes API server double for the resources the agent uses
// (/api/v1/pods and /apis/podguard.io/v1alpha1/podguardpolicies), speaking the real wire format:
// bearer-token auth, paged lists with resourceVersion/continue, chunked newline-delimited watch
// events, bookmarks, 410 Gone (as an HTTP status or an ERROR event). It can be killed mid-watch and
// restarted on the same port with its state intact.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace httplib {
class Server;
struct Request;
struct Response;
} // namespace httplib

namespace podguard::test {

struct FakeContainer {
    std::string name;
    std::string image;
    std::string container_id; // "containerd://<id>"
};

// A minimal but real-shaped Pod object.
nlohmann::json make_pod(const std::string& ns, const std::string& name, const std::string& uid,
                        const std::string& node, const std::map<std::string, std::string>& labels,
                        const std::vector<FakeContainer>& containers);

class FakeKubeApi {
  public:
    enum class GoneStyle { HttpStatus, ErrorEvent };

    explicit FakeKubeApi(std::string token);
    ~FakeKubeApi();

    void start(); // a random port the first time, the same port after kill()
    void kill();  // like a crash: open watches are cut mid-stream
    std::string url() const;

    // Cluster state: each change gets the next resourceVersion and a watch event.
    // ADDED when the uid is new, else MODIFIED. Without emit_event the change
    // is in the state but in no watch, as if compacted away.
    void put_pod(nlohmann::json pod, bool emit_event = true);
    void delete_pod(const std::string& uid);
    // PodGuardPolicy objects (cluster-scoped, keyed by metadata.name).
    void put_policy(nlohmann::json policy, bool emit_event = true);
    void delete_policy(const std::string& name);
    int policy_lists() const;
    int policy_watches() const;
    void bookmark();             // BOOKMARK at the current resourceVersion
    void compact();              // watches from older resourceVersions now get 410
    void error_410_to_watches(); // an ERROR event with code 410, then the stream ends
    void set_gone_style(GoneStyle style);
    void set_token(std::string token);
    // Lists answer 200 with this body (empty: normal lists again).
    void break_lists(std::string body);

    // Sent as is to every open watch (malformed JSON, half an event...).
    void send_raw(const std::string& bytes);
    void drop_watches(); // cut without the final chunk
    void end_watches();  // end cleanly (final chunk)

    // What clients did.
    int lists() const;      // first pages
    int list_pages() const; // every page
    int watches() const;    // watch requests answered 200
    int gone_responses() const;
    int unauthorized() const;
    int open_watches() const;
    std::string last_watch_resource_version() const;
    std::string last_field_selector() const;
    uint64_t resource_version() const;

    // Polls pred every 10 ms until true or timeout.
    static bool eventually(const std::function<bool()>& pred, int timeout_ms = 5000);

  private:
    struct Injection {
        enum Kind { Data, Drop, End } kind = Data;
        std::string bytes;
    };
    enum class Resource { Pods, Policies, Any };
    struct LogEntry {
        uint64_t rv = 0;
        std::string line;
        Resource resource = Resource::Any;
    };
    struct Watch {
        Resource resource = Resource::Pods;
        size_t next = 0; // index into log_
        std::deque<Injection> inject;
    };
    void serve(); // installs handlers and listens
    void handle(const httplib::Request& req, httplib::Response& res, Resource resource);
    void append_event(const std::string& type, const nlohmann::json& object,
                      Resource resource = Resource::Pods);
    void inject_all(Injection injection);

    std::unique_ptr<httplib::Server> server_;
    std::thread listener_;
    int port_ = 0;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool killed_ = false;
    std::string token_;
    std::string broken_list_body_;
    GoneStyle gone_style_ = GoneStyle::HttpStatus;
    uint64_t rv_ = 1000;
    uint64_t compacted_rv_ = 0;
    std::map<std::string, nlohmann::json> pods_;     // by uid
    std::map<std::string, nlohmann::json> policies_; // by name
    std::vector<LogEntry> log_;
    std::vector<std::shared_ptr<Watch>> watches_open_;
    int lists_ = 0, list_pages_ = 0, watches_ = 0, gone_ = 0, unauthorized_ = 0;
    int policy_lists_ = 0, policy_watches_ = 0;
    std::string last_watch_rv_, last_field_selector_;
};

} // namespace podguard::test

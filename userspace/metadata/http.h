// A small libcurl wrapper for the metadata providers: GET over TCP (http/https)
// or a unix socket, buffered or streamed, and interruptible from another
// thread so that stop() never waits for a blocked watch.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace podguard::metadata {

// Where and how to connect. PEM fields hold the data itself, *_file fields a path.
struct HttpTarget {
    std::string base_url;    // "https://10.0.0.1:6443", "http://127.0.0.1:8080", "http://d"
    std::string unix_socket; // non-empty: connect through this socket, base_url names the host
    std::string bearer_token;
    std::string ca_file;
    std::string ca_pem;
    std::string client_cert_file;
    std::string client_cert_pem;
    std::string client_key_file;
    std::string client_key_pem;
    bool insecure_skip_tls_verify = false;
};

struct HttpOptions {
    long connect_timeout_ms = 5000;
    long timeout_ms = 30000;                // whole request; 0 = none (watches, event streams)
    size_t max_buffered_bytes = 256u << 20; // cap for buffered bodies (and error bodies)
    long idle_ms = 200;                     // on_idle period while a stream is quiet
};

struct HttpResult {
    long status = 0;
    std::string body; // buffered body; for a streamed 2xx only what on_data did not take (empty)
};

class HttpClient {
  public:
    // Gets the status once the headers are in.
    using HeadersFn = std::function<void(long status)>;
    // Gets body bytes of a 2xx response as they arrive; false stops the transfer.
    using DataFn = std::function<bool(std::string_view chunk)>;
    // Runs between socket waits (never inside a curl callback): a safe place for
    // other blocking work; false stops the transfer.
    using IdleFn = std::function<bool()>;

    HttpClient();
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Error: transport failure, interrupt, or a callback returning false.
    // Non-2xx statuses are results (with the body buffered), not errors.
    Result<HttpResult> get(const HttpTarget& target, const std::string& path_and_query,
                           const HttpOptions& options = {}, const DataFn& on_data = nullptr,
                           const IdleFn& on_idle = nullptr, const HeadersFn& on_headers = nullptr);

    // Any thread: the running get() (and every later one until reset()) returns
    // an error within milliseconds.
    void interrupt();
    void reset();
    bool interrupted() const { return interrupted_.load(); }

  private:
    void* multi_ = nullptr; // CURLM*
    std::atomic<bool> interrupted_{false};
};

// Percent-encodes a query parameter value.
std::string url_escape(std::string_view s);

// Splits a byte stream into newline-terminated lines without copying whole
// streams; a line longer than max_line is an error rather than unbounded memory.
class LineSplitter {
  public:
    explicit LineSplitter(size_t max_line) : max_line_(max_line) {}
    // Calls on_line for each complete line (without '\n', '\r' trimmed, empty
    // lines skipped). false: on_line said stop, or a line grew past max_line.
    bool feed(std::string_view chunk, const std::function<bool(std::string_view)>& on_line);
    bool overflowed() const { return overflowed_; }
    size_t pending() const { return buf_.size(); } // bytes of an unfinished line
    void clear() {
        buf_.clear();
        overflowed_ = false;
    }

  private:
    size_t max_line_;
    std::string buf_;
    bool overflowed_ = false;
};

} // namespace podguard::metadata

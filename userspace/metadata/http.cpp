#include "metadata/http.h"

#include <memory>
#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>

namespace podguard::metadata {

namespace {

struct Transfer {
    CURL* easy = nullptr;
    const HttpClient::DataFn* on_data = nullptr;
    const HttpClient::HeadersFn* on_headers = nullptr;
    size_t max_buffered = 0;
    HttpResult result;
    bool consumer_stopped = false;
    bool too_large = false;
};

bool is_2xx(long status) {
    return status >= 200 && status < 300;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view line(data, size * n);
    if (line == "\r\n" || line == "\n") {
        long status = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200) { // a 1xx block is followed by the real one
            t->result.status = status;
            if (*t->on_headers)
                (*t->on_headers)(status);
        }
    }
    return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view chunk(data, size * n);
    if (t->result.status == 0)
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->result.status);
    if (is_2xx(t->result.status) && *t->on_data) {
        if (!(*t->on_data)(chunk)) {
            t->consumer_stopped = true;
            return 0;
        }
        return chunk.size();
    }
    if (t->result.body.size() + chunk.size() > t->max_buffered) {
        t->too_large = true;
        return 0;
    }
    t->result.body.append(chunk);
    return chunk.size();
}

struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

void set_blob(CURL* easy, CURLoption option, const std::string& pem) {
    curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(easy, option, &blob);
}

} // namespace

HttpClient::HttpClient() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    multi_ = curl_multi_init();
}

HttpClient::~HttpClient() {
    curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void HttpClient::interrupt() {
    interrupted_.store(true);
    curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void HttpClient::reset() {
    interrupted_.store(false);
}

Result<HttpResult> HttpClient::get(const HttpTarget& target, const std::string& path_and_query,
                                   const HttpOptions& options, const DataFn& on_data,
                                   const IdleFn& on_idle, const HeadersFn& on_headers) {
    auto* multi = static_cast<CURLM*>(multi_);
    std::string url = target.base_url + path_and_query;
    if (interrupted_.load())
        return make_error(fmt::format("GET {}: interrupted", url));

    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy(curl_easy_init(), curl_easy_cleanup);
    if (!easy)
        return make_error("curl_easy_init failed");
    Transfer t;
    t.easy = easy.get();
    t.on_data = &on_data;
    t.on_headers = &on_headers;
    t.max_buffered = options.max_buffered_bytes;
    char errbuf[CURL_ERROR_SIZE] = {0};

    CURL* e = easy.get();
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, options.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, options.timeout_ms);
    // A watch may be quiet for minutes: keepalive notices a vanished peer.
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    if (!target.unix_socket.empty())
        curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, target.unix_socket.c_str());

    if (!target.ca_file.empty())
        curl_easy_setopt(e, CURLOPT_CAINFO, target.ca_file.c_str());
    if (!target.ca_pem.empty())
        set_blob(e, CURLOPT_CAINFO_BLOB, target.ca_pem);
    if (!target.client_cert_file.empty())
        curl_easy_setopt(e, CURLOPT_SSLCERT, target.client_cert_file.c_str());
    if (!target.client_cert_pem.empty())
        set_blob(e, CURLOPT_SSLCERT_BLOB, target.client_cert_pem);
    if (!target.client_key_file.empty())
        curl_easy_setopt(e, CURLOPT_SSLKEY, target.client_key_file.c_str());
    if (!target.client_key_pem.empty())
        set_blob(e, CURLOPT_SSLKEY_BLOB, target.client_key_pem);
    if (target.insecure_skip_tls_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    curl_slist* raw = curl_slist_append(nullptr, "Accept: application/json");
    std::string auth;
    if (!target.bearer_token.empty()) {
        auth = "Authorization: Bearer " + target.bearer_token;
        raw = curl_slist_append(raw, auth.c_str());
    }
    std::unique_ptr<curl_slist, SlistDeleter> headers(raw);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());

    if (CURLMcode mc = curl_multi_add_handle(multi, e); mc != CURLM_OK)
        return make_error(fmt::format("GET {}: {}", url, curl_multi_strerror(mc)));

    std::string failure;
    bool done = false;
    CURLcode code = CURLE_OK;
    bool idle_stopped = false;
    while (!done) {
        if (interrupted_.load()) {
            failure = "interrupted";
            break;
        }
        int running = 0;
        if (CURLMcode mc = curl_multi_perform(multi, &running); mc != CURLM_OK) {
            failure = curl_multi_strerror(mc);
            break;
        }
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == e) {
                done = true;
                code = msg->data.result;
            }
        }
        if (done)
            break;
        if (on_idle && !on_idle()) {
            idle_stopped = true;
            break;
        }
        curl_multi_poll(multi, nullptr, 0, static_cast<int>(options.idle_ms), nullptr);
    }
    curl_multi_remove_handle(multi, e);

    if (!failure.empty())
        return make_error(fmt::format("GET {}: {}", url, failure));
    if (idle_stopped || t.consumer_stopped)
        return make_error(fmt::format("GET {}: stopped by the consumer", url));
    if (t.too_large)
        return make_error(
            fmt::format("GET {}: response larger than {} bytes", url, options.max_buffered_bytes));
    if (code != CURLE_OK)
        return make_error(fmt::format("GET {}: {}{}{}", url, curl_easy_strerror(code),
                                      errbuf[0] ? ": " : "", errbuf));
    if (t.result.status == 0)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &t.result.status);
    return std::move(t.result);
}

std::string url_escape(std::string_view s) {
    char* escaped = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
    if (!escaped)
        return {};
    std::string out(escaped);
    curl_free(escaped);
    return out;
}

bool LineSplitter::feed(std::string_view chunk,
                        const std::function<bool(std::string_view)>& on_line) {
    while (!chunk.empty()) {
        size_t nl = chunk.find('\n');
        if (nl == std::string_view::npos) {
            if (buf_.size() + chunk.size() > max_line_) {
                overflowed_ = true;
                return false;
            }
            buf_.append(chunk);
            return true;
        }
        std::string_view line;
        if (buf_.empty()) {
            line = chunk.substr(0, nl);
        } else {
            if (buf_.size() + nl > max_line_) {
                overflowed_ = true;
                return false;
            }
            buf_.append(chunk.substr(0, nl));
            line = buf_;
        }
        chunk.remove_prefix(nl + 1);
        if (line.size() > max_line_) {
            overflowed_ = true;
            return false;
        }
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        bool keep_going = line.empty() || on_line(line);
        buf_.clear();
        if (!keep_going)
            return false;
    }
    return true;
}

} // namespace podguard::metadata

#include "metrics/metrics_test_util.h"

#include <arpa/inet.h>
#include <cstdlib>
#include <curl/curl.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace podguard::metrics_test {

namespace fs = std::filesystem;

namespace {

size_t append_body(char* data, size_t size, size_t nmemb, void* user) {
    static_cast<std::string*>(user)->append(data, size * nmemb);
    return size * nmemb;
}

} // namespace

HttpResponse http_get(const std::string& url, long timeout_ms) {
    HttpResponse response;
    CURL* curl = curl_easy_init();
    if (!curl) {
        response.error = "curl_easy_init failed";
        return response;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK)
        response.error = curl_easy_strerror(rc);
    else
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    curl_easy_cleanup(curl);
    return response;
}

std::string url_encode(const std::string& text) {
    char* escaped = curl_easy_escape(nullptr, text.c_str(), static_cast<int>(text.size()));
    std::string out = escaped ? escaped : "";
    curl_free(escaped);
    return out;
}

CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_data) {
    TempDir dir;
    std::string in_path = dir.path() + "/stdin";
    std::string out_path = dir.path() + "/output";
    std::ofstream(in_path) << stdin_data;

    CommandResult result;
    pid_t pid = fork();
    if (pid < 0)
        throw std::runtime_error("fork failed");
    if (pid == 0) {
        int in = open(in_path.c_str(), O_RDONLY);
        int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0)
            _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.output = read_file(out_path);
    return result;
}

std::string find_tool(const std::string& name) {
    std::vector<std::string> dirs;
    if (const char* path = std::getenv("PATH")) {
        std::stringstream ss(path);
        std::string dir;
        while (std::getline(ss, dir, ':'))
            dirs.push_back(dir);
    }
    dirs.push_back("/usr/bin");
    for (const auto& dir : dirs) {
        std::string candidate = dir + "/" + name;
        if (access(candidate.c_str(), X_OK) == 0)
            return candidate;
    }
    return "";
}

int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        throw std::runtime_error("cannot find a free port on 127.0.0.1");
    close(fd);
    return ntohs(addr.sin_port);
}

std::string source_dir() {
    return PODGUARD_SOURCE_DIR;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TempDir::TempDir() {
    std::string templ = (fs::temp_directory_path() / "podguard-metrics-XXXXXX").string();
    if (!mkdtemp(templ.data()))
        throw std::runtime_error("mkdtemp failed");
    path_ = templ;
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

std::vector<Sample> parse_exposition(const std::string& text) {
    std::vector<Sample> samples;
    std::stringstream ss(text);
    std::string line;
    while (std::getline(ss, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        Sample s;
        size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ')
            ++i;
        s.name = line.substr(0, i);
        if (i < line.size() && line[i] == '{') {
            ++i;
            while (i < line.size() && line[i] != '}') {
                size_t eq = line.find('=', i);
                std::string key = line.substr(i, eq - i);
                size_t j = eq + 2; // skip ="
                std::string value;
                while (j < line.size() && line[j] != '"') {
                    if (line[j] == '\\' && j + 1 < line.size())
                        ++j;
                    value += line[j++];
                }
                s.labels[key] = value;
                i = j + 1;
                if (i < line.size() && line[i] == ',')
                    ++i;
            }
            ++i;
        }
        s.value = std::strtod(line.c_str() + i, nullptr);
        samples.push_back(std::move(s));
    }
    return samples;
}

std::optional<double> sample_value(const std::vector<Sample>& samples, const std::string& name,
                                   const std::map<std::string, std::string>& labels) {
    for (const auto& s : samples) {
        if (s.name != name)
            continue;
        bool match = true;
        for (const auto& [k, v] : labels) {
            auto it = s.labels.find(k);
            if (it == s.labels.end() || it->second != v) {
                match = false;
                break;
            }
        }
        if (match)
            return s.value;
    }
    return std::nullopt;
}

std::size_t count_series(const std::vector<Sample>& samples, const std::string& name) {
    std::size_t n = 0;
    for (const auto& s : samples)
        n += s.name == name;
    return n;
}

std::set<std::string> declared_families(const std::string& text) {
    std::set<std::string> names;
    std::stringstream ss(text);
    std::string line;
    while (std::getline(ss, line)) {
        if (line.rfind("# TYPE ", 0) != 0)
            continue;
        std::stringstream ls(line.substr(7));
        std::string name;
        ls >> name;
        names.insert(name);
    }
    return names;
}

Event pod_event(const std::string& ns, const std::string& pod, const std::string& container,
                EventKind kind, Relation relation, Action action) {
    Event e;
    e.kind = kind;
    e.relation = relation;
    e.action = action;
    e.source.known = true;
    e.source.pid = 4242;
    e.source.comm = "sh";
    e.source.container = ContainerInfo{"0123456789abcdef", "containerd", container, "img", "uid"};
    e.source.pod = PodInfo{ns, pod, "uid-" + pod, {}};
    e.target.known = true;
    e.target.pid = 4343;
    e.target.container = ContainerInfo{"fedcba9876543210", "containerd", "sidecar", "img", "uid"};
    e.target.pod = PodInfo{ns, pod, "uid-" + pod, {}};
    return e;
}

} // namespace podguard::metrics_test

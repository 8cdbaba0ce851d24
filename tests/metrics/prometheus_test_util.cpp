#include "metrics/prometheus_test_util.h"

#include <gtest/gtest.h>

#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <regex>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

namespace podguard::metrics_test {

using json = nlohmann::json;

namespace {

void collect_panels(const json& panels, std::vector<const json*>& out) {
    for (const auto& panel : panels) {
        out.push_back(&panel);
        if (panel.contains("panels"))
            collect_panels(panel["panels"], out);
    }
}

// label_values(<selector>, <label>) is Grafana's, not PromQL: ask for the
// same series with count by (label).
std::string variable_query_as_promql(const std::string& query) {
    static const std::regex label_values(R"(^\s*label_values\((.*),\s*(\w+)\s*\)\s*$)");
    std::smatch m;
    if (std::regex_match(query, m, label_values))
        return "count by (" + m[2].str() + ") (" + m[1].str() + ")";
    return query;
}

} // namespace

std::string dashboard_path() {
    return source_dir() + "/dashboards/podguard.json";
}

std::string alerts_path() {
    return source_dir() + "/dashboards/alerts.yml";
}

json load_dashboard() {
    return json::parse(read_file(dashboard_path()));
}

std::vector<const json*> all_panels(const json& dashboard) {
    std::vector<const json*> out;
    collect_panels(dashboard["panels"], out);
    return out;
}

std::vector<Expression> dashboard_expressions(const json& dashboard) {
    std::vector<Expression> out;
    for (const json* panel : all_panels(dashboard)) {
        if (!panel->contains("targets"))
            continue;
        for (const auto& target : (*panel)["targets"])
            out.push_back(
                {"panel '" + panel->value("title", "") + "' target " + target.value("refId", ""),
                 target.value("expr", "")});
    }
    for (const auto& var : dashboard["templating"]["list"]) {
        if (var.value("type", "") != "query")
            continue;
        const auto& query = var["query"];
        std::string text =
            query.is_string() ? query.get<std::string>() : query.value("query", std::string());
        out.push_back({"variable '" + var.value("name", "") + "'", variable_query_as_promql(text)});
    }
    return out;
}

std::vector<Expression> alert_expressions() {
    std::vector<Expression> out;
    YAML::Node root = YAML::LoadFile(alerts_path());
    for (const auto& group : root["groups"])
        for (const auto& rule : group["rules"])
            out.push_back(
                {"alert " + rule["alert"].as<std::string>(), rule["expr"].as<std::string>()});
    return out;
}

std::string substitute_variables(const std::string& expr) {
    static const std::regex var(R"(\$\{?(\w+)\}?)");
    static const std::map<std::string, std::string> values{
        {"namespace", ".*"}, {"pod", ".*"},         {"__rate_interval", "1m"}, {"__interval", "1s"},
        {"__range", "1h"},   {"__range_s", "3600"}, {"datasource", "unused"},
    };
    std::string out;
    auto begin = std::sregex_iterator(expr.begin(), expr.end(), var);
    std::size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
        out += expr.substr(last, it->position() - last);
        auto found = values.find((*it)[1].str());
        if (found == values.end()) {
            ADD_FAILURE() << "unknown dashboard variable " << it->str() << " in " << expr;
            out += it->str();
        } else {
            out += found->second;
        }
        last = it->position() + it->length();
    }
    return out + expr.substr(last);
}

std::string require_tool(const std::string& name) {
    std::string path = find_tool(name);
    if (path.empty())
        ADD_FAILURE() << name
                      << " not found: install the Debian package prometheus (scripts/setup.sh)";
    return path;
}

PrometheusServer::PrometheusServer(const std::string& binary, int exporter_port)
    : port_(free_port()) {
    std::string config = dir_.path() + "/prometheus.yml";
    std::ofstream(config) << "global:\n"
                             "  scrape_interval: 1s\n"
                             "  scrape_timeout: 1s\n"
                             "  evaluation_interval: 1s\n"
                             "rule_files:\n"
                             "  - "
                          << alerts_path()
                          << "\n"
                             "scrape_configs:\n"
                             "  - job_name: podguard\n"
                             "    static_configs:\n"
                             "      - targets: ['127.0.0.1:"
                          << exporter_port << "']\n";
    log_ = dir_.path() + "/prometheus.log";
    std::vector<std::string> argv{
        binary, "--config.file=" + config, "--storage.tsdb.path=" + dir_.path() + "/data",
        "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
    pid_ = fork();
    if (pid_ < 0)
        throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        // Never outlive a test binary that died without unwinding.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        std::vector<char*> args;
        for (auto& a : argv)
            args.push_back(a.data());
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
}

PrometheusServer::~PrometheusServer() {
    if (pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
}

std::string PrometheusServer::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::string PrometheusServer::log() const {
    return read_file(log_);
}

bool PrometheusServer::running() const {
    siginfo_t info{};
    // WNOWAIT: look without reaping, so the destructor still owns the pid.
    return pid_ > 0 &&
           waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == 0;
}

bool PrometheusServer::wait_ready(std::chrono::milliseconds timeout) {
    return wait_for(
        [&] {
            auto r = http_get(url("/-/ready"), 500);
            return r.error.empty() && r.status == 200;
        },
        timeout);
}

bool PrometheusServer::wait_scrapes(int scrapes, std::chrono::milliseconds timeout) {
    return wait_for(
        [&] {
            json r = query("count_over_time(up{job=\"podguard\"}[1m])");
            json up = query("up{job=\"podguard\"}");
            if (!r.is_object() || r["data"]["result"].empty() || !up.is_object() ||
                up["data"]["result"].empty())
                return false;
            return std::stod(r["data"]["result"][0]["value"][1].get<std::string>()) >= scrapes &&
                   up["data"]["result"][0]["value"][1] == "1";
        },
        timeout);
}

json PrometheusServer::query(const std::string& promql) const {
    auto response = http_get(url("/api/v1/query?query=" + url_encode(promql)));
    if (!response.error.empty())
        return nullptr;
    return json::parse(response.body, nullptr, false);
}

json PrometheusServer::rules() const {
    auto response = http_get(url("/api/v1/rules"));
    if (!response.error.empty())
        return nullptr;
    return json::parse(response.body, nullptr, false);
}

} // namespace podguard::metrics_test

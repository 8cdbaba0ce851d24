#include "metadata/kubernetes/config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace podguard::metadata::kubernetes {

namespace {

Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return make_error(fmt::format("cannot read {}", path));
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
        s.pop_back();
    return s;
}

std::string scalar(const YAML::Node& node, const char* key) {
    YAML::Node v = node[key];
    return v && v.IsScalar() ? v.as<std::string>() : std::string();
}

YAML::Node named(const YAML::Node& list, const std::string& name, const char* inner) {
    if (!list || !list.IsSequence())
        return {};
    for (const auto& item : list)
        if (item.IsMap() && scalar(item, "name") == name)
            return item[inner];
    return {};
}

std::string resolve(const std::filesystem::path& dir, const std::string& p) {
    if (p.empty() || std::filesystem::path(p).is_absolute())
        return p;
    return (dir / p).string();
}

} // namespace

std::string base64_decode(const std::string& in, bool* ok) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z')
            return c - 'A';
        if (c >= 'a' && c <= 'z')
            return c - 'a' + 26;
        if (c >= '0' && c <= '9')
            return c - '0' + 52;
        if (c == '+' || c == '-')
            return 62;
        if (c == '/' || c == '_')
            return 63;
        return -1;
    };
    std::string out;
    unsigned bits = 0;
    int nbits = 0;
    bool good = true;
    for (char c : in) {
        if (c == '=' || c == '\n' || c == '\r' || c == ' ')
            continue;
        int v = value(c);
        if (v < 0) {
            good = false;
            break;
        }
        bits = (bits << 6) | static_cast<unsigned>(v);
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out.push_back(static_cast<char>((bits >> nbits) & 0xff));
        }
    }
    if (ok)
        *ok = good;
    return good ? out : std::string();
}

Result<KubeConfig> in_cluster_config(const std::string& service_account_dir,
                                     const std::function<const char*(const char*)>& getenv_fn) {
    auto env = [&](const char* name) -> std::string {
        const char* v = getenv_fn ? getenv_fn(name) : std::getenv(name);
        return v ? v : "";
    };
    std::string host = env("KUBERNETES_SERVICE_HOST");
    std::string port = env("KUBERNETES_SERVICE_PORT");
    if (host.empty() || port.empty())
        return make_error("not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set");
    if (host.find(':') != std::string::npos) // IPv6 literal
        host = "[" + host + "]";
    KubeConfig c;
    c.server = fmt::format("https://{}:{}", host, port);
    c.token_file = service_account_dir + "/token";
    c.ca_file = service_account_dir + "/ca.crt";
    auto token = read_file(c.token_file);
    if (!token)
        return make_error("in-cluster config: " + token.error().message);
    if (!std::filesystem::exists(c.ca_file))
        return make_error("in-cluster config: missing " + c.ca_file);
    return c;
}

Result<KubeConfig> load_kubeconfig(const std::string& path, const std::string& context) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const std::exception& e) {
        return make_error(fmt::format("kubeconfig {}: {}", path, e.what()));
    }
    try {
        std::string ctx_name = context.empty() ? scalar(root, "current-context") : context;
        if (ctx_name.empty())
            return make_error(fmt::format("kubeconfig {}: no current-context", path));
        YAML::Node ctx = named(root["contexts"], ctx_name, "context");
        if (!ctx || !ctx.IsMap())
            return make_error(fmt::format("kubeconfig {}: no context {}", path, ctx_name));
        std::string cluster_name = scalar(ctx, "cluster");
        std::string user_name = scalar(ctx, "user");
        YAML::Node cluster = named(root["clusters"], cluster_name, "cluster");
        if (!cluster || !cluster.IsMap())
            return make_error(fmt::format("kubeconfig {}: no cluster {}", path, cluster_name));
        YAML::Node user = named(root["users"], user_name, "user");

        auto dir = std::filesystem::path(path).parent_path();
        KubeConfig c;
        c.server = scalar(cluster, "server");
        if (c.server.empty())
            return make_error(
                fmt::format("kubeconfig {}: cluster {} has no server", path, cluster_name));
        c.ca_file = resolve(dir, scalar(cluster, "certificate-authority"));
        bool ok = true;
        c.ca_pem = base64_decode(scalar(cluster, "certificate-authority-data"), &ok);
        if (!ok)
            return make_error(
                fmt::format("kubeconfig {}: certificate-authority-data is not base64", path));
        YAML::Node insecure = cluster["insecure-skip-tls-verify"];
        c.insecure_skip_tls_verify = insecure && insecure.IsScalar() && insecure.as<bool>();
        if (user && user.IsMap()) {
            if (user["exec"] || user["auth-provider"])
                return make_error(fmt::format(
                    "kubeconfig {}: user {} uses exec/auth-provider credentials, which podguard "
                    "does not run; use a token or client certificate",
                    path, user_name));
            c.token = scalar(user, "token");
            c.token_file = resolve(dir, scalar(user, "tokenFile"));
            c.client_cert_file = resolve(dir, scalar(user, "client-certificate"));
            c.client_key_file = resolve(dir, scalar(user, "client-key"));
            bool ok_cert = true, ok_key = true;
            c.client_cert_pem = base64_decode(scalar(user, "client-certificate-data"), &ok_cert);
            c.client_key_pem = base64_decode(scalar(user, "client-key-data"), &ok_key);
            if (!ok_cert || !ok_key)
                return make_error(
                    fmt::format("kubeconfig {}: client-certificate/key-data is not base64", path));
        }
        return c;
    } catch (const std::exception& e) {
        return make_error(fmt::format("kubeconfig {}: {}", path, e.what()));
    }
}

Result<KubeConfig> resolve_config(const std::string& kubeconfig_path, const std::string& context) {
    if (!kubeconfig_path.empty())
        return load_kubeconfig(kubeconfig_path, context);
    return in_cluster_config();
}

std::string default_node_name() {
    if (const char* node = std::getenv("NODE_NAME"); node && *node)
        return node;
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) != 0)
        return {};
    return host;
}

Result<HttpTarget> http_target(const KubeConfig& config) {
    HttpTarget t;
    t.base_url = config.server;
    while (!t.base_url.empty() && t.base_url.back() == '/')
        t.base_url.pop_back();
    t.bearer_token = config.token;
    if (!config.token_file.empty()) {
        auto token = read_file(config.token_file);
        if (!token)
            return make_error("service-account token: " + token.error().message);
        t.bearer_token = trim(std::move(*token));
    }
    t.ca_file = config.ca_file;
    t.ca_pem = config.ca_pem;
    t.client_cert_file = config.client_cert_file;
    t.client_cert_pem = config.client_cert_pem;
    t.client_key_file = config.client_key_file;
    t.client_key_pem = config.client_key_pem;
    t.insecure_skip_tls_verify = config.insecure_skip_tls_verify;
    return t;
}

} // namespace podguard::metadata::kubernetes

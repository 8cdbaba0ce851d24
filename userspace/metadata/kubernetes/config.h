// How to reach the Kubernetes API server: from inside a pod (service account)
// or from a kubeconfig file.
#pragma once

#include <functional>
#include <string>

#include "common/result.h"
#include "metadata/http.h"

namespace podguard::metadata::kubernetes {

struct KubeConfig {
    std::string server; // https://host:port (http:// is accepted, for tests and proxies)
    std::string token;
    std::string token_file; // re-read on every connection: projected tokens rotate
    std::string ca_file;
    std::string ca_pem;
    std::string client_cert_file;
    std::string client_cert_pem;
    std::string client_key_file;
    std::string client_key_pem;
    bool insecure_skip_tls_verify = false;
};

inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

// KUBERNETES_SERVICE_HOST/PORT from the environment (getenv by default), token
// and ca.crt from the service-account directory.
Result<KubeConfig>
in_cluster_config(const std::string& service_account_dir = kServiceAccountDir,
                  const std::function<const char*(const char*)>& getenv_fn = nullptr);

// The cluster and user of `context` (empty: current-context). Relative file
// paths resolve against the kubeconfig's directory, as kubectl does.
Result<KubeConfig> load_kubeconfig(const std::string& path, const std::string& context = "");

// --kubeconfig FILE when given, else the in-cluster service account.
Result<KubeConfig> resolve_config(const std::string& kubeconfig_path,
                                  const std::string& context = "");

// NODE_NAME (set it from spec.nodeName with the downward API), else the hostname.
std::string default_node_name();

// The connection settings for one request; reads token_file.
Result<HttpTarget> http_target(const KubeConfig& config);

std::string base64_decode(const std::string& in, bool* ok = nullptr);

} // namespace podguard::metadata::kubernetes

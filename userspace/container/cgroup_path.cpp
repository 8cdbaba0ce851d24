#include "container/cgroup_path.h"

#include <algorithm>

namespace podguard {
namespace {

enum class Means { HostSide, Container, KubePod, LibpodPod };
enum class Where { Anywhere, UnderParent, InsideKubepods, UnderKubePod };
enum class Shape { Exact, Hex64, PodUid, PodUidUnderscored };

// One way a path component can look: <prefix><id>[<suffix>], where it may sit,
// and what it means. The first matching rule decides for a component.
struct Rule {
    Means means;
    Where where;
    std::string_view parent; // Where::UnderParent only
    std::string_view prefix;
    std::string_view suffix; // stripped when present; ".scope" is absent with cgroupfs drivers
    Shape shape;
    std::string_view runtime; // Means::Container only
};

constexpr Rule kRules[] = {
    // conmon supervises a container from the host side; its cgroup is not the container's.
    {Means::HostSide, Where::Anywhere, "", "libpod-conmon-", ".scope", Shape::Hex64, ""},
    {Means::HostSide, Where::Anywhere, "", "crio-conmon-", ".scope", Shape::Hex64, ""},
    // containerd's service cgroup holds the daemon and its shims, never a container.
    {Means::HostSide, Where::Anywhere, "", "containerd.service", "", Shape::Exact, ""},

    {Means::Container, Where::Anywhere, "", "libpod-", ".scope", Shape::Hex64, "libpod"},
    {Means::Container, Where::Anywhere, "", "cri-containerd-", ".scope", Shape::Hex64,
     "containerd"},
    {Means::Container, Where::Anywhere, "", "crio-", ".scope", Shape::Hex64, "crio"},
    {Means::Container, Where::Anywhere, "", "docker-", ".scope", Shape::Hex64, "docker"},
    {Means::Container, Where::UnderParent, "docker", "", "", Shape::Hex64, "docker"},
    // kubelet's cgroupfs driver names the container dir by the bare id, whatever the runtime.
    {Means::Container, Where::UnderKubePod, "", "", "", Shape::Hex64, "kubernetes"},

    // kubelet cgroupfs driver: .../kubepods/[burstable|besteffort/]pod<uid>
    {Means::KubePod, Where::InsideKubepods, "", "pod", "", Shape::PodUid, ""},
    // kubelet systemd driver: systemd reserves '-' in slice names, so the uid has '_'.
    {Means::KubePod, Where::InsideKubepods, "", "kubepods-pod", ".slice", Shape::PodUidUnderscored,
     ""},
    {Means::KubePod, Where::InsideKubepods, "", "kubepods-burstable-pod", ".slice",
     Shape::PodUidUnderscored, ""},
    {Means::KubePod, Where::InsideKubepods, "", "kubepods-besteffort-pod", ".slice",
     Shape::PodUidUnderscored, ""},

    {Means::LibpodPod, Where::UnderParent, "libpod_parent", "", "", Shape::Hex64, ""},
    {Means::LibpodPod, Where::Anywhere, "", "machine-libpod_pod_", ".slice", Shape::Hex64, ""},
};

bool is_lower_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool is_hex64(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), is_lower_hex);
}

// A UUID (8-4-4-4-12) or the 32-hex md5 the kubelet gives static pods.
bool is_pod_uid(std::string_view s) {
    if (s.size() == 32)
        return std::all_of(s.begin(), s.end(), is_lower_hex);
    if (s.size() != 36)
        return false;
    for (size_t i = 0; i < s.size(); ++i) {
        bool dash_here = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash_here ? s[i] != '-' : !is_lower_hex(s[i]))
            return false;
    }
    return true;
}

// The id a component carries under a rule, or nullopt when the rule does not match.
std::optional<std::string> extract(const Rule& rule, std::string_view component) {
    if (!component.starts_with(rule.prefix))
        return std::nullopt;
    std::string_view rest = component.substr(rule.prefix.size());
    if (!rule.suffix.empty() && rest.ends_with(rule.suffix))
        rest.remove_suffix(rule.suffix.size());
    switch (rule.shape) {
    case Shape::Exact:
        return rest.empty() ? std::optional<std::string>("") : std::nullopt;
    case Shape::Hex64:
        return is_hex64(rest) ? std::optional<std::string>(rest) : std::nullopt;
    case Shape::PodUid:
        return is_pod_uid(rest) ? std::optional<std::string>(rest) : std::nullopt;
    case Shape::PodUidUnderscored: {
        std::string uid(rest);
        std::replace(uid.begin(), uid.end(), '_', '-');
        return is_pod_uid(uid) ? std::optional<std::string>(std::move(uid)) : std::nullopt;
    }
    }
    return std::nullopt;
}

struct ScanState {
    std::string_view parent;
    bool inside_kubepods = false;
    bool parent_is_kube_pod = false;
};

bool placed(const Rule& rule, const ScanState& state) {
    switch (rule.where) {
    case Where::Anywhere:
        return true;
    case Where::UnderParent:
        return state.parent == rule.parent;
    case Where::InsideKubepods:
        return state.inside_kubepods;
    case Where::UnderKubePod:
        return state.parent_is_kube_pod;
    }
    return false;
}

} // namespace

std::optional<CgroupIdentity> parse_cgroup_path(std::string_view path) {
    std::optional<CgroupIdentity> found;
    std::string pod_uid, pod_id; // pod context since the last container seen
    ScanState state;

    while (!path.empty()) {
        size_t slash = path.find('/');
        std::string_view component = path.substr(0, slash);
        path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
        if (component.empty())
            continue;

        bool kube_pod_here = false;
        for (const Rule& rule : kRules) {
            if (!placed(rule, state))
                continue;
            std::optional<std::string> id = extract(rule, component);
            if (!id)
                continue;
            switch (rule.means) {
            case Means::HostSide:
                // Host side of whatever encloses it: the outer container, or the host.
                return found;
            case Means::Container:
                found = CgroupIdentity{std::move(*id), std::string(rule.runtime),
                                       std::move(pod_uid), std::move(pod_id)};
                pod_uid.clear();
                pod_id.clear();
                break;
            case Means::KubePod:
                pod_uid = std::move(*id);
                kube_pod_here = true;
                break;
            case Means::LibpodPod:
                pod_id = std::move(*id);
                break;
            }
            break;
        }

        if (component == "kubepods" || component == "kubepods.slice")
            state.inside_kubepods = true;
        state.parent_is_kube_pod = kube_pod_here;
        state.parent = component;
    }
    return found;
}

} // namespace podguard

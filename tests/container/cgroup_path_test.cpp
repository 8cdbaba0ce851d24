#include <gtest/gtest.h>

#include "container/cgroup_path.h"

namespace podguard {
namespace {

// Ids seen on real machines (the libpod ones from a podman kube-play pod here).
constexpr const char* kCid = "89090d7119310539d0a350177754d1bc451586176c1b7d43bb769682a5293c98";
constexpr const char* kPod = "c2fbc95bc1c2ff454fccf94c3ffcfb7bff2d82738987b493d7f727b0509d813a";
constexpr const char* kUid = "5f3f4b1e-9a0c-4d2e-8f6b-1c2d3e4f5a6b";
constexpr const char* kUidUnderscored = "5f3f4b1e_9a0c_4d2e_8f6b_1c2d3e4f5a6b";
constexpr const char* kStaticPodUid =
    "0b6e2a3fd6b8c5a1e4f7d9c2b3a4e5f6"; // kubelet: md5 of the manifest

struct Case {
    std::string name;
    std::string path;
    std::optional<CgroupIdentity> want;
};

std::string s(const char* c) {
    return c;
}

CgroupIdentity id(std::string runtime, std::string pod_uid = "", std::string pod_id = "") {
    return {kCid, std::move(runtime), std::move(pod_uid), std::move(pod_id)};
}

std::vector<Case> containers() {
    const std::string cid = kCid, pod = kPod, uid = kUid, uu = kUidUnderscored;
    return {
        // podman / libpod, cgroupfs manager
        {"libpod_in_pod", "/libpod_parent/" + pod + "/libpod-" + cid, id("libpod", "", pod)},
        {"libpod_no_pod", "/libpod_parent/libpod-" + cid, id("libpod")},
        {"libpod_nested_container_subcgroup",
         "/libpod_parent/" + pod + "/libpod-" + cid + "/container", id("libpod", "", pod)},
        // podman / libpod, systemd manager
        {"libpod_scope", "/machine.slice/libpod-" + cid + ".scope", id("libpod")},
        {"libpod_scope_nested", "/machine.slice/libpod-" + cid + ".scope/container", id("libpod")},
        {"libpod_pod_slice",
         "/machine.slice/machine-libpod_pod_" + pod + ".slice/libpod-" + cid + ".scope",
         id("libpod", "", pod)},
        // kubelet, cgroupfs driver
        {"k8s_cgroupfs_besteffort", "/kubepods/besteffort/pod" + uid + "/" + cid,
         id("kubernetes", uid)},
        {"k8s_cgroupfs_burstable", "/kubepods/burstable/pod" + uid + "/" + cid,
         id("kubernetes", uid)},
        {"k8s_cgroupfs_guaranteed", "/kubepods/pod" + uid + "/" + cid, id("kubernetes", uid)},
        {"k8s_cgroupfs_static_pod", "/kubepods/burstable/pod" + s(kStaticPodUid) + "/" + cid,
         id("kubernetes", kStaticPodUid)},
        {"k8s_cgroupfs_crio", "/kubepods/besteffort/pod" + uid + "/crio-" + cid, id("crio", uid)},
        {"k8s_cgroupfs_under_cgroup_root", "/kubelet/kubepods/burstable/pod" + uid + "/" + cid,
         id("kubernetes", uid)},
        // kubelet, systemd driver
        {"k8s_systemd_containerd",
         "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uu +
             ".slice/cri-containerd-" + cid + ".scope",
         id("containerd", uid)},
        {"k8s_systemd_besteffort_crio",
         "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uu + ".slice/crio-" +
             cid + ".scope",
         id("crio", uid)},
        {"k8s_systemd_guaranteed_docker",
         "/kubepods.slice/kubepods-pod" + uu + ".slice/docker-" + cid + ".scope",
         id("docker", uid)},
        {"k8s_systemd_container_with_own_subcgroups",
         "/kubepods.slice/kubepods-pod" + uu + ".slice/cri-containerd-" + cid + ".scope/init.scope",
         id("containerd", uid)},
        // docker
        {"docker_cgroupfs", "/docker/" + cid, id("docker")},
        {"docker_systemd", "/system.slice/docker-" + cid + ".scope", id("docker")},
        // kind: a Kubernetes node in a docker container; the pod's container is innermost.
        {"kind_node_pod_container",
         "/docker/" + s(kPod) + "/kubepods/besteffort/pod" + uid + "/" + cid,
         id("kubernetes", uid)},
        {"kind_node_itself", "/docker/" + cid + "/system.slice/containerd.service", id("docker")},
        {"trailing_slash", "/docker/" + cid + "/", id("docker")},
    };
}

std::vector<Case> hosts() {
    const std::string cid = kCid, pod = kPod, uid = kUid, uu = kUidUnderscored;
    return {
        {"root", "/", std::nullopt},
        {"empty", "", std::nullopt},
        {"user_slice", "/user.slice/user-0.slice/session-3.scope", std::nullopt},
        {"sshd", "/system.slice/sshd.service", std::nullopt},
        {"init_scope", "/init.scope", std::nullopt},
        {"test_dir", "/podguard-test/foo", std::nullopt},
        {"libpod_parent_itself", "/libpod_parent", std::nullopt},
        {"libpod_pod_cgroup", "/libpod_parent/" + pod, std::nullopt},
        {"libpod_conmon", "/libpod_parent/" + pod + "/libpod-conmon-" + cid, std::nullopt},
        {"libpod_conmon_scope", "/machine.slice/libpod-conmon-" + cid + ".scope", std::nullopt},
        {"crio_conmon",
         "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uu +
             ".slice/crio-conmon-" + cid + ".scope",
         std::nullopt},
        {"containerd_service_shim", "/system.slice/containerd.service/" + cid, std::nullopt},
        {"containerd_service_scope",
         "/system.slice/containerd.service/cri-containerd-" + cid + ".scope", std::nullopt},
        {"kubepods_qos_slice", "/kubepods.slice/kubepods-burstable.slice", std::nullopt},
        {"kube_pod_cgroup_only", "/kubepods/besteffort/pod" + uid, std::nullopt},
        {"kube_pod_slice_only",
         "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uu + ".slice",
         std::nullopt},
        {"bare_id_outside_kubepods_and_docker", "/system.slice/" + cid, std::nullopt},
        {"pod_dir_outside_kubepods", "/misc/pod" + uid + "/" + cid, std::nullopt},
        {"docker_dir_itself", "/docker", std::nullopt},
        {"kubelet_service", "/system.slice/kubelet.service", std::nullopt},
        // Ids must be exactly 64 lowercase hex.
        {"short_id", "/docker/" + cid.substr(0, 12), std::nullopt},
        {"long_id", "/docker/" + cid + "0", std::nullopt},
        {"uppercase_id",
         "/machine.slice/"
         "libpod-89090D7119310539D0A350177754D1BC451586176C1B7D43BB769682A5293C98.scope",
         std::nullopt},
        {"non_hex_id", "/system.slice/docker-" + std::string(64, 'g') + ".scope", std::nullopt},
        {"bad_pod_uid", "/kubepods/besteffort/podnot-a-uid/" + cid, std::nullopt},
        {"docker_scope_wrong_suffix", "/system.slice/docker-" + cid + ".service", std::nullopt},
    };
}

class ParseCgroupPath : public ::testing::TestWithParam<Case> {};

TEST_P(ParseCgroupPath, TellsContainerAndPod) {
    const Case& c = GetParam();
    std::optional<CgroupIdentity> got = parse_cgroup_path(c.path);
    ASSERT_EQ(got.has_value(), c.want.has_value()) << c.path;
    if (got) {
        EXPECT_EQ(got->container_id, c.want->container_id) << c.path;
        EXPECT_EQ(got->runtime, c.want->runtime) << c.path;
        EXPECT_EQ(got->pod_uid, c.want->pod_uid) << c.path;
        EXPECT_EQ(got->pod_id, c.want->pod_id) << c.path;
    }
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
    return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Containers, ParseCgroupPath, ::testing::ValuesIn(containers()), case_name);
INSTANTIATE_TEST_SUITE_P(Hosts, ParseCgroupPath, ::testing::ValuesIn(hosts()), case_name);

TEST(ParseCgroupPathPodUid, SystemdSliceUnderscoresBecomeDashes) {
    auto got = parse_cgroup_path(
        "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" +
        std::string(kUidUnderscored) + ".slice/cri-containerd-" + kCid + ".scope");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->pod_uid, kUid);
}

} // namespace
} // namespace podguard

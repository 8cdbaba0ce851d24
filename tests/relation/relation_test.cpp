#include <gtest/gtest.h>

#include "relation/relation.h"

using namespace podguard;

namespace {

Party host(uint32_t pidns = 1) {
    Party p;
    p.known = true;
    p.pidns = pidns;
    return p;
}

Party in(const std::string& container, const std::string& pod, uint32_t pidns) {
    Party p = host(pidns);
    p.container = ContainerInfo{container, "kubernetes", "", "", pod};
    return p;
}

} // namespace

TEST(Relation, EveryKindOfPair) {
    EXPECT_EQ(classify_relation(host(), host()), Relation::Host);
    EXPECT_EQ(classify_relation(host(), in("c1", "p1", 5)), Relation::HostToContainer);
    EXPECT_EQ(classify_relation(in("c1", "p1", 5), host()), Relation::ContainerToHost);
    EXPECT_EQ(classify_relation(in("c1", "p1", 5), in("c1", "p1", 5)), Relation::SameContainer);
    EXPECT_EQ(classify_relation(in("c1", "p1", 5), in("c2", "p1", 5)), Relation::SamePod);
    EXPECT_EQ(classify_relation(in("c1", "p1", 5), in("c3", "p2", 6)), Relation::CrossPod);
}

TEST(Relation, SharedPidNamespaceMeansSamePodWhenPodIsUnknown) {
    EXPECT_EQ(classify_relation(in("c1", "", 5), in("c2", "", 5)), Relation::SamePod);
    EXPECT_EQ(classify_relation(in("c1", "", 5), in("c2", "", 6)), Relation::CrossPod);
}

TEST(Relation, PodIdentityWinsOverNamespaces) {
    Party a = in("c1", "", 5), b = in("c2", "", 5);
    a.pod = PodInfo{"ns", "a", "uid-a", {}};
    b.pod = PodInfo{"ns", "b", "uid-b", {}};
    EXPECT_EQ(classify_relation(a, b), Relation::CrossPod);
}

TEST(Relation, UnresolvedTargetIsUnknown) {
    Party t;
    EXPECT_EQ(classify_relation(in("c1", "p1", 5), t), Relation::Unknown);
}

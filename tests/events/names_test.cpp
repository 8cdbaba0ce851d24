#include <gtest/gtest.h>

#include "events/event.h"
#include "events/names.h"
#include "podguard.h"

using namespace podguard;

TEST(Names, RelationNamesMatchTheEventContract) {
    EXPECT_STREQ(to_string(Relation::SamePod), "same_pod");
    EXPECT_STREQ(to_string(Relation::HostToContainer), "host_to_container");
    EXPECT_STREQ(to_string(Relation::ContainerToHost), "container_to_host");
    EXPECT_STREQ(to_string(Relation::CrossPod), "cross_pod");
    EXPECT_STREQ(to_string(Relation::SameContainer), "same_container");
    EXPECT_STREQ(to_string(Relation::Host), "host");
    EXPECT_STREQ(to_string(EventKind::ProcAccess), "proc_access");
}

TEST(Names, SignalsRoundTrip) {
    for (int n = 1; n <= 64; ++n)
        EXPECT_EQ(signal_number(signal_name(n)), n) << signal_name(n);
    EXPECT_EQ(signal_number("HUP"), 1);
    EXPECT_EQ(signal_number("9"), 9);
    EXPECT_EQ(signal_number("SIGNOPE"), std::nullopt);
    EXPECT_EQ(signal_number("65"), std::nullopt);
}

TEST(Names, EveryProcEntryHasAName) {
    for (uint16_t e = 1; e < PG_PROC_ENTRY_MAX; ++e) {
        std::string name = proc_entry_name(e);
        EXPECT_NE(name, "other");
        EXPECT_EQ(proc_entry_from_name(name), e);
    }
}

TEST(Names, FnvMatchesTheReferenceVectors) {
    // FNV-1a 64 reference values.
    EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
    EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
    EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(Names, SyscallsHaveNames) {
    for (uint16_t s = 1; s < PG_SYS_MAX; ++s)
        EXPECT_STRNE(syscall_name(s), "unknown") << s;
}

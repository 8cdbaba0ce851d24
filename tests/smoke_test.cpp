#include <gtest/gtest.h>

#include "events/event.h"

TEST(Names, RelationNamesMatchTheEventContract) {
    EXPECT_STREQ(podguard::to_string(podguard::Relation::SamePod), "same_pod");
    EXPECT_STREQ(podguard::to_string(podguard::Relation::HostToContainer), "host_to_container");
}

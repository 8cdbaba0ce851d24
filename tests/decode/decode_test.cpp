#include <cstring>
#include <gtest/gtest.h>
#include <vector>

#include "decode/decode.h"
#include "events/names.h"

using namespace podguard;

TEST(Decode, RejectsShortAndUnknownRecords) {
    TimeBase tb;
    std::vector<char> buf(sizeof(pg_signal_event));
    EXPECT_FALSE(decode_record(buf.data(), 3, tb).ok());
    auto* hdr = reinterpret_cast<pg_header*>(buf.data());
    hdr->kind = 99;
    auto r = decode_record(buf.data(), buf.size(), tb);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("unknown event kind 99"), std::string::npos);
    hdr->kind = PG_EV_PROC_ACCESS;
    r = decode_record(buf.data(), sizeof(pg_header) + 4, tb);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("truncated proc_access"), std::string::npos);
}

TEST(Decode, SignalRecord) {
    pg_signal_event raw{};
    raw.hdr.kind = PG_EV_SIGNAL;
    raw.hdr.syscall = PG_SYS_TGKILL;
    raw.hdr.result = -1;
    raw.hdr.time_ns = 5;
    raw.hdr.flags = PG_F_TARGET_KNOWN;
    raw.source.pid = 10;
    std::strcpy(raw.source.comm, "kill");
    raw.target.pid = 20;
    raw.sig = 15;
    raw.target_arg = 20;
    raw.tid_arg = 21;
    raw.delivery = PG_DELIVERY_IGNORED;
    TimeBase tb{1000};
    auto r = decode_record(&raw, sizeof(raw), tb);
    ASSERT_TRUE(r.ok()) << r.error().message;
    const Event& e = *r;
    EXPECT_EQ(e.time_ns, 1005u);
    EXPECT_EQ(e.source.comm, "kill");
    EXPECT_TRUE(e.target.known);
    const auto& d = std::get<SignalDetail>(e.detail);
    EXPECT_STREQ(syscall_name(d.syscall), "tgkill");
    EXPECT_EQ(d.number, 15);
    EXPECT_EQ(d.tid_arg, 21);
    EXPECT_EQ(d.delivery, "ignored");
    EXPECT_EQ(d.result, -1);
}

TEST(Decode, ProcAccessPathIsBoundedEvenWithoutTerminator) {
    pg_proc_access_event raw{};
    raw.hdr.kind = PG_EV_PROC_ACCESS;
    raw.hdr.syscall = PG_SYS_OPENAT;
    std::memset(raw.path, 'x', sizeof(raw.path));
    raw.path_len = 60000; // lies: must not read past the array
    raw.entry = PG_PROC_ENVIRON;
    auto r = decode_record(&raw, sizeof(raw), TimeBase{});
    ASSERT_TRUE(r.ok());
    const auto& d = std::get<ProcAccessDetail>(r->detail);
    EXPECT_EQ(d.path.size(), sizeof(raw.path));
    EXPECT_EQ(d.entry, "environ");
    EXPECT_FALSE(r->target.known);
}

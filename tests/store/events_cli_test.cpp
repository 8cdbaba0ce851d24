// `podguard events` against real store files.
#include <atomic>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "output/json_event.h"
#include "store/event_store.h"
#include "store/events_cli.h"
#include "store/time_arg.h"
#include "store_fixtures.h"
#include "support/sandbox.h"

using namespace podguard;
using namespace podguard::store_test;
using namespace std::chrono_literals;
using podguard::test::TempDir;

namespace {

struct CliRun {
    int code;
    std::string out, err;
};

CliRun events(std::vector<std::string> args) {
    std::ostringstream out, err;
    int code = events_main(args, out, err);
    return {code, out.str(), err.str()};
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

uint64_t now_ns() {
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

// The responder's store: a sidecar of pod web read the app's root at 03:12.
class EventsCli : public ::testing::Test {
  protected:
    void SetUp() override {
        StoreOptions o;
        o.path = path;
        o.max_age = std::chrono::seconds(0);
        auto store = EventStore::open(o);
        ASSERT_TRUE(store.ok()) << store.error().message;
        Who sidecar{"prod",    "web", "uid-web",     std::string(64, 'a'),
                    "sidecar", 4012,  "/usr/bin/cat"};
        Who app{"prod", "web", "uid-web", std::string(64, 'b'), "app", 3977, "/usr/bin/app"};
        Who db{"default", "db", "uid-db", std::string(64, 'd'), "postgres", 6000};
        std::vector<Event> evs = {
            make_event(t0, EventKind::ProcAccess, Action::Allowed, Relation::SamePod, sidecar, app),
            make_event(t0 + 60 * kSecond, EventKind::Signal, Action::Blocked, Relation::SamePod,
                       app, sidecar),
            make_event(now_ns() - 5 * 60 * kSecond, EventKind::Ptrace, Action::Audited,
                       Relation::CrossPod, sidecar, db),
        };
        std::vector<StoreRecord> records;
        for (auto& e : evs)
            records.push_back(make_record(e));
        auto st = (*store)->append(records);
        ASSERT_TRUE(st.ok()) << st.error().message;
    }

    TempDir dir;
    std::string path = dir.file("events.db");
    // 2025-11-23T03:12:05Z
    const uint64_t t0 = 1763867525ull * kSecond;
};

} // namespace

TEST(TimeArg, ParsesRfc3339AndAges) {
    const uint64_t now = 1763867525ull * kSecond;
    EXPECT_EQ(*parse_time_arg("2025-11-23T03:12:05Z", now), 1763867525ull * kSecond);
    EXPECT_EQ(*parse_time_arg("2025-11-23T03:12:05.5Z", now),
              1763867525ull * kSecond + kSecond / 2);
    EXPECT_EQ(*parse_time_arg("2025-11-23T05:12:05.000000001+02:00", now),
              1763867525ull * kSecond + 1);
    EXPECT_EQ(*parse_time_arg("2025-11-23 03:12:05z", now), 1763867525ull * kSecond);
    EXPECT_EQ(*parse_time_arg("2025-11-23T03:12Z", now), 1763867520ull * kSecond);
    EXPECT_EQ(*parse_time_arg("2025-11-23", now), 1763856000ull * kSecond);
    EXPECT_EQ(*parse_time_arg("10m", now), now - 600 * kSecond);
    EXPECT_EQ(*parse_time_arg("2h", now), now - 7200 * kSecond);
    EXPECT_EQ(*parse_time_arg("1h30m", now), now - 5400 * kSecond);
    EXPECT_EQ(*parse_time_arg("now", now), now);
    for (const char* bad : {"", "yesterday", "10x", "2025-13-01", "2025-11-23T25:00Z",
                            "2025-11-23T03:12:05Zjunk", "m10", "2025-11-23T03:12:05.Z"})
        EXPECT_FALSE(parse_time_arg(bad, now).ok()) << bad;
}

TEST_F(EventsCli, TableNamesBothSidesAndWhoStartedTheSource) {
    CliRun r = events(
        {"--store", path, "--since", "2025-11-23T03:10:00Z", "--until", "2025-11-23T03:13:00Z"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto out = lines(r.out);
    ASSERT_EQ(out.size(), 2u) << r.out; // header + the one event in the window
    EXPECT_NE(out[0].find("STARTED BY"), std::string::npos);
    EXPECT_NE(out[1].find("2025-11-23T03:12:05"), std::string::npos);
    EXPECT_NE(out[1].find("proc_access"), std::string::npos);
    EXPECT_NE(out[1].find("prod/web/sidecar 4012 cat"), std::string::npos) << out[1];
    EXPECT_NE(out[1].find("prod/web/app 3977 app"), std::string::npos) << out[1];
    EXPECT_NE(out[1].find("/proc/8/root/etc/secret"), std::string::npos) << out[1];
    EXPECT_NE(out[1].find("sh[4011]"), std::string::npos) << out[1];
}

TEST_F(EventsCli, JsonLinesCarryTheStoreProof) {
    CliRun r = events({"--store", path, "--pod", "web", "--output", "json"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto out = lines(r.out);
    ASSERT_EQ(out.size(), 3u) << r.out;
    auto first = nlohmann::json::parse(out[0]);
    EXPECT_EQ(first["store"]["id"], 1);
    EXPECT_EQ(first["store"]["hash"].get<std::string>().size(), 64u);
    EXPECT_EQ(first["kind"], "proc_access");
    EXPECT_EQ(first["source"]["container"]["name"], "sidecar");
    auto second = nlohmann::json::parse(out[1]);
    EXPECT_EQ(second["store"]["prev_hash"], first["store"]["hash"]);
}

TEST_F(EventsCli, FiltersReachTheQuery) {
    auto count = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {"--store", path, "--output", "json"});
        CliRun r = events(args);
        EXPECT_EQ(r.code, 0) << r.err;
        return lines(r.out).size();
    };
    EXPECT_EQ(count({}), 3u);
    EXPECT_EQ(count({"--kind", "signal"}), 1u);
    EXPECT_EQ(count({"--relation", "cross_pod"}), 1u);
    EXPECT_EQ(count({"--action", "blocked"}), 1u);
    EXPECT_EQ(count({"--namespace", "default"}), 1u);
    EXPECT_EQ(count({"--container", "bbbb"}), 2u);
    EXPECT_EQ(count({"--container", "postgres"}), 1u);
    EXPECT_EQ(count({"--pid", "3977"}), 2u);
    EXPECT_EQ(count({"--since", "10m"}), 1u);
    EXPECT_EQ(count({"--since", "10m", "--until", "1m"}), 1u);
    EXPECT_EQ(count({"--until", "10m"}), 2u);
    EXPECT_EQ(count({"--limit", "1"}), 1u);
}

TEST_F(EventsCli, LimitShowsTheLatestUnlessAStartIsGiven) {
    auto first_id = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {"--store", path, "--output", "json"});
        CliRun r = events(args);
        EXPECT_EQ(r.code, 0) << r.err;
        return nlohmann::json::parse(lines(r.out).at(0))["store"]["id"].get<int>();
    };
    EXPECT_EQ(first_id({"--limit", "2"}), 2); // the last two, oldest first
    EXPECT_EQ(first_id({"--limit", "2", "--since", "2025-01-01"}), 1);
    EXPECT_EQ(first_id({"--limit", "2", "--order", "desc"}), 3);
    EXPECT_EQ(first_id({"--limit", "2", "--order", "asc"}), 1);
}

TEST_F(EventsCli, VerifyExitsOneWithTheFirstBrokenLink) {
    CliRun ok = events({"verify", "--store", path});
    EXPECT_EQ(ok.code, 0) << ok.err;
    EXPECT_NE(ok.out.find("ok: 3 rows verified"), std::string::npos) << ok.out;
    // The parent's --store works too.
    EXPECT_EQ(events({"--store", path, "verify"}).code, 0);

    sql(path, "UPDATE event_json SET json = replace(json, 'secret', 'public') WHERE id = 1");
    CliRun broken = events({"verify", "--store", path});
    EXPECT_EQ(broken.code, 1);
    EXPECT_NE(broken.out.find("BROKEN at row 1: edited row"), std::string::npos) << broken.out;
}

TEST_F(EventsCli, UsageAndRuntimeErrors) {
    EXPECT_EQ(events({"--store", path, "--kind", "teleport"}).code, 2);
    EXPECT_EQ(events({"--store", path, "--since", "yesterday"}).code, 2);
    EXPECT_EQ(events({"--store", path, "--output", "xml"}).code, 2);
    EXPECT_EQ(events({"--bogus"}).code, 2);
    CliRun missing = events({"--store", dir.file("none.db")});
    EXPECT_EQ(missing.code, 1);
    EXPECT_NE(missing.err.find("no event store"), std::string::npos) << missing.err;
    EXPECT_EQ(events({"verify", "--store", dir.file("none.db")}).code, 1);
    CliRun help = events({"--help"});
    EXPECT_EQ(help.code, 0);
    EXPECT_NE(help.out.find("--container"), std::string::npos);
}

TEST_F(EventsCli, FollowPrintsRowsAsTheyAreStored) {
    std::atomic<bool> stop{false};
    std::ostringstream out, err;
    int code = -1;
    std::thread follower([&] {
        code = events_main({"--store", path, "--output", "json", "--follow", "--kind", "signal",
                            "--poll-interval-ms", "20"},
                           out, err, &stop);
    });
    // Appended while it follows: one matching, one filtered out, one matching.
    {
        StoreOptions o;
        o.path = path;
        auto store = EventStore::open(o);
        ASSERT_TRUE(store.ok());
        Who a{"prod", "web", "uid-web", std::string(64, 'a'), "sidecar", 4012};
        Who b{"prod", "web", "uid-web", std::string(64, 'b'), "app", 3977};
        for (auto kind : {EventKind::Signal, EventKind::Ptrace, EventKind::Signal}) {
            std::this_thread::sleep_for(100ms);
            std::vector<StoreRecord> r{
                make_record(make_event(now_ns(), kind, Action::Allowed, Relation::SamePod, a, b))};
            ASSERT_TRUE((*store)->append(r).ok());
        }
    }
    std::this_thread::sleep_for(300ms);
    stop = true;
    follower.join();
    ASSERT_EQ(code, 0) << err.str();
    auto got = lines(out.str());
    ASSERT_EQ(got.size(), 3u) << out.str(); // the stored signal, then the two new ones
    EXPECT_EQ(nlohmann::json::parse(got[0])["store"]["id"], 2);
    EXPECT_EQ(nlohmann::json::parse(got[1])["store"]["id"], 4);
    EXPECT_EQ(nlohmann::json::parse(got[2])["store"]["id"], 6);
}

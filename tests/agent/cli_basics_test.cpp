// The command line's basics: version, -o, argument errors in the order
// given, and a completion script that knows every option the binary has.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "agent_it.h"

namespace podguard::test {
namespace {

std::set<std::string> long_options(const std::string& help) {
    std::set<std::string> out;
    std::regex re("(--[a-z][a-z-]*)");
    for (std::sregex_iterator it(help.begin(), help.end(), re), end; it != end; ++it)
        out.insert((*it)[1]);
    return out;
}

TEST(CliBasics, VersionAsSubcommandAndFlag) {
    for (const char* arg : {"version", "--version"}) {
        auto r = run_command({podguard_binary(), arg}, 10s);
        EXPECT_TRUE(r.success()) << r.describe();
        EXPECT_EQ(r.out, std::string("podguard ") + PODGUARD_VERSION + "\n") << r.describe();
    }
}

TEST(CliBasics, EventsShortOutputFlagAndUnexpectedArgumentsInOrder) {
    TempDir dir;
    auto r = run_command(
        {podguard_binary(), "events", "--store", dir.file("none.db"), "-o", "json"}, 10s);
    EXPECT_EQ(r.err.find("not expected"), std::string::npos) << r.describe();
    r = run_command({podguard_binary(), "events", "extra1", "extra2", "-o", "json"}, 10s);
    EXPECT_EQ(r.status.code(), 2) << r.describe();
    EXPECT_NE(r.err.find("not expected: extra1 extra2"), std::string::npos) << r.describe();
}

TEST(CliBasics, RunRejectsABadSizeOrAgeInOneLine) {
    for (auto [flag, value] :
         {std::pair{"--events-max-bytes", "12X"}, std::pair{"--store-max-bytes", "lots"},
          std::pair{"--store-max-age", "soon"}}) {
        auto r = run_command({podguard_binary(), "run", flag, value}, 10s);
        EXPECT_EQ(r.status.code(), 2) << r.describe();
        EXPECT_NE(r.err.find(flag), std::string::npos) << r.describe();
    }
}

TEST(CliBasics, CompletionScriptKnowsEveryOption) {
    std::ifstream in(std::string(PODGUARD_SOURCE_DIR) + "/deploy/completion/podguard.bash");
    std::stringstream script;
    script << in.rdbuf();
    ASSERT_FALSE(script.str().empty());
    for (std::vector<std::string> sub :
         {std::vector<std::string>{"run"}, {"events"}, {"probe"}, {"policy", "check"}}) {
        std::vector<std::string> argv{podguard_binary()};
        argv.insert(argv.end(), sub.begin(), sub.end());
        argv.push_back("--help");
        auto r = run_command(argv, 10s);
        ASSERT_TRUE(r.success()) << r.describe();
        for (const auto& opt : long_options(r.out))
            EXPECT_NE(script.str().find(opt), std::string::npos)
                << sub[0] << " " << opt << " is missing from the completion script";
    }
}

} // namespace
} // namespace podguard::test

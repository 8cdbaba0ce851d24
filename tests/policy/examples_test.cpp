// The shipped policies load, the embedded default is the file, and the
// `policy check` logic reports like a compiler.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "policy/check.h"
#include "policy/compiled.h"
#include "policy/validate.h"

using namespace podguard::policy;
namespace fs = std::filesystem;

namespace {

const std::string kPolicies = std::string(PODGUARD_SOURCE_DIR) + "/deploy/policies";

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A scratch directory removed even when an assertion fails.
struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "pg-policy-XXXXXX").string();
        path = mkdtemp(tmpl.data());
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(path / name, std::ios::binary) << text;
        return (path / name).string();
    }
};

TEST(PolicyExamples, EveryShippedPolicyLoadsAndCompiles) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(kPolicies))
        if (e.path().extension() == ".yaml")
            files.push_back(e.path().filename().string());
    for (const char* f :
         {"default.yaml", "seed-pod.yaml", "demo-isolation.yaml", "audit-only.yaml"})
        EXPECT_NE(std::find(files.begin(), files.end(), f), files.end()) << f;
    for (const auto& f : files) {
        auto set = load_policies({kPolicies + "/" + f});
        ASSERT_TRUE(set.ok()) << f << "\n" << set.error().message;
        EXPECT_TRUE(compile(*set).ok()) << f;
    }
    auto all = load_policies({kPolicies});
    ASSERT_TRUE(all.ok()) << all.error().message;
    EXPECT_EQ(all->files.size(), files.size());
    EXPECT_TRUE(compile(*all).ok());
}

TEST(PolicyExamples, EmbeddedDefaultIsDeployDefaultYaml) {
    EXPECT_EQ(std::string(default_policy_yaml()), slurp(kPolicies + "/default.yaml"));
    auto set = load_default_policy();
    ASSERT_TRUE(set.ok()) << set.error().message;
    ASSERT_EQ(set->policies.size(), 1u);
    EXPECT_EQ(set->policies[0].name.value, "podguard-default");
}

TEST(PolicyExamples, SelfProtectionPolicyIsValidYaml) {
    auto doc = self_protection_policy();
    ASSERT_TRUE(doc.ok()) << doc.error().message;
    EXPECT_EQ(doc->name.value, kSelfProtectionName);
    EXPECT_NE(self_protection_yaml().find("agent: true"), std::string_view::npos);
}

TEST(PolicyCheck, SummaryOnSuccess) {
    std::ostringstream out, err;
    EXPECT_EQ(policy_check_main({kPolicies + "/demo-isolation.yaml", kPolicies + "/seed-pod.yaml"},
                                out, err),
              0);
    EXPECT_EQ(err.str(), "");
    EXPECT_NE(out.str().find("OK: 2 policies, 3 rules in 2 files\n"), std::string::npos)
        << out.str();
    EXPECT_NE(out.str().find("rules 1-1  podguard-self-protection\n"), std::string::npos);
    EXPECT_NE(out.str().find("rules 2-4  demo-isolation\n"), std::string::npos) << out.str();
    EXPECT_NE(out.str().find("rules 5-5  seed-pod\n"), std::string::npos);
    EXPECT_NE(out.str().find("compiled: 5 table rules"), std::string::npos);
}

TEST(PolicyCheck, EveryErrorOnItsOwnLineAndExitOne) {
    TempDir dir;
    std::string good = dir.write("good.yaml", slurp(kPolicies + "/seed-pod.yaml"));
    std::string bad = dir.write("bad.yml", "apiVersion: podguard.io/v1alpha1\n"
                                           "kind: PodGuardPolicy\n"
                                           "metadata: {name: bad}\n"
                                           "spec:\n"
                                           "  rules:\n"
                                           "    - name: r\n"
                                           "      action: deny\n"
                                           "      operations: [{signal: {signals: [SIGHUPP]}}]\n");
    std::ostringstream out, err;
    EXPECT_EQ(policy_check_main({dir.path.string()}, out, err), 1);
    EXPECT_EQ(out.str(), "");
    EXPECT_EQ(err.str(),
              bad +
                  ":7:15: error: unknown action 'deny' in spec.rules[0].action (expected allow, "
                  "audit or block)\n" +
                  bad +
                  ":8:40: error: unknown signal 'SIGHUPP' in spec.rules[0].operations[0] (a "
                  "name like SIGHUP or HUP, or a number 1..64) (did you mean 'SIGHUP'?)\n"
                  "2 errors\n");
    // All or nothing: the good file alone is fine, together they fail.
    EXPECT_TRUE(load_policies({good}).ok());
    EXPECT_FALSE(load_policies({good, bad}).ok());
}

TEST(PolicyCheck, MissingFilesAndEmptyDirectories) {
    TempDir dir;
    std::ostringstream out, err;
    EXPECT_EQ(policy_check_main({(dir.path / "nope.yaml").string(), dir.path.string()}, out, err),
              1);
    EXPECT_NE(err.str().find("nope.yaml:1:1: error: cannot read"), std::string::npos) << err.str();
    EXPECT_NE(err.str().find(dir.path.string() + ":1:1: error: no *.yaml or *.yml files"),
              std::string::npos);
    std::ostringstream out2, err2;
    EXPECT_EQ(policy_check_main({}, out2, err2), 1);
    EXPECT_NE(err2.str().find("give one or more"), std::string::npos);
}

TEST(PolicyCheck, DirectoriesSkipHiddenAndOtherFiles) {
    TempDir dir;
    dir.write("a.yaml", slurp(kPolicies + "/seed-pod.yaml"));
    dir.write("README.md", "not a policy");
    dir.write(".hidden.yaml", "garbage: [");
    auto set = load_policies({dir.path.string()});
    ASSERT_TRUE(set.ok()) << set.error().message;
    EXPECT_EQ(set->files.size(), 1u);
}

} // namespace

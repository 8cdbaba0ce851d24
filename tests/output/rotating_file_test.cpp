// The events file: owner-only from its first byte, rotated by size into
// whole-line files, reopened on request after an outside tool moved it.
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <sys/stat.h>

#include "output/rotating_file.h"
#include "support/sandbox.h"

using namespace podguard;

namespace {

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

bool exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

} // namespace

TEST(RotatingFile, CreatedOwnerOnlyEvenUnderAPermissiveUmask) {
    test::TempDir dir;
    mode_t old = ::umask(0);
    auto f = RotatingFile::open(dir.file("events.jsonl"), {});
    ::umask(old);
    ASSERT_TRUE(f.ok()) << f.error().message;
    struct stat st;
    ASSERT_EQ(::stat(dir.file("events.jsonl").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(RotatingFile, AWorldReadableFileLeftBehindIsNarrowed) {
    test::TempDir dir;
    const std::string path = dir.file("events.jsonl");
    std::ofstream(path) << "old\n";
    ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
    auto f = RotatingFile::open(path, {});
    ASSERT_TRUE(f.ok());
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(RotatingFile, RotatesBySizeKeepsCountAndWholeLines) {
    test::TempDir dir;
    const std::string path = dir.file("events.jsonl");
    auto f = RotatingFile::open(path, {100, 2});
    ASSERT_TRUE(f.ok());
    const std::string line(29, 'x');
    for (int i = 0; i < 20; ++i)
        ASSERT_TRUE((*f)->write(line + "\n").ok());
    EXPECT_TRUE(exists(path));
    EXPECT_TRUE(exists(path + ".1"));
    EXPECT_TRUE(exists(path + ".2"));
    EXPECT_FALSE(exists(path + ".3")) << "only max_files rotated files are kept";
    for (const auto& p : {path, path + ".1", path + ".2"}) {
        std::string text = read_all(p);
        EXPECT_LE(text.size(), 100u) << p;
        EXPECT_EQ(text.size() % 30, 0u) << p << " holds whole lines only";
        struct stat st;
        ASSERT_EQ(::stat(p.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0600u) << p;
    }
    EXPECT_GE((*f)->rotations(), 5u);
}

TEST(RotatingFile, ReopensThePathWhenAsked) {
    test::TempDir dir;
    const std::string path = dir.file("events.jsonl");
    auto f = RotatingFile::open(path, {});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->write("first\n").ok());
    ASSERT_EQ(::rename(path.c_str(), dir.file("moved").c_str()), 0);
    ASSERT_TRUE((*f)->write("second\n").ok()); // still the moved file
    request_events_reopen();
    ASSERT_TRUE((*f)->write("third\n").ok());
    EXPECT_EQ(read_all(dir.file("moved")), "first\nsecond\n");
    EXPECT_EQ(read_all(path), "third\n");
}

#include "output/rotating_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace podguard {

namespace {
std::atomic<uint64_t> g_reopen_requests{0};
static_assert(std::atomic<uint64_t>::is_always_lock_free);
} // namespace

void request_events_reopen() {
    g_reopen_requests.fetch_add(1); // lock-free: called from a signal handler
}

static bool take_events_reopen_request(uint64_t& seen) {
    uint64_t now = g_reopen_requests.load();
    if (now == seen)
        return false;
    seen = now;
    return true;
}

Result<std::unique_ptr<RotatingFile>> RotatingFile::open(const std::string& path,
                                                         RotationOptions options) {
    std::unique_ptr<RotatingFile> f(new RotatingFile(path, options));
    (void)take_events_reopen_request(f->reopen_seen_);
    if (auto st = f->open_now(); !st)
        return st.error();
    return f;
}

RotatingFile::~RotatingFile() {
    if (fd_ >= 0)
        close(fd_);
}

Status RotatingFile::open_now() {
    if (fd_ >= 0)
        close(fd_);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0)
        return make_error("cannot open events file " + path_ + ": " + strerror(errno));
    struct stat st;
    if (fstat(fd_, &st) != 0)
        return make_error("cannot stat events file " + path_ + ": " + strerror(errno));
    // A file an earlier version (or someone else) left readable to others
    // is narrowed: it is about to receive command lines.
    if (st.st_mode & 077)
        (void)fchmod(fd_, st.st_mode & 0700);
    size_ = static_cast<uint64_t>(st.st_size);
    return {};
}

Status RotatingFile::rotate() {
    // FILE.N-1 -> FILE.N, ..., FILE -> FILE.1: the oldest falls off.
    for (unsigned i = options_.max_files; i >= 1; --i) {
        std::string from = i == 1 ? path_ : path_ + "." + std::to_string(i - 1);
        std::string to = path_ + "." + std::to_string(i);
        if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT)
            return make_error("cannot rotate " + from + ": " + strerror(errno));
    }
    if (options_.max_files == 0 && ::unlink(path_.c_str()) != 0 && errno != ENOENT)
        return make_error("cannot rotate " + path_ + ": " + strerror(errno));
    ++rotations_;
    return open_now();
}

Status RotatingFile::write(std::string_view data) {
    if (take_events_reopen_request(reopen_seen_) || fd_ < 0)
        if (auto st = open_now(); !st)
            return st;
    if (options_.max_bytes && size_ > 0 && size_ + data.size() > options_.max_bytes)
        if (auto st = rotate(); !st)
            return st;
    while (!data.empty()) {
        ssize_t n = ::write(fd_, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return make_error(std::string("cannot write events: ") + strerror(errno));
        }
        data.remove_prefix(static_cast<size_t>(n));
        size_ += static_cast<uint64_t>(n);
    }
    return {};
}

} // namespace podguard

// The events file on disk: created owner-only (events carry command lines,
// which often hold secrets), rotated by size into FILE.1 .. FILE.N (FILE.1
// newest), and reopened when asked (after an outside tool moved it away).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace podguard {

struct RotationOptions {
    uint64_t max_bytes = 0; // 0: never rotate
    unsigned max_files = 5; // rotated files kept besides FILE
};

class RotatingFile {
  public:
    static Result<std::unique_ptr<RotatingFile>> open(const std::string& path,
                                                      RotationOptions options);
    ~RotatingFile();

    // Whole buffers only: a rotation happens between writes, never inside
    // one, so every file holds whole lines.
    Status write(std::string_view data);
    uint64_t rotations() const { return rotations_; }

  private:
    RotatingFile(std::string path, RotationOptions options)
        : path_(std::move(path)), options_(options) {}
    Status open_now();
    Status rotate();

    std::string path_;
    RotationOptions options_;
    int fd_ = -1;
    uint64_t size_ = 0;
    uint64_t rotations_ = 0;
    uint64_t reopen_seen_ = 0; // request_events_reopen() count acted on
};

// Called from the SIGUSR1 handler (async-signal-safe): every events file
// closes and opens its path again at its next write, as after logrotate.
void request_events_reopen();

} // namespace podguard

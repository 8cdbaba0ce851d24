// JSON lines to a file or stdout, for people and for log shippers.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "common/result.h"
#include "output/rotating_file.h"
#include "sinks/event_sink.h"

namespace podguard {

struct JsonSinkOptions {
    bool lifecycle = false;   // also write fork/exec/exit
    RotationOptions rotation; // for a file (not stdout)
};

class JsonLinesSink : public EventSink {
  public:
    // "-" is stdout. The file is opened for append and must be writable now.
    static Result<std::unique_ptr<JsonLinesSink>> open(const std::string& path,
                                                       JsonSinkOptions options = {});
    ~JsonLinesSink() override;

    void consume(const Event& event) noexcept override;
    void flush() noexcept override;
    uint64_t write_errors() const { return write_errors_; }
    uint64_t written() const { return written_; }

  private:
    JsonLinesSink(FILE* file, bool owned, JsonSinkOptions options)
        : file_(file), owned_(owned), options_(options) {}
    FILE* file_;
    std::unique_ptr<RotatingFile> rotating_; // a file: owner-only, rotated
    bool owned_;
    JsonSinkOptions options_;
    std::string buffer_;
    uint64_t write_errors_ = 0;
    uint64_t written_ = 0;
};

} // namespace podguard

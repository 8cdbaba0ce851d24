#include "sinks/json_sink.h"

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

#include "events/kinds.h"
#include "output/json_event.h"

namespace podguard {

namespace {
constexpr size_t kFlushAt = 256 * 1024;
}

Result<std::unique_ptr<JsonLinesSink>> JsonLinesSink::open(const std::string& path,
                                                           JsonSinkOptions options) {
    if (path == "-" || path.empty())
        return std::unique_ptr<JsonLinesSink>(new JsonLinesSink(stdout, false, options));
    auto file = RotatingFile::open(path, options.rotation);
    if (!file)
        return file.error();
    std::unique_ptr<JsonLinesSink> sink(new JsonLinesSink(nullptr, false, options));
    sink->rotating_ = std::move(*file);
    return sink;
}

JsonLinesSink::~JsonLinesSink() {
    flush();
    if (owned_)
        fclose(file_);
}

void JsonLinesSink::consume(const Event& event) noexcept {
    if (!options_.lifecycle && is_lifecycle(event.kind))
        return;
    try {
        buffer_ += event_json(event);
        buffer_ += '\n';
        ++written_;
    } catch (const std::exception& e) {
        ++write_errors_;
        return;
    }
    if (buffer_.size() >= kFlushAt)
        flush();
}

void JsonLinesSink::flush() noexcept {
    if (buffer_.empty())
        return;
    if (rotating_) {
        if (auto st = rotating_->write(buffer_); !st && write_errors_++ % 1000 == 0)
            spdlog::error("{}", st.error().message);
        buffer_.clear();
        return;
    }
    size_t n = fwrite(buffer_.data(), 1, buffer_.size(), file_);
    if (n != buffer_.size() || fflush(file_) != 0) {
        // Keep running: the store and metrics still see events. Say so, but
        // not once per event.
        if (write_errors_++ % 1000 == 0)
            spdlog::error("cannot write events: {}", strerror(errno));
        clearerr(file_);
    }
    buffer_.clear();
}

} // namespace podguard

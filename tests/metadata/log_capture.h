// Keeps the log lines written while it lives (and still prints them), so a
// test can check that a failure was reported clearly.
#pragma once

#include <memory>
#include <string>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace podguard::test {

class LogCapture {
  public:
    LogCapture()
        : previous_(spdlog::default_logger()),
          ring_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096)) {
        auto logger = std::make_shared<spdlog::logger>(
            "capture", spdlog::sinks_init_list{
                           ring_, std::make_shared<spdlog::sinks::stderr_color_sink_mt>()});
        logger->set_level(spdlog::level::info);
        spdlog::set_default_logger(logger);
    }
    ~LogCapture() { spdlog::set_default_logger(previous_); }

    bool contains(const std::string& text) const {
        for (const auto& line : ring_->last_formatted())
            if (line.find(text) != std::string::npos)
                return true;
        return false;
    }

  private:
    std::shared_ptr<spdlog::logger> previous_;
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring_;
};

} // namespace podguard::test

#include "metadata/threaded_provider.h"

#include <spdlog/spdlog.h>

namespace podguard::metadata {

Status ThreadedProvider::start(Publisher& out) {
    if (thread_.joinable())
        return make_error(name() + " provider already started");
    if (Status ok = check(); !ok)
        return ok;
    out_ = &out;
    {
        std::lock_guard lock(mu_);
        stopping_ = false;
    }
    reset_connections();
    thread_ = std::thread([this] { run(); });
    return {};
}

void ThreadedProvider::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    interrupt();
    if (thread_.joinable())
        thread_.join();
    if (out_)
        set_up(false);
}

bool ThreadedProvider::stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
}

bool ThreadedProvider::wait(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, d, [this] { return stopping_; });
    return !stopping_;
}

void ThreadedProvider::set_up(bool up) {
    up_.store(up);
    out_->set_up(up);
}

void ThreadedProvider::fail(const std::string& why) {
    spdlog::warn("metadata: {}: {}; reconnecting", describe(), why);
    out_->error();
    set_up(false);
}

} // namespace podguard::metadata

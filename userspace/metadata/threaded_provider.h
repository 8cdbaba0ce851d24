// What every provider shares: a thread of its own, a stop flag with an
// interruptible wait, and up/down reporting. A provider adds its
// configuration check, the blocking I/O to interrupt on stop, and its loop.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "metadata/metadata.h"

namespace podguard::metadata {

class ThreadedProvider : public Provider {
  public:
    Status start(Publisher& out) final;
    void stop() final;
    bool up() const final { return up_.load(); }

  protected:
    ThreadedProvider() = default;
    // A derived destructor must call stop(): run() uses the derived members.
    ~ThreadedProvider() override = default;

    // Bad configuration, refused before the thread starts.
    virtual Status check() { return {}; }
    // Fresh connection state for a (re)start.
    virtual void reset_connections() {}
    // Wakes run() out of blocking I/O; called from stop() on another thread.
    virtual void interrupt() {}
    // Who is speaking in log lines, e.g. "docker (/run/docker.sock)".
    virtual std::string describe() const { return name(); }
    virtual void run() = 0;

    bool stopping();
    // Sleeps up to d; false when stop() was asked for meanwhile.
    bool wait(std::chrono::milliseconds d);
    void set_up(bool up);
    // Logs, counts an error and goes down; the loop then backs off and retries.
    void fail(const std::string& why);
    Publisher& out() { return *out_; }

  private:
    Publisher* out_ = nullptr;
    std::thread thread_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::atomic<bool> up_{false};
};

} // namespace podguard::metadata

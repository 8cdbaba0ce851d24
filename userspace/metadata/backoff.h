// Capped exponential backoff with jitter, so that many agents restarting
// together do not reconnect to the API server in lockstep.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

namespace podguard::metadata {

class Backoff {
  public:
    Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
        : initial_(initial), max_(max), next_(initial) {}

    std::chrono::milliseconds next() {
        auto current = next_;
        next_ = std::min(max_, next_ * 2);
        std::uniform_real_distribution<double> jitter(0.8, 1.2);
        return std::chrono::milliseconds(
            static_cast<long long>(static_cast<double>(current.count()) * jitter(rng_)));
    }
    void reset() { next_ = initial_; }

  private:
    std::chrono::milliseconds initial_;
    std::chrono::milliseconds max_;
    std::chrono::milliseconds next_;
    std::minstd_rand rng_{std::random_device{}()};
};

} // namespace podguard::metadata

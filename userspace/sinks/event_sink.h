// Where enriched events go. The sinks live here (sinks/: the JSON stream,
// metrics); the store's (store/store_sink.h) and the policy runtime's
// (daemon/policy_runtime.h) live with what they feed.
// consume() runs on the pipeline thread and must not throw.
#pragma once

#include "events/event.h"

namespace podguard {

class EventSink {
  public:
    virtual ~EventSink() = default;
    virtual void consume(const Event& event) noexcept = 0;
    // Called when the ring buffer has been drained: a moment to write out.
    virtual void flush() noexcept {}
};

} // namespace podguard

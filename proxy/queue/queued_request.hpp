// What the admission queue holds for each waiting request: a weak reference to the request,
// whose callbacks may be invoked from any thread (the request hops back to its own worker).
#pragma once

#include <memory>

namespace spillway::queue {

class queued_request {
 public:
  virtual ~queued_request() = default;
  /// The request left the queue: it may pick an endpoint now. Any thread.
  virtual void on_dequeued() = 0;
  /// The request was pushed out of a full queue by a higher-priority one. Any thread.
  virtual void on_shed() = 0;
};

using queue_handle = std::weak_ptr<queued_request>;

}  // namespace spillway::queue

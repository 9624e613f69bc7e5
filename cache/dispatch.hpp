// How the cache hands results back to the thread that asked. Worker io_contexts run without
// locking (BOOST_ASIO_CONCURRENCY_HINT_UNSAFE), so the cache never posts to them directly: the
// caller passes a dispatcher, a function that runs a task later on the caller's own thread
// (for a worker: `[&w](cache::task t) { w.post(std::move(t)); }`). A dispatcher must never run
// the task inline, and must run the tasks it is given in the order given.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <functional>

namespace spillway::cache {

using task = std::function<void()>;
using dispatcher = std::function<void(task)>;

/// A dispatcher for a thread-safe executor (an io_context with the default concurrency hint,
/// or a strand); order is kept when the executor runs handlers in order.
inline dispatcher post_to(boost::asio::any_io_executor ex) {
  return [ex = std::move(ex)](task t) { boost::asio::post(ex, std::move(t)); };
}

}  // namespace spillway::cache

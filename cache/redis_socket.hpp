// hiredis's async API driven by Boost.Asio: hooks hiredis's event callbacks (addRead, delRead,
// addWrite, delWrite, cleanup) to async_wait on a posix::stream_descriptor over the context's
// socket. A readiness wait calls redisAsyncHandleRead/Write and re-arms while hiredis still
// wants that direction. The descriptor is released, never closed, on cleanup: hiredis owns
// the fd and closes it in redisAsyncFree.
//
// Threading: everything runs on the executor given to attach() (the Redis client's strand),
// which is also where every hiredis call on this context must be made. Wait handlers hold a
// shared_ptr, so the object outlives a context freed from inside one of its own callbacks.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <memory>

struct redisAsyncContext;

namespace spillway::cache {

class redis_socket : public std::enable_shared_from_this<redis_socket> {
 public:
  /// Installs the hooks on `ac` (whose fd must be valid). The caller keeps the returned
  /// pointer until the context is freed. nullptr (no hooks installed) if the descriptor
  /// cannot be registered with the reactor.
  static std::shared_ptr<redis_socket> attach(redisAsyncContext* ac,
                                              boost::asio::any_io_executor ex);

  redis_socket(redisAsyncContext* ac, boost::asio::any_io_executor ex);
  ~redis_socket();

 private:
  static void add_read(void* p);
  static void del_read(void* p);
  static void add_write(void* p);
  static void del_write(void* p);
  static void cleanup(void* p);

  void arm_read();
  void arm_write();
  void detach();

  boost::asio::posix::stream_descriptor sd_;
  redisAsyncContext* ac_;  // null once hiredis cleaned up
  bool want_read_ = false, want_write_ = false;
  bool read_armed_ = false, write_armed_ = false;
};

}  // namespace spillway::cache

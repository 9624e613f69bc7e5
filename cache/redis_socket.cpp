#include "cache/redis_socket.hpp"

#include <hiredis/async.h>

namespace spillway::cache {

std::shared_ptr<redis_socket> redis_socket::attach(redisAsyncContext* ac,
                                                   boost::asio::any_io_executor ex) {
  auto s = std::make_shared<redis_socket>(ac, std::move(ex));
  boost::system::error_code ec;
  s->sd_.assign(ac->c.fd, ec);  // registers with the reactor; no throw on failure
  if (ec) {
    s->ac_ = nullptr;
    return nullptr;
  }
  ac->ev.data = s.get();
  ac->ev.addRead = &redis_socket::add_read;
  ac->ev.delRead = &redis_socket::del_read;
  ac->ev.addWrite = &redis_socket::add_write;
  ac->ev.delWrite = &redis_socket::del_write;
  ac->ev.cleanup = &redis_socket::cleanup;
  return s;
}

redis_socket::redis_socket(redisAsyncContext* ac, boost::asio::any_io_executor ex)
    : sd_(std::move(ex)), ac_(ac) {}

redis_socket::~redis_socket() {
  detach();
}

void redis_socket::detach() {
  if (ac_) {
    ac_->ev.data = nullptr;
    ac_->ev.addRead = ac_->ev.delRead = ac_->ev.addWrite = ac_->ev.delWrite = nullptr;
    ac_->ev.cleanup = nullptr;
    ac_ = nullptr;
  }
  want_read_ = want_write_ = false;
  if (sd_.is_open()) sd_.release();  // cancels our waits; hiredis closes the fd
}

void redis_socket::add_read(void* p) {
  auto* s = static_cast<redis_socket*>(p);
  s->want_read_ = true;
  s->arm_read();
}
void redis_socket::del_read(void* p) {
  static_cast<redis_socket*>(p)->want_read_ = false;
}
void redis_socket::add_write(void* p) {
  auto* s = static_cast<redis_socket*>(p);
  s->want_write_ = true;
  s->arm_write();
}
void redis_socket::del_write(void* p) {
  static_cast<redis_socket*>(p)->want_write_ = false;
}
void redis_socket::cleanup(void* p) {
  static_cast<redis_socket*>(p)->detach();
}

void redis_socket::arm_read() {
  if (read_armed_ || !ac_) return;
  read_armed_ = true;
  sd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                 [self = shared_from_this()](const boost::system::error_code& ec) {
                   self->read_armed_ = false;
                   if (ec || !self->ac_ || !self->want_read_) return;
                   redisAsyncHandleRead(self->ac_);  // may free the context (then ac_ is null)
                   if (self->ac_ && self->want_read_) self->arm_read();
                 });
}

void redis_socket::arm_write() {
  if (write_armed_ || !ac_) return;
  write_armed_ = true;
  sd_.async_wait(boost::asio::posix::stream_descriptor::wait_write,
                 [self = shared_from_this()](const boost::system::error_code& ec) {
                   self->write_armed_ = false;
                   if (ec || !self->ac_ || !self->want_write_) return;
                   redisAsyncHandleWrite(self->ac_);
                   if (self->ac_ && self->want_write_) self->arm_write();
                 });
}

}  // namespace spillway::cache

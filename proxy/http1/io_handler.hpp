// The completion handler of a client_stream operation: a move-only callable of
// void(const error_code&, size_t) that keeps callables of up to 48 bytes in place (a session's
// handlers: a shared_ptr to the session and a pointer or two), larger ones on the heap.
// std::function would allocate for every capture that is not trivially copyable, a shared_ptr
// among them: twice per request on a TLS connection or an HTTP/2 stream.
//
// Threading: none of its own; a handler belongs to the operation that holds it.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

#include "common/error.hpp"

namespace spillway::http1 {

class io_handler {
 public:
  io_handler() noexcept = default;
  io_handler(std::nullptr_t) noexcept {}  // NOLINT: as std::function
  template <class F, class D = std::decay_t<F>,
            class = std::enable_if_t<!std::is_same_v<D, io_handler> &&
                                     !std::is_same_v<D, std::nullptr_t>>>
  io_handler(F&& f) {  // NOLINT: as std::function
    if constexpr (inline_fits<D>) {
      ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
      ops_ = &inline_ops<D>;
    } else {
      ::new (static_cast<void*>(buf_)) D*(new D(std::forward<F>(f)));
      ops_ = &heap_ops<D>;
    }
  }
  io_handler(io_handler&& o) noexcept { take(o); }
  io_handler& operator=(io_handler&& o) noexcept {
    if (this != &o) {
      reset();
      take(o);
    }
    return *this;
  }
  io_handler& operator=(std::nullptr_t) noexcept {
    reset();
    return *this;
  }
  io_handler(const io_handler&) = delete;
  io_handler& operator=(const io_handler&) = delete;
  ~io_handler() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }
  /// Calls the handler; it must hold one.
  void operator()(const error_code& ec, size_t n) const { ops_->call(buf_, ec, n); }

 private:
  static constexpr size_t capacity = 48;
  struct ops_table {
    void (*call)(void* self, const error_code& ec, size_t n);
    void (*move)(void* from, void* to) noexcept;  // move-constructs at `to`, destroys `from`
    void (*destroy)(void* self) noexcept;
  };
  template <class D>
  static constexpr bool inline_fits =
      sizeof(D) <= capacity &&
      alignof(D) <= alignof(std::max_align_t) && std::is_nothrow_move_constructible_v<D>;

  template <class D>
  static constexpr ops_table inline_ops = {
      [](void* self, const error_code& ec, size_t n) { (*static_cast<D*>(self))(ec, n); },
      [](void* from, void* to) noexcept {
        ::new (to) D(std::move(*static_cast<D*>(from)));
        static_cast<D*>(from)->~D();
      },
      [](void* self) noexcept { static_cast<D*>(self)->~D(); }};
  template <class D>
  static constexpr ops_table heap_ops = {
      [](void* self, const error_code& ec, size_t n) { (**static_cast<D**>(self))(ec, n); },
      [](void* from, void* to) noexcept { ::new (to) D*(*static_cast<D**>(from)); },
      [](void* self) noexcept { delete *static_cast<D**>(self); }};

  void take(io_handler& o) noexcept {
    if (!o.ops_) return;
    o.ops_->move(o.buf_, buf_);
    ops_ = o.ops_;
    o.ops_ = nullptr;
  }
  void reset() noexcept {
    if (!ops_) return;
    const ops_table* t = ops_;
    ops_ = nullptr;
    t->destroy(buf_);
  }

  alignas(std::max_align_t) mutable unsigned char buf_[capacity];
  const ops_table* ops_ = nullptr;
};

}  // namespace spillway::http1

#include "proxy/upstream_pool/connection_pool.hpp"

#include <algorithm>

namespace spillway::upstream_pool {

std::unique_ptr<upstream_connection> connection_pool::take(size_t endpoint) {
  auto& list = idle_[endpoint];
  if (list.empty()) return nullptr;
  auto c = std::move(list.back());
  list.pop_back();
  return c;
}

void connection_pool::give_back(size_t endpoint, std::unique_ptr<upstream_connection> c,
                                std::chrono::steady_clock::time_point now) {
  auto& list = idle_[endpoint];
  if (list.size() >= max_idle_) {
    boost::system::error_code ignored;
    c->socket.close(ignored);
    return;
  }
  c->idle_since = now;
  list.push_back(std::move(c));
}

void connection_pool::sweep(std::chrono::steady_clock::time_point now) {
  for (auto& list : idle_) {
    // Oldest first in the list: erase the prefix that has expired.
    auto keep = std::find_if(list.begin(), list.end(),
                             [&](const auto& c) { return now - c->idle_since < idle_timeout_; });
    for (auto it = list.begin(); it != keep; ++it) {
      boost::system::error_code ignored;
      (*it)->socket.close(ignored);
    }
    list.erase(list.begin(), keep);
  }
}

void connection_pool::clear() {
  for (auto& list : idle_) {
    for (auto& c : list) {
      boost::system::error_code ignored;
      c->socket.close(ignored);
    }
    list.clear();
  }
}

size_t connection_pool::idle_count() const noexcept {
  size_t n = 0;
  for (const auto& list : idle_) n += list.size();
  return n;
}

}  // namespace spillway::upstream_pool

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

void connection_pool::adopt(size_t endpoint, connection_pool& from, size_t from_endpoint) {
  auto& src = from.idle_[from_endpoint];
  auto& list = idle_[endpoint];
  // Oldest first in both lists; the adopted ones were idle before any of ours.
  std::vector<std::unique_ptr<upstream_connection>> merged;
  merged.reserve(src.size() + list.size());
  for (auto& c : src) merged.push_back(std::move(c));
  for (auto& c : list) merged.push_back(std::move(c));
  src.clear();
  const size_t drop = merged.size() > max_idle_ ? merged.size() - max_idle_ : 0;
  for (size_t i = 0; i < drop; ++i) {
    boost::system::error_code ignored;
    merged[i]->socket.close(ignored);
  }
  list.assign(std::make_move_iterator(merged.begin() + static_cast<std::ptrdiff_t>(drop)),
              std::make_move_iterator(merged.end()));
}

size_t connection_pool::idle_count() const noexcept {
  size_t n = 0;
  for (const auto& list : idle_) n += list.size();
  return n;
}

}  // namespace spillway::upstream_pool

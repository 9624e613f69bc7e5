#include "cache/error.hpp"

#include <string>

namespace spillway::cache {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "spillway.cache"; }
  std::string message(int ev) const override {
    switch (static_cast<cache_errc>(ev)) {
      case cache_errc::ok:
        return "ok";
      case cache_errc::redis_timeout:
        return "redis did not answer in time";
      case cache_errc::redis_not_connected:
        return "redis not connected";
      case cache_errc::redis_connection_lost:
        return "redis connection lost";
      case cache_errc::redis_error_reply:
        return "redis returned an error";
      case cache_errc::redis_bad_reply:
        return "unexpected redis reply";
      case cache_errc::stopped:
        return "cache stopped";
      case cache_errc::corrupt_entry:
        return "corrupt cache entry";
      case cache_errc::too_large:
        return "response larger than max_object_bytes";
      case cache_errc::not_storable:
        return "response not storable";
      case cache_errc::render_failed:
        return "cache entry cannot be rendered in that form";
      case cache_errc::leader_failed:
        return "coalesced request failed upstream";
      case cache_errc::leader_abandoned:
        return "coalesced request abandoned";
      case cache_errc::flight_timeout:
        return "coalesced request made no progress in time";
    }
    return "cache error " + std::to_string(ev);
  }
};

}  // namespace

const boost::system::error_category& cache_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace spillway::cache

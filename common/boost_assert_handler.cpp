// BOOST_ASSERT handler (BOOST_ENABLE_ASSERT_HANDLER is set project-wide): every failed
// assertion in a debug or sanitizer build aborts, except one known to be wrong in Boost 1.81,
// which a client could otherwise trip on purpose. Beast's parse_chunk_header asserts that at least
// 5 bytes are buffered once the last chunk was seen, which does not hold when the first chunk is
// the last one and its line arrives alone ("0\r\n", then more); fixed upstream in
// boostorg/beast#2861 (Boost 1.86). The code after the assertion handles that case correctly.
#ifdef BOOST_ENABLE_ASSERT_HANDLER
#include <boost/assert.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace boost {

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file,
                          long line) {
  if (std::strcmp(expr, "n >= 5") == 0 && std::strstr(file, "beast/http/impl/basic_parser.ipp"))
    return;
  std::fprintf(stderr, "%s:%ld: %s: assertion failed: %s%s%s\n", file, line, function, expr,
               msg ? " " : "", msg ? msg : "");
  std::abort();
}

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  assertion_failed_msg(expr, nullptr, function, file, line);
}

}  // namespace boost
#endif

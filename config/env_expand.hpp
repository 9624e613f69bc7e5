// ${VAR} and ${VAR:-default} expansion of configuration scalars (SPEC §2.1), applied to each
// scalar value before it is typed. As in the POSIX shell, the default applies when the variable
// is unset or empty. "$${" writes a literal "${"; a "$" not followed by "{" is kept as is.
// Defaults are literal text (no nested expansion).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "config/values.hpp"

namespace spillway::config {

/// Value of an environment variable, or nullopt when it is unset.
using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;

/// Reads the process environment (getenv). Not safe against concurrent setenv.
env_lookup process_environment();

/// Expands every ${...} in `text`; fails naming the variable when one is unset without a default.
parsed<std::string> expand_env(std::string_view text, const env_lookup& env);

}  // namespace spillway::config

// Small JSON helpers over RapidJSON.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace agentd::json {

// Returns true iff s is well-formed UTF-8.
bool isValidUtf8(std::string_view s);
// Returns OK iff s is exactly one well-formed JSON value (UTF-8). A SAX pass: no document is
// built. The error names the offset and RapidJSON's reason, as parse() does.
Status validate(std::string_view s);
// The same, and the value must be an object.
Status validateObject(std::string_view s);
// Parses s; on failure returns InvalidArgument with the offset and RapidJSON's reason.
Result<rapidjson::Document> parse(std::string_view s);
// Returns s as a quoted, escaped JSON string literal.
std::string quote(std::string_view s);
// Serializes a value compactly.
std::string write(const rapidjson::Value& v);

}  // namespace agentd::json

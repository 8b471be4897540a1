// The JSONPath subset of trae-agent's json_edit_tool: `$`, `.key`, `['key']`, `[i]` (negative
// from the end), `[*]` / `.*`, `..key` / `..*` / `..[…]` (recursive descent) and `[a:b:c]`
// slices, evaluated over RapidJSON documents.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace agentd::jsonedit {

struct Segment {
  enum class Kind { kKey, kIndex, kWildcard, kSlice };
  Kind kind = Kind::kKey;
  bool descendant = false;  // preceded by ".."
  std::string key;
  int64_t index = 0;
  std::optional<int64_t> start, stop, step;
  size_t begin = 0;  // offset of the segment in the expression (for messages)
};

struct JsonPath {
  std::string text;
  std::vector<Segment> segments;  // empty: the root
};

// One step from a value to a child: an object key or an array index.
using Step = std::variant<std::string, size_t>;
using Location = std::vector<Step>;  // from the root; empty is the root

// Parses expr. On error returns nullopt and sets *error.
std::optional<JsonPath> parseJsonPath(std::string_view expr, std::string* error);

// Locations of every match of segments[0, count) in root, in document order (for recursive
// descent: a node's own match before its descendants'). On error (slice step 0) sets *error.
std::vector<Location> findAll(const rapidjson::Value& root, const JsonPath& path, size_t count,
                              std::string* error);

// The value at loc, or nullptr when the document no longer has it.
rapidjson::Value* resolve(rapidjson::Value& root, const Location& loc);

// Orders locations so that children come before their parents and higher array indexes before
// lower ones: applying edits in this order never invalidates a later location.
bool deeperOrLaterFirst(const Location& a, const Location& b);

}  // namespace agentd::jsonedit

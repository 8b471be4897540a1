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

// A document for a short-lived parse on the caller's stack: its first 4 KiB of values live in
// the object itself, so a small text is parsed without a heap allocation for them (parse()'s
// document starts with a 64 KiB block from the heap). Neither copied nor moved.
class LocalDocument {
 public:
  LocalDocument() : pool_(buffer_, sizeof buffer_), doc_(&pool_) {}
  LocalDocument(const LocalDocument&) = delete;
  LocalDocument& operator=(const LocalDocument&) = delete;
  // As parse(): OK, or InvalidArgument with the offset and RapidJSON's reason.
  Status parse(std::string_view s);
  const rapidjson::Value& operator*() const { return doc_; }
  const rapidjson::Value* operator->() const { return &doc_; }

 private:
  char buffer_[4096];
  rapidjson::MemoryPoolAllocator<> pool_;
  rapidjson::Document doc_;
};
// Returns s as a quoted, escaped JSON string literal.
std::string quote(std::string_view s);
// Serializes a value compactly.
std::string write(const rapidjson::Value& v);

}  // namespace agentd::json

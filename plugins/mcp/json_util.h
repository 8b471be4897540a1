// Small RapidJSON helpers shared by the MCP client, the adapter plugin and the CLI.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "status.h"

namespace agentd::mcp::json {

// Parses s (one JSON value); InvalidArgument with RapidJSON's reason and offset otherwise.
Result<rapidjson::Document> parse(std::string_view s);
// Serializes a value compactly.
std::string write(const rapidjson::Value& v);
// Returns s as a quoted, escaped JSON string literal.
std::string quote(std::string_view s);

// Member accessors that tolerate absence and wrong types.
const rapidjson::Value* member(const rapidjson::Value& v, const char* name);
std::string getString(const rapidjson::Value& v, const char* name, std::string fallback = "");
bool getBool(const rapidjson::Value& v, const char* name, bool fallback = false);
int64_t getInt(const rapidjson::Value& v, const char* name, int64_t fallback = 0);

// A JSON-RPC id as canonical JSON text ("7" or "\"abc\""); empty when v is not a valid id.
std::string idText(const rapidjson::Value& v);

}  // namespace agentd::mcp::json

#include "json_util.h"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace agentd::mcp::json {

Result<rapidjson::Document> parse(std::string_view s) {
  rapidjson::Document doc;
  doc.Parse(s.data(), s.size());
  if (doc.HasParseError()) {
    return Status::invalidArgument(std::string("invalid JSON at offset ") +
                                   std::to_string(doc.GetErrorOffset()) + ": " +
                                   rapidjson::GetParseError_En(doc.GetParseError()));
  }
  return doc;
}

std::string write(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string quote(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

const rapidjson::Value* member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

std::string getString(const rapidjson::Value& v, const char* name, std::string fallback) {
  const rapidjson::Value* m = member(v, name);
  if (m == nullptr || !m->IsString()) return fallback;
  return std::string(m->GetString(), m->GetStringLength());
}

bool getBool(const rapidjson::Value& v, const char* name, bool fallback) {
  const rapidjson::Value* m = member(v, name);
  return m != nullptr && m->IsBool() ? m->GetBool() : fallback;
}

int64_t getInt(const rapidjson::Value& v, const char* name, int64_t fallback) {
  const rapidjson::Value* m = member(v, name);
  return m != nullptr && m->IsInt64() ? m->GetInt64() : fallback;
}

std::string idText(const rapidjson::Value& v) {
  if (v.IsInt64() || v.IsUint64() || v.IsString()) return write(v);
  if (v.IsDouble() && v.GetDouble() == static_cast<double>(static_cast<int64_t>(v.GetDouble()))) {
    return std::to_string(static_cast<int64_t>(v.GetDouble()));
  }
  return "";
}

}  // namespace agentd::mcp::json

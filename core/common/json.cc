#include "common/json.h"

#include <rapidjson/encodings.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/json_writer.h"

namespace agentd::json {

bool isValidUtf8(std::string_view s) {
  rapidjson::MemoryStream ms(s.data(), s.size());
  while (ms.Tell() < s.size()) {
    unsigned codepoint;
    if (!rapidjson::UTF8<>::Decode(ms, &codepoint)) return false;
  }
  return true;
}

Status validate(std::string_view s) {
  auto r = parse(s);
  return r.ok() ? Status::ok() : r.status();
}

Result<rapidjson::Document> parse(std::string_view s) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(s.data(), s.size());
  if (doc.HasParseError()) {
    return Status::invalidArgument("invalid JSON at offset " +
                                   std::to_string(doc.GetErrorOffset()) + ": " +
                                   rapidjson::GetParseError_En(doc.GetParseError()));
  }
  return doc;
}

std::string quote(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  writeString(w, s);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string write(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace agentd::json

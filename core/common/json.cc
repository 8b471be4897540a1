#include "common/json.h"

#include <rapidjson/encodings.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstring>

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

namespace {

Status parseError(size_t offset, rapidjson::ParseErrorCode code) {
  return Status::invalidArgument("invalid JSON at offset " + std::to_string(offset) + ": " +
                                 rapidjson::GetParseError_En(code));
}

// RapidJSON's memory stream reads a NUL byte as the end of the input, so "{}\0junk" would pass
// as "{}"; JSON text never holds one (inside strings it is escaped).
Status nulByte(std::string_view s) {
  const void* at = std::memchr(s.data(), 0, s.size());
  if (at == nullptr) return Status::ok();
  return Status::invalidArgument("invalid JSON at offset " +
                                 std::to_string(static_cast<const char*>(at) - s.data()) +
                                 ": a NUL byte");
}

// Accepts any JSON; remembers whether the outermost value is an object.
struct TopLevelHandler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, TopLevelHandler> {
  bool seen = false;  // the outermost value has started
  bool object = false;
  bool Default() {
    seen = true;
    return true;
  }
  bool StartObject() {
    if (!seen) object = true;
    seen = true;
    return true;
  }
};

Status validateSax(std::string_view s, bool want_object) {
  AGENTD_RETURN_IF_ERROR(nulByte(s));
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(s.data(), s.size());
  TopLevelHandler handler;
  rapidjson::ParseResult ok = reader.Parse<rapidjson::kParseValidateEncodingFlag>(ms, handler);
  if (!ok) return parseError(ok.Offset(), ok.Code());
  if (want_object && !handler.object) return Status::invalidArgument("not a JSON object");
  return Status::ok();
}

}  // namespace

Status validate(std::string_view s) { return validateSax(s, false); }

Status validateObject(std::string_view s) { return validateSax(s, true); }

Result<rapidjson::Document> parse(std::string_view s) {
  AGENTD_RETURN_IF_ERROR(nulByte(s));
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(s.data(), s.size());
  if (doc.HasParseError()) return parseError(doc.GetErrorOffset(), doc.GetParseError());
  return doc;
}

Status LocalDocument::parse(std::string_view s) {
  AGENTD_RETURN_IF_ERROR(nulByte(s));
  doc_.Parse<rapidjson::kParseValidateEncodingFlag>(s.data(), s.size());
  if (doc_.HasParseError()) return parseError(doc_.GetErrorOffset(), doc_.GetParseError());
  return Status::ok();
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

#include "json_path.h"

#include <algorithm>
#include <cctype>
#include <functional>

namespace agentd::jsonedit {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::optional<JsonPath> parse(std::string* error) {
    JsonPath path;
    path.text = std::string(s_);
    skipSpaces();
    if (i_ < s_.size() && s_[i_] == '$') {
      ++i_;
    } else if (i_ < s_.size() && s_[i_] != '.' && s_[i_] != '[') {
      // jsonpath-ng accepts "a.b" for "$.a.b".
      Segment seg;
      seg.begin = i_;
      if (!name(&seg, error)) return std::nullopt;
      path.segments.push_back(std::move(seg));
    }
    while (true) {
      skipSpaces();
      if (i_ >= s_.size()) break;
      Segment seg;
      seg.begin = i_;
      if (s_.compare(i_, 2, "..") == 0) {
        i_ += 2;
        seg.descendant = true;
        if (i_ < s_.size() && s_[i_] == '[') {
          if (!bracket(&seg, error)) return std::nullopt;
        } else if (!name(&seg, error)) {
          return std::nullopt;
        }
      } else if (s_[i_] == '.') {
        ++i_;
        if (!name(&seg, error)) return std::nullopt;
      } else if (s_[i_] == '[') {
        if (!bracket(&seg, error)) return std::nullopt;
      } else {
        return fail(error, std::string("unexpected character '") + s_[i_] + "'");
      }
      path.segments.push_back(std::move(seg));
    }
    return path;
  }

 private:
  std::nullopt_t fail(std::string* error, const std::string& what) {
    *error = what + " at position " + std::to_string(i_);
    return std::nullopt;
  }
  bool failed(std::string* error, const std::string& what) {
    fail(error, what);
    return false;
  }

  void skipSpaces() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }

  // A member name after '.' (or at the start), or '*'.
  bool name(Segment* seg, std::string* error) {
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] != '.' && s_[i_] != '[' && s_[i_] != ']' &&
           !std::isspace(static_cast<unsigned char>(s_[i_]))) {
      ++i_;
    }
    if (i_ == start) return failed(error, "expected a member name");
    std::string_view n = s_.substr(start, i_ - start);
    if (n == "*") {
      seg->kind = Segment::Kind::kWildcard;
    } else {
      seg->kind = Segment::Kind::kKey;
      seg->key = std::string(n);
    }
    return true;
  }

  bool integer(int64_t* out) {
    size_t start = i_;
    if (i_ < s_.size() && (s_[i_] == '-' || s_[i_] == '+')) ++i_;
    size_t digits = i_;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    if (i_ == digits || i_ - digits > 15) {
      i_ = start;
      return false;
    }
    *out = std::stoll(std::string(s_.substr(start, i_ - start)));
    return true;
  }

  // "[...]": '*', a quoted key, an index or a slice.
  bool bracket(Segment* seg, std::string* error) {
    ++i_;  // '['
    skipSpaces();
    if (i_ >= s_.size()) return failed(error, "unterminated '['");
    char c = s_[i_];
    if (c == '*') {
      ++i_;
      seg->kind = Segment::Kind::kWildcard;
    } else if (c == '\'' || c == '"') {
      ++i_;
      std::string key;
      while (i_ < s_.size() && s_[i_] != c) {
        if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
        key += s_[i_++];
      }
      if (i_ >= s_.size()) return failed(error, "unterminated quoted name");
      ++i_;
      seg->kind = Segment::Kind::kKey;
      seg->key = std::move(key);
    } else {
      int64_t n = 0;
      bool has_start = integer(&n);
      skipSpaces();
      if (i_ < s_.size() && s_[i_] == ':') {
        seg->kind = Segment::Kind::kSlice;
        if (has_start) seg->start = n;
        ++i_;
        skipSpaces();
        if (integer(&n)) seg->stop = n;
        skipSpaces();
        if (i_ < s_.size() && s_[i_] == ':') {
          ++i_;
          skipSpaces();
          if (integer(&n)) seg->step = n;
        }
      } else if (has_start) {
        seg->kind = Segment::Kind::kIndex;
        seg->index = n;
      } else {
        return failed(error, "expected '*', a quoted name, an index or a slice inside '[]'");
      }
    }
    skipSpaces();
    if (i_ < s_.size() && s_[i_] == ',') return failed(error, "unions ([a,b]) are not supported");
    if (i_ >= s_.size() || s_[i_] != ']') return failed(error, "expected ']'");
    ++i_;
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

struct Match {
  const rapidjson::Value* value;
  Location loc;
};

// Appends the children of m selected by seg (ignoring seg.descendant).
bool applySegment(const Segment& seg, const Match& m, std::vector<Match>* out, std::string* error) {
  const rapidjson::Value& v = *m.value;
  auto child = [&](const rapidjson::Value& c, Step step) {
    Location loc = m.loc;
    loc.push_back(std::move(step));
    out->push_back({&c, std::move(loc)});
  };
  switch (seg.kind) {
    case Segment::Kind::kKey:
      if (v.IsObject()) {
        auto it = v.FindMember(rapidjson::StringRef(seg.key.data(), seg.key.size()));
        if (it != v.MemberEnd()) child(it->value, seg.key);
      }
      return true;
    case Segment::Kind::kIndex:
      if (v.IsArray()) {
        int64_t n = static_cast<int64_t>(v.Size());
        int64_t i = seg.index < 0 ? n + seg.index : seg.index;
        if (i >= 0 && i < n) child(v[static_cast<rapidjson::SizeType>(i)], static_cast<size_t>(i));
      }
      return true;
    case Segment::Kind::kWildcard:
      if (v.IsObject()) {
        for (const auto& member : v.GetObject()) {
          child(member.value, std::string(member.name.GetString(), member.name.GetStringLength()));
        }
      } else if (v.IsArray()) {
        for (rapidjson::SizeType i = 0; i < v.Size(); ++i) child(v[i], static_cast<size_t>(i));
      }
      return true;
    case Segment::Kind::kSlice: {
      if (!v.IsArray()) return true;
      int64_t n = static_cast<int64_t>(v.Size());
      int64_t step = seg.step.value_or(1);
      if (step == 0) {
        *error = "slice step cannot be zero";
        return false;
      }
      // Python's slice.indices().
      auto norm = [&](std::optional<int64_t> x, int64_t dflt, int64_t lo, int64_t hi) {
        if (!x) return dflt;
        int64_t y = *x < 0 ? *x + n : *x;
        return std::clamp(y, lo, hi);
      };
      if (step > 0) {
        int64_t start = norm(seg.start, 0, 0, n), stop = norm(seg.stop, n, 0, n);
        for (int64_t i = start; i < stop; i += step) {
          child(v[static_cast<rapidjson::SizeType>(i)], static_cast<size_t>(i));
        }
      } else {
        int64_t start = norm(seg.start, n - 1, -1, n - 1), stop = norm(seg.stop, -1, -1, n - 1);
        for (int64_t i = start; i > stop; i += step) {
          child(v[static_cast<rapidjson::SizeType>(i)], static_cast<size_t>(i));
        }
      }
      return true;
    }
  }
  return true;
}

bool applyDescendant(const Segment& seg, const Match& m, std::vector<Match>* out,
                     std::string* error) {
  if (!applySegment(seg, m, out, error)) return false;
  const rapidjson::Value& v = *m.value;
  if (v.IsObject()) {
    for (const auto& member : v.GetObject()) {
      Location loc = m.loc;
      loc.emplace_back(std::string(member.name.GetString(), member.name.GetStringLength()));
      if (!applyDescendant(seg, {&member.value, std::move(loc)}, out, error)) return false;
    }
  } else if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      Location loc = m.loc;
      loc.emplace_back(static_cast<size_t>(i));
      if (!applyDescendant(seg, {&v[i], std::move(loc)}, out, error)) return false;
    }
  }
  return true;
}

}  // namespace

std::optional<JsonPath> parseJsonPath(std::string_view expr, std::string* error) {
  return Parser(expr).parse(error);
}

std::vector<Location> findAll(const rapidjson::Value& root, const JsonPath& path, size_t count,
                              std::string* error) {
  std::vector<Match> current{{&root, {}}};
  for (size_t s = 0; s < count && s < path.segments.size(); ++s) {
    const Segment& seg = path.segments[s];
    std::vector<Match> next;
    for (const Match& m : current) {
      bool ok = seg.descendant ? applyDescendant(seg, m, &next, error)
                               : applySegment(seg, m, &next, error);
      if (!ok) return {};
    }
    current = std::move(next);
  }
  std::vector<Location> out;
  out.reserve(current.size());
  for (Match& m : current) out.push_back(std::move(m.loc));
  return out;
}

rapidjson::Value* resolve(rapidjson::Value& root, const Location& loc) {
  rapidjson::Value* v = &root;
  for (const Step& step : loc) {
    if (const std::string* key = std::get_if<std::string>(&step)) {
      if (!v->IsObject()) return nullptr;
      auto it = v->FindMember(rapidjson::StringRef(key->data(), key->size()));
      if (it == v->MemberEnd()) return nullptr;
      v = &it->value;
    } else {
      size_t i = std::get<size_t>(step);
      if (!v->IsArray() || i >= v->Size()) return nullptr;
      v = &(*v)[static_cast<rapidjson::SizeType>(i)];
    }
  }
  return v;
}

bool deeperOrLaterFirst(const Location& a, const Location& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;
    if (a[i].index() != b[i].index()) return a[i].index() > b[i].index();
    return a[i] > b[i];
  }
  return a.size() > b.size();
}

}  // namespace agentd::jsonedit

#include "skill_file.h"

#include <cctype>
#include <cstdint>
#include <map>
#include <vector>

namespace agentd::skills {
namespace {

bool isBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t') return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

size_t indentOf(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return i;
}

bool isFence(std::string_view line, std::string_view fence) {
  return line.substr(0, 3) == fence && isBlank(line.substr(3));
}

size_t utf8Chars(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

void appendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xc0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    *out += static_cast<char>(0xe0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    *out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

struct Value {
  bool is_string = false;
  std::string text;
};

// Parses a quoted scalar starting at text[0] (a quote); text holds the key's remaining lines
// joined with single spaces, as YAML folds line breaks inside quotes.
bool quoted(std::string_view text, Value* out, std::string* error) {
  const char q = text[0];
  std::string s;
  size_t i = 1;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (q == '\'' && c == '\'') {
      if (i + 1 < text.size() && text[i + 1] == '\'') {
        s += '\'';
        ++i;
        continue;
      }
      break;
    }
    if (q == '"' && c == '"') break;
    if (q == '"' && c == '\\' && i + 1 < text.size()) {
      char e = text[++i];
      switch (e) {
        case 'n':
          s += '\n';
          break;
        case 't':
          s += '\t';
          break;
        case 'r':
          s += '\r';
          break;
        case 'u': {
          uint32_t cp = 0;
          size_t k = 1;
          for (; k <= 4 && i + k < text.size() &&
                 std::isxdigit(static_cast<unsigned char>(text[i + k]));
               ++k) {
            char h = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i + k])));
            cp = cp * 16 + static_cast<uint32_t>(h <= '9' ? h - '0' : h - 'a' + 10);
          }
          if (k != 5 || cp == 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
            *error = "invalid \\u escape";
            return false;
          }
          appendUtf8(cp, &s);
          i += 4;
          break;
        }
        default:
          s += e;  // \" \\ \/ and the rest stand for themselves
      }
      continue;
    }
    s += c;
  }
  if (i >= text.size()) {
    *error = "unterminated quoted string";
    return false;
  }
  std::string_view rest = trim(text.substr(i + 1));
  if (!rest.empty() && rest[0] != '#') {
    *error = "unexpected text after a quoted string";
    return false;
  }
  out->is_string = true;
  out->text = std::move(s);
  return true;
}

// A `|` or `>` block scalar made of the indented lines that follow its key.
Value blockScalar(char style, const std::vector<std::string_view>& lines) {
  size_t indent = std::string_view::npos;
  for (std::string_view l : lines) {
    if (!isBlank(l)) indent = std::min(indent, indentOf(l));
  }
  Value v;
  v.is_string = true;
  bool first = true;
  bool previous_blank = false;
  for (std::string_view l : lines) {
    std::string_view content = isBlank(l) ? std::string_view() : l.substr(indent);
    if (style == '|') {
      if (!first) v.text += '\n';
      v.text.append(content);
    } else if (content.empty()) {
      v.text += '\n';  // folded style: a blank line is a line break
    } else {
      if (!first && !previous_blank) v.text += ' ';
      v.text.append(content);
    }
    previous_blank = content.empty();
    first = false;
  }
  v.text = std::string(trim(v.text));
  return v;
}

}  // namespace

bool validSkillName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

std::optional<SkillFile> parseSkillFile(std::string_view text, std::string* error) {
  if (text.substr(0, 3) == "\xef\xbb\xbf") text.remove_prefix(3);  // UTF-8 BOM
  std::vector<std::string_view> lines;
  for (size_t start = 0; start <= text.size();) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  if (lines.empty() || !isFence(lines[0], "---")) {
    *error = "no front matter: the file must start with a '---' line";
    return std::nullopt;
  }
  size_t close = 1;
  while (close < lines.size() && !isFence(lines[close], "---") && !isFence(lines[close], "...")) {
    ++close;
  }
  if (close >= lines.size()) {
    *error = "the front matter is not closed by a '---' line";
    return std::nullopt;
  }

  std::map<std::string, Value, std::less<>> values;
  for (size_t i = 1; i < close;) {
    std::string_view line = lines[i];
    const size_t line_no = i + 1;
    if (isBlank(line) || trim(line)[0] == '#') {
      ++i;
      continue;
    }
    size_t colon = line.find(':');
    std::string_view key = colon == std::string_view::npos ? "" : line.substr(0, colon);
    bool key_ok = !key.empty() && indentOf(line) == 0;
    for (char c : key) {
      key_ok = key_ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
    }
    if (!key_ok || (colon + 1 < line.size() && line[colon + 1] != ' ' && line[colon + 1] != '\t')) {
      *error = "front matter line " + std::to_string(line_no) + ": expected 'key: value'";
      return std::nullopt;
    }
    std::string_view rest = trim(line.substr(colon + 1));
    std::vector<std::string_view> more;  // the key's indented continuation lines
    for (++i; i < close && (isBlank(lines[i]) || indentOf(lines[i]) > 0); ++i) {
      more.push_back(lines[i]);
    }
    while (!more.empty() && isBlank(more.back())) more.pop_back();

    Value v;
    if (!rest.empty() && (rest[0] == '|' || rest[0] == '>')) {
      v = blockScalar(rest[0], more);
    } else if (!rest.empty() && (rest[0] == '"' || rest[0] == '\'')) {
      std::string joined(rest);
      for (std::string_view m : more) joined += " " + std::string(trim(m));
      std::string why;
      if (!quoted(joined, &v, &why)) {
        *error = "front matter line " + std::to_string(line_no) + ": " + why;
        return std::nullopt;
      }
    } else if (rest.empty() || rest[0] == '[' || rest[0] == '{') {
      v.is_string = false;  // a nested map, a list or a flow collection: not a string
    } else {
      // A plain scalar; continuation lines fold into it with single spaces.
      std::string s(rest);
      size_t comment = s.find(" #");
      if (comment != std::string::npos) s.resize(comment);
      for (std::string_view m : more) {
        if (!isBlank(m)) s += " " + std::string(trim(m));
      }
      v.is_string = true;
      v.text = std::string(trim(s));
    }
    values[std::string(key)] = std::move(v);
  }

  SkillFile skill;
  for (const char* key : {"name", "description"}) {
    auto it = values.find(key);
    if (it == values.end()) {
      *error = std::string("the front matter has no '") + key + "'";
      return std::nullopt;
    }
    if (!it->second.is_string || trim(it->second.text).empty()) {
      *error = std::string("'") + key + "' must be a non-empty string";
      return std::nullopt;
    }
    (std::string_view(key) == "name" ? skill.name : skill.description) =
        std::string(trim(it->second.text));
  }
  if (!validSkillName(skill.name)) {
    *error = "invalid name '" + skill.name +
             "': use 1-64 letters, digits, '-', '_' or '.' (e.g. write-tests)";
    return std::nullopt;
  }
  if (utf8Chars(skill.description) > kMaxDescriptionChars) {
    *error =
        "the description is longer than " + std::to_string(kMaxDescriptionChars) + " characters";
    return std::nullopt;
  }

  // The body without its leading blank lines and trailing whitespace; indentation is kept.
  size_t first = close + 1;
  while (first < lines.size() && isBlank(lines[first])) ++first;
  std::string body;
  for (size_t i = first; i < lines.size(); ++i) {
    body.append(lines[i]);
    if (i + 1 < lines.size()) body += '\n';
  }
  while (!body.empty() && std::isspace(static_cast<unsigned char>(body.back()))) body.pop_back();
  skill.instructions = std::move(body);
  if (skill.instructions.empty()) {
    *error = "no instructions after the front matter";
    return std::nullopt;
  }
  return skill;
}

}  // namespace agentd::skills

// Parsing of SKILL.md files: YAML front matter between `---` lines (the keys `name` and
// `description` are required and must be strings; other keys are ignored), then the
// instructions as the body.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace agentd::skills {

struct SkillFile {
  std::string name;
  std::string description;
  std::string instructions;
};

// Longest accepted description, as in Anthropic's skill format.
inline constexpr size_t kMaxDescriptionChars = 1024;

// Returns true when name is 1-64 characters of [A-Za-z0-9_.-] (what the host accepts as a skill
// name, within Anthropic's 64-character limit).
bool validSkillName(std::string_view name);

// Parses the text of a SKILL.md. Returns nullopt and sets *error (one line, naming the front
// matter line where it applies) when the file is malformed.
std::optional<SkillFile> parseSkillFile(std::string_view text, std::string* error);

}  // namespace agentd::skills

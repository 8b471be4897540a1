// Plugin "skills_dir": a skill plugin that loads every folder holding a SKILL.md under the
// configured directories, reports the skills through list_skills, and offers the tool
// `load_skill` that returns a skill's instructions. The directories are re-checked (a stat walk
// compared with the last one) on every list and call, and by a background poll; when the skills
// change the plugin tells the host (tools_changed). Malformed files are logged and skipped.
#include <dirent.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <sys/stat.h>
#include <agentd/plugin.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "plugin_json.h"
#include "skill_file.h"

namespace {

using agentd::sdk::Error;
using agentd::skills::parseSkillFile;
using agentd::skills::SkillFile;

constexpr const char* kToolName = "load_skill";
constexpr int kMaxDepth = 3;  // folders below a configured directory
constexpr size_t kMaxSkillFileBytes = 1 << 20;
constexpr double kDefaultPollSeconds = 2.0;

constexpr const char* kInputSchema =
    R"({"type":"object","properties":{"name":{"type":"string",)"
    R"("description":"The name of the skill to load, as listed among the available skills."}},)"
    R"("required":["name"]})";

constexpr const char* kConfigSchema = R"({"type":"object","properties":{)"
                                      R"("directories":{"type":"array","items":{"type":"string"}},)"
                                      R"("poll_seconds":{"type":"number","minimum":0}},)"
                                      R"("additionalProperties":false})";

struct Config {
  std::vector<std::string> directories;
  double poll_seconds = kDefaultPollSeconds;  // 0: no background poll
};

using agentd::plugins::parseObject;

Config parseConfig(std::string_view json) {
  rapidjson::Document doc = parseObject(json.empty() ? "{}" : json, "config");
  Config c;
  for (const auto& m : doc.GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (key == "directories") {
      if (!m.value.IsArray()) throw Error(AGENTD_EINVAL, "directories must be an array of paths");
      for (const auto& d : m.value.GetArray()) {
        if (!d.IsString() || d.GetStringLength() == 0) {
          throw Error(AGENTD_EINVAL, "directories must be an array of non-empty paths");
        }
        c.directories.emplace_back(d.GetString(), d.GetStringLength());
      }
    } else if (key == "poll_seconds") {
      if (!m.value.IsNumber() || !(m.value.GetDouble() >= 0) ||
          !std::isfinite(m.value.GetDouble())) {
        throw Error(AGENTD_EINVAL, "poll_seconds must be a number >= 0");
      }
      c.poll_seconds = m.value.GetDouble();
    } else {
      throw Error(AGENTD_EINVAL, "unknown config key: " + std::string(key));
    }
  }
  return c;
}

struct Skill {
  std::string name;
  std::string description;
  std::string instructions;
  std::string dir;  // the folder holding SKILL.md

  bool operator==(const Skill&) const = default;
};

// What a walk of the directories found: SKILL.md files, and a signature of everything it looked
// at (directory and file mtimes, sizes, inodes) that changes when any of it changes.
struct Walk {
  std::vector<std::string> skill_dirs;
  std::vector<std::string> problems;
  std::string signature;
};

void stamp(const std::string& path, const struct stat& st, std::string* sig) {
  *sig += path;
  *sig += '|' + std::to_string(st.st_ino) + '|' + std::to_string(st.st_size) + '|' +
          std::to_string(st.st_mtim.tv_sec) + '.' + std::to_string(st.st_mtim.tv_nsec) + '|' +
          std::to_string(st.st_ctim.tv_sec) + '.' + std::to_string(st.st_ctim.tv_nsec) + '\n';
}

void walkDir(const std::string& dir, int depth, Walk* w) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;
  stamp(dir, st, &w->signature);
  const std::string skill_md = dir + "/SKILL.md";
  if (::stat(skill_md.c_str(), &st) == 0) {
    stamp(skill_md, st, &w->signature);
    w->skill_dirs.push_back(dir);
    return;  // a skill's own subfolders are its resources, not more skills
  }
  if (depth >= kMaxDepth) return;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;  // hidden, and Kubernetes' ..data / ..timestamp dirs
    if (e->d_type != DT_DIR && e->d_type != DT_LNK && e->d_type != DT_UNKNOWN) continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) walkDir(dir + "/" + n, depth + 1, w);
}

Walk walk(const std::vector<std::string>& dirs) {
  Walk w;
  for (const std::string& dir : dirs) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      w.problems.push_back("skills directory " + dir + " does not exist or is not a directory");
      w.signature += "missing:" + dir + '\n';
      continue;
    }
    walkDir(dir, 0, &w);
  }
  return w;
}

bool validUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

// Reads and parses dir/SKILL.md; on failure returns false with *why set.
bool loadSkill(const std::string& dir, Skill* out, std::string* why) {
  const std::string path = dir + "/SKILL.md";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *why = "cannot be read";
    return false;
  }
  std::string text;
  text.resize(kMaxSkillFileBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxSkillFileBytes) {
    *why = "is larger than " + std::to_string(kMaxSkillFileBytes) + " bytes";
    return false;
  }
  if (!validUtf8(text)) {
    *why = "is not valid UTF-8";
    return false;
  }
  std::optional<SkillFile> parsed = parseSkillFile(text, why);
  if (!parsed) return false;
  *out = Skill{std::move(parsed->name), std::move(parsed->description),
               std::move(parsed->instructions), dir};
  return true;
}

class SkillsDir : public agentd::sdk::Plugin {
 public:
  SkillsDir(agentd::sdk::Host host, std::string_view config_json)
      : host_(host), config_(std::make_shared<const Config>(parseConfig(config_json))) {
    refresh(/*notify=*/false);
    poller_ = std::thread([this] { pollLoop(); });
  }

  ~SkillsDir() override {
    {
      std::lock_guard<std::mutex> lock(poll_mu_);
      stop_ = true;
    }
    poll_cv_.notify_all();
    poller_.join();
  }

  void listSkills(const agentd::sdk::SkillList& list) override {
    refresh(/*notify=*/true);
    for (const Skill& s : snapshot()) list.add(s.name, s.description, s.instructions);
  }

  void listTools(const agentd::sdk::ToolList& tools) override {
    refresh(/*notify=*/true);
    std::vector<Skill> skills = snapshot();
    std::string description =
        "Load the full instructions of a skill by name. When a task matches a skill's "
        "description, call this first and follow the instructions it returns; paths they "
        "mention are relative to the skill's directory, which the result names.";
    if (skills.empty()) {
      description += " No skills are available right now.";
    } else {
      description += " Available skills:";
      for (size_t i = 0; i < skills.size(); ++i) {
        description += (i == 0 ? " " : ", ") + skills[i].name;
      }
      description += ".";
    }
    tools.add(kToolName, description, kInputSchema);
  }

  void invoke(const agentd::sdk::Call& call, std::string_view tool,
              std::string_view args_json) override {
    if (tool != kToolName) throw Error(AGENTD_ENOTFOUND, "unknown tool: " + std::string(tool));
    rapidjson::Document args = parseObject(args_json, "arguments");
    auto it = args.FindMember("name");
    if (it == args.MemberEnd() || !it->value.IsString() || it->value.GetStringLength() == 0) {
      throw Error(AGENTD_EINVAL, "missing required parameter: name (a string)");
    }
    const std::string name(it->value.GetString(), it->value.GetStringLength());
    refresh(/*notify=*/true);
    std::vector<Skill> skills = snapshot();
    for (const Skill& s : skills) {
      if (s.name != name) continue;
      call.emit("Skill \"" + s.name + "\": " + s.description + "\nSkill directory: " + s.dir +
                "\n\n" + s.instructions);
      return;
    }
    std::string known;
    for (const Skill& s : skills) known += (known.empty() ? "" : ", ") + s.name;
    throw Error(AGENTD_ENOTFOUND,
                "unknown skill '" + name + "'; " +
                    (known.empty() ? "no skills are available" : "available skills: " + known));
  }

  void reconfigure(std::string_view config_json) override {
    auto next = std::make_shared<const Config>(parseConfig(config_json));
    {
      std::lock_guard<std::mutex> lock(mu_);
      config_ = std::move(next);
      signature_.clear();  // force a full reload of the new directories
    }
    {
      std::lock_guard<std::mutex> lock(poll_mu_);
      ++poll_wakeups_;  // the poll interval may have changed
    }
    poll_cv_.notify_all();
    refresh(/*notify=*/true);
  }

 private:
  std::vector<Skill> snapshot() {
    std::lock_guard<std::mutex> lock(mu_);
    return skills_;
  }

  std::shared_ptr<const Config> currentConfig() {
    std::lock_guard<std::mutex> lock(mu_);
    return config_;
  }

  // Reloads the skills when the directories changed since the last walk; logs malformed files
  // and, when notify and the skills differ, tells the host. Returns true when they differ.
  bool refresh(bool notify) {
    std::lock_guard<std::mutex> refresh_lock(refresh_mu_);  // one reload at a time
    std::shared_ptr<const Config> config = currentConfig();
    Walk w = walk(config->directories);
    if (w.signature.empty()) w.signature = "no directories";
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (w.signature == signature_) return false;
    }
    std::vector<Skill> loaded;
    for (const std::string& problem : w.problems) host_.warn("skills_dir: " + problem);
    for (const std::string& dir : w.skill_dirs) {
      Skill s;
      std::string why;
      if (!loadSkill(dir, &s, &why)) {
        host_.warn("skills_dir: skipping malformed " + dir + "/SKILL.md: " + why);
        continue;
      }
      auto same = std::find_if(loaded.begin(), loaded.end(),
                               [&](const Skill& o) { return o.name == s.name; });
      if (same != loaded.end()) {
        host_.warn("skills_dir: skipping " + dir + "/SKILL.md: the name '" + s.name +
                   "' is already used by " + same->dir + "/SKILL.md");
        continue;
      }
      loaded.push_back(std::move(s));
    }
    bool changed = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      changed = loaded != skills_;
      skills_ = std::move(loaded);
      signature_ = std::move(w.signature);
      if (changed) {
        host_.info("skills_dir: " + std::to_string(skills_.size()) + " skill(s) loaded");
      }
    }
    if (changed && notify) host_.toolsChanged();
    return changed;
  }

  void pollLoop() {
    std::unique_lock<std::mutex> lock(poll_mu_);
    while (!stop_) {
      const uint64_t seen = poll_wakeups_;
      auto woken = [&] { return stop_ || poll_wakeups_ != seen; };
      double seconds = currentConfig()->poll_seconds;
      if (seconds <= 0) {
        poll_cv_.wait(lock, woken);  // until reconfigure or destroy
        continue;
      }
      if (poll_cv_.wait_for(lock, std::chrono::duration<double>(seconds), woken)) continue;
      lock.unlock();
      try {
        refresh(/*notify=*/true);
      } catch (const std::exception& e) {
        host_.error(std::string("skills_dir: reload failed: ") + e.what());
      }
      lock.lock();
    }
  }

  agentd::sdk::Host host_;
  std::mutex refresh_mu_;  // serializes refresh()
  std::mutex mu_;          // guards config_, skills_, signature_
  std::shared_ptr<const Config> config_;
  std::vector<Skill> skills_;
  std::string signature_;  // of the walk skills_ came from; empty: never loaded
  std::mutex poll_mu_;     // guards stop_ and poll_wakeups_
  std::condition_variable poll_cv_;
  bool stop_ = false;
  uint64_t poll_wakeups_ = 0;  // bumped by reconfigure
  std::thread poller_;
};

}  // namespace

AGENTD_PLUGIN(SkillsDir, AGENTD_KIND_SKILL, "skills_dir", "0.1.0",
              "Loads skills from folders holding a SKILL.md and offers load_skill to read their "
              "instructions.",
              kConfigSchema)

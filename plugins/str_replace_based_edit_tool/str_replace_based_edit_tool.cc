// Plugin "str_replace_based_edit_tool": the file viewer and editor of trae-agent
// (trae_agent/tools/edit_tool.py, after Anthropic's text editor tool): view, create,
// str_replace, insert and undo_edit, with the same parameters, messages, ±4-line snippets and
// 16,000-character clip. Paths are confined to the task's working directory (workspace_path.h);
// undo history is kept per task and file and released by end_task.
#include <dirent.h>
#include <errno.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <sys/stat.h>
#include <unistd.h>
#include <agentd/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "file_tool_config.h"
#include "plugin_json.h"
#include "tool_text.h"
#include "workspace_path.h"

namespace {

using agentd::sdk::Error;
namespace ft = agentd::filetools;

constexpr const char* kToolName = "str_replace_based_edit_tool";
constexpr int64_t kSnippetLines = 4;               // trae's SNIPPET_LINES
constexpr size_t kHistoryBytesPerTask = 64 << 20;  // undo history kept per task
constexpr size_t kHistoryEntriesPerTask = 1000;
constexpr const char* kCommands = "view, create, str_replace, insert, undo_edit";

constexpr const char* kDescription =
    "Custom editing tool for viewing, creating and editing files\n"
    "* State is persistent across command calls and discussions with the user\n"
    "* If `path` is a file, `view` displays the result of applying `cat -n`. If `path` is a "
    "directory, `view` lists non-hidden files and directories up to 2 levels deep\n"
    "* The `create` command cannot be used if the specified `path` already exists as a file !!! "
    "If you know that the `path` already exists, please remove it first and then perform the "
    "`create` operation!\n"
    "* If a `command` generates a long output, it will be truncated and marked with `<response "
    "clipped>`\n"
    "* The `undo_edit` command will revert the last edit made to the file at `path`\n"
    "* Paths must lie inside the task's working directory\n\n"
    "Notes for using the `str_replace` command:\n"
    "* The `old_str` parameter should match EXACTLY one or more consecutive lines from the "
    "original file. Be mindful of whitespaces!\n"
    "* If the `old_str` parameter is not unique in the file, the replacement will not be "
    "performed. Make sure to include enough context in `old_str` to make it unique\n"
    "* The `new_str` parameter should contain the edited lines that should replace the "
    "`old_str`\n";

constexpr const char* kInputSchema =
    R"({"type":"object","properties":{)"
    R"("command":{"type":"string","enum":["view","create","str_replace","insert","undo_edit"],)"
    "\"description\":\"The commands to run. Allowed options are: view, create, str_replace, "
    "insert, undo_edit.\"},"
    "\"file_text\":{\"type\":\"string\",\"description\":\"Required parameter of `create` "
    "command, with the content of the file to be created.\"},"
    "\"insert_line\":{\"type\":\"integer\",\"description\":\"Required parameter of `insert` "
    "command. The `new_str` will be inserted AFTER the line `insert_line` of `path`.\"},"
    "\"new_str\":{\"type\":\"string\",\"description\":\"Optional parameter of `str_replace` "
    "command containing the new string (if not given, no string will be added). Required "
    "parameter of `insert` command containing the string to insert.\"},"
    "\"old_str\":{\"type\":\"string\",\"description\":\"Required parameter of `str_replace` "
    "command containing the string in `path` to replace.\"},"
    "\"path\":{\"type\":\"string\",\"description\":\"Absolute path to file or directory, e.g. "
    "`/repo/file.py` or `/repo`.\"},"
    "\"view_range\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"description\":\"Option"
    "al parameter of `view` command when `path` points to a file. If none is given, the full "
    "file is shown. If provided, the file will be shown in the indicated line number range, e.g. "
    "[11, 12] will show lines 11 and 12. Indexing at 1 to start. Setting `[start_line, -1]` "
    "shows all lines from `start_line` to the end of the file.\"}},"
    R"("required":["command","path"]})";

constexpr const char* kConfigSchema = agentd::plugins::kFileToolConfigSchema;
using Config = agentd::plugins::FileToolConfig;

using agentd::plugins::parseObject;

Config parseConfig(std::string_view json) { return agentd::plugins::parseFileToolConfig(json); }

// Returns the member, or nullptr when absent or null (OpenAI strict mode sends null).
using agentd::plugins::find;

// JSON Schema's "integer": also 3.0.
bool asInteger(const rapidjson::Value& v, int64_t* out) {
  if (v.IsInt64()) {
    *out = v.GetInt64();
    return true;
  }
  if (v.IsDouble() && std::isfinite(v.GetDouble()) && std::trunc(v.GetDouble()) == v.GetDouble() &&
      std::fabs(v.GetDouble()) < 9.0e15) {
    *out = static_cast<int64_t>(v.GetDouble());
    return true;
  }
  return false;
}

std::string str(const rapidjson::Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}

// The undo history of one task: the content files had before each edit, oldest first.
struct History {
  struct Entry {
    std::string path;                   // resolved path
    std::optional<std::string> before;  // nullopt: the edit created the file
  };
  std::vector<Entry> entries;
  size_t bytes = 0;

  void push(const std::string& path, std::optional<std::string> before) {
    bytes += before ? before->size() : 0;
    entries.push_back({path, std::move(before)});
    while (entries.size() > 1 &&
           (bytes > kHistoryBytesPerTask || entries.size() > kHistoryEntriesPerTask)) {
      bytes -= entries.front().before ? entries.front().before->size() : 0;
      entries.erase(entries.begin());
    }
  }
  // Removes and returns the newest entry of path.
  std::optional<Entry> pop(const std::string& path) {
    for (size_t i = entries.size(); i-- > 0;) {
      if (entries[i].path != path) continue;
      Entry e = std::move(entries[i]);
      entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(i));
      bytes -= e.before ? e.before->size() : 0;
      return e;
    }
    return std::nullopt;
  }
};

// One call's view of the request.
struct Request {
  const rapidjson::Value& args;
  std::string shown;  // the path as the model gave it
  ft::ResolvedPath resolved;
  bool is_dir = false;
};

class EditTool : public agentd::sdk::Plugin {
 public:
  EditTool(agentd::sdk::Host /*host*/, std::string_view config_json)
      : config_(std::make_shared<const Config>(parseConfig(config_json))) {}

  void listTools(const agentd::sdk::ToolList& tools) override {
    tools.add(kToolName, kDescription, kInputSchema);
  }

  void invoke(const agentd::sdk::Call& call, std::string_view tool,
              std::string_view args_json) override {
    if (tool != kToolName) throw Error(AGENTD_ENOTFOUND, "unknown tool: " + std::string(tool));
    rapidjson::Document args = parseObject(args_json, "arguments");
    const rapidjson::Value* command_v = find(args, "command");
    if (command_v == nullptr || !command_v->IsString()) {
      throw Error(AGENTD_EINVAL, std::string("No command provided for the ") + kToolName + " tool");
    }
    const std::string command = str(*command_v);
    const rapidjson::Value* path_v = find(args, "path");
    if (path_v == nullptr || !path_v->IsString()) {
      throw Error(AGENTD_EINVAL, std::string("No path provided for the ") + kToolName + " tool");
    }
    if (command != "view" && command != "create" && command != "str_replace" &&
        command != "insert" && command != "undo_edit") {
      throw Error(AGENTD_EINVAL, "Unrecognized command " + command +
                                     ". The allowed commands for the " + kToolName +
                                     " tool are: " + kCommands);
    }

    std::shared_ptr<const Config> config = currentConfig();
    std::string working_dir(call.context("working_dir"));
    std::string shown = str(*path_v);
    if (!shown.empty() && shown[0] != '/' && !working_dir.empty()) {
      // A relative path means the task's working directory (confinement still applies).
      std::string base = working_dir;
      if (base.back() == '/') base.pop_back();
      shown = base + "/" + shown;
    }
    if (shown.empty() || shown[0] != '/') {
      throw Error(AGENTD_EINVAL,
                  "The path " + shown + " is not an absolute path, it should start with `/`.");
    }
    ft::Workspace ws = ft::workspaceFor(working_dir, config->allow_any_path);
    Request req{args, shown, ft::resolveInside(ws, shown)};
    struct stat st;
    if (req.resolved.exists && ::stat(req.resolved.real.c_str(), &st) == 0) {
      req.is_dir = S_ISDIR(st.st_mode);
    }

    std::string task_id(call.context("task_id"));
    std::lock_guard<std::mutex> lock(mu_);  // one file operation at a time
    if (command == "undo_edit") {
      call.emit(undoEdit(req, task_id));
      return;
    }
    // trae's validate_path.
    if (!req.resolved.exists && command != "create") {
      throw Error(AGENTD_EINVAL,
                  "The path " + shown + " does not exist. Please provide a valid path.");
    }
    if (req.resolved.exists && command == "create") {
      throw Error(AGENTD_EINVAL, "File already exists at: " + shown +
                                     ". Cannot overwrite files using command `create`.");
    }
    if (req.is_dir && command != "view") {
      throw Error(AGENTD_EINVAL, "The path " + shown +
                                     " is a directory and only the `view` command can be used "
                                     "on directories");
    }
    std::string out;
    if (command == "view") {
      out = view(req, *config);
    } else if (command == "create") {
      out = create(req, task_id);
    } else if (command == "str_replace") {
      out = strReplace(req, task_id, *config);
    } else {
      out = insert(req, task_id, *config);
    }
    call.emit(ft::clip(ft::sanitizeUtf8(out)));
  }

  void reconfigure(std::string_view config_json) override {
    auto next = std::make_shared<const Config>(parseConfig(config_json));
    std::lock_guard<std::mutex> lock(mu_);
    config_ = std::move(next);
  }

  void endTask(std::string_view task_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    history_.erase(std::string(task_id));
  }

 private:
  std::shared_ptr<const Config> currentConfig() {
    std::lock_guard<std::mutex> lock(mu_);
    return config_;
  }

  static std::string readText(const Request& req, const Config& config) {
    std::string data = ft::readConfined(req.resolved.real, req.shown, config.max_file_bytes);
    if (std::memchr(data.data(), '\0', std::min<size_t>(data.size(), 8192)) != nullptr) {
      throw Error(AGENTD_EINVAL, "The file " + req.shown +
                                     " looks binary (it contains NUL bytes); inspect it with bash");
    }
    return data;
  }

  std::string view(const Request& req, const Config& config) {
    const rapidjson::Value* range_v = find(req.args, "view_range");
    std::vector<int64_t> range;
    if (range_v != nullptr) {
      bool ok = range_v->IsArray();
      if (ok) {
        for (const auto& v : range_v->GetArray()) {
          int64_t n = 0;
          if (!asInteger(v, &n)) {
            ok = false;
            break;
          }
          range.push_back(n);
        }
      }
      if (!ok) throw Error(AGENTD_EINVAL, "Parameter `view_range` should be a list of integers.");
    }
    if (req.is_dir) {
      if (!range.empty()) {
        throw Error(AGENTD_EINVAL,
                    "The `view_range` parameter is not allowed when `path` points to a directory.");
      }
      return viewDirectory(req);
    }

    std::string content = readText(req, config);
    int64_t init_line = 1;
    if (!range.empty()) {
      if (range.size() != 2) {
        throw Error(AGENTD_EINVAL, "Invalid `view_range`. It should be a list of two integers.");
      }
      std::vector<std::string_view> lines = ft::splitLines(content);
      const int64_t n_lines = static_cast<int64_t>(lines.size());
      init_line = range[0];
      int64_t final_line = range[1];
      const std::string shown_range = ft::pyList(range);
      if (init_line < 1 || init_line > n_lines) {
        throw Error(AGENTD_EINVAL, "Invalid `view_range`: " + shown_range +
                                       ". Its first element `" + std::to_string(init_line) +
                                       "` should be within the range of lines of the file: " +
                                       ft::pyList({1, n_lines}));
      }
      if (final_line > n_lines) {
        throw Error(AGENTD_EINVAL,
                    "Invalid `view_range`: " + shown_range + ". Its second element `" +
                        std::to_string(final_line) +
                        "` should be smaller than the number of lines in the file: `" +
                        std::to_string(n_lines) + "`");
      }
      if (final_line != -1 && final_line < init_line) {
        throw Error(AGENTD_EINVAL, "Invalid `view_range`: " + shown_range +
                                       ". Its second element `" + std::to_string(final_line) +
                                       "` should be larger or equal than its first `" +
                                       std::to_string(init_line) + "`");
      }
      if (final_line == -1) final_line = n_lines;
      std::string selected;
      for (int64_t i = init_line - 1; i < final_line; ++i) {
        if (i > init_line - 1) selected += '\n';
        selected.append(lines[static_cast<size_t>(i)]);
      }
      content = std::move(selected);
    }
    return ft::catN(content, req.shown, init_line);
  }

  // `find <path> -maxdepth 2 -not -path '*/.*'`, with entries sorted by name.
  static std::string viewDirectory(const Request& req) {
    std::string base = req.shown;
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    const std::string prefix = base == "/" ? "/" : base + "/";
    std::string listing = req.shown + "\n";
    listDirectory(req.resolved.real, prefix, 1, &listing);
    return "Here's the files and directories up to 2 levels deep in " + req.shown +
           ", excluding hidden items:\n" + listing + "\n";
  }

  static void listDirectory(const std::string& real, const std::string& shown_prefix, int depth,
                            std::string* out) {
    DIR* dir = ::opendir(real.c_str());
    if (dir == nullptr) return;
    std::vector<std::pair<std::string, bool>> entries;  // name, is a directory (not a link)
    while (dirent* e = ::readdir(dir)) {
      std::string name = e->d_name;
      if (name.empty() || name[0] == '.') continue;  // hidden, "." and ".."
      bool is_dir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN) {
        struct stat st;
        is_dir = ::lstat((real + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      }
      entries.emplace_back(std::move(name), is_dir);
    }
    ::closedir(dir);
    std::sort(entries.begin(), entries.end());
    for (const auto& [name, is_dir] : entries) {
      *out += shown_prefix + name + "\n";
      if (is_dir && depth < 2)
        listDirectory(real + "/" + name, shown_prefix + name + "/", depth + 1, out);
    }
  }

  std::string create(const Request& req, const std::string& task_id) {
    const rapidjson::Value* text_v = find(req.args, "file_text");
    if (text_v == nullptr || !text_v->IsString()) {
      throw Error(AGENTD_EINVAL,
                  "Parameter `file_text` is required and must be a string for command: create");
    }
    ft::writeConfined(req.resolved.real, req.shown,
                      std::string_view(text_v->GetString(), text_v->GetStringLength()),
                      /*create_new=*/true);
    history_[task_id].push(req.resolved.real, std::nullopt);
    return "File created successfully at: " + req.shown;
  }

  std::string strReplace(const Request& req, const std::string& task_id, const Config& config) {
    const rapidjson::Value* old_v = find(req.args, "old_str");
    if (old_v == nullptr || !old_v->IsString()) {
      throw Error(AGENTD_EINVAL,
                  "Parameter `old_str` is required and should be a string for command: "
                  "str_replace");
    }
    const rapidjson::Value* new_v = find(req.args, "new_str");
    if (new_v != nullptr && !new_v->IsString()) {
      throw Error(AGENTD_EINVAL,
                  "Parameter `new_str` should be a string or null for command: str_replace");
    }
    const std::string old_str = str(*old_v);
    const std::string new_str = new_v == nullptr ? "" : str(*new_v);
    if (old_str.empty()) {
      throw Error(AGENTD_EINVAL,
                  "Parameter `old_str` must not be empty for command: str_replace; to add text "
                  "use `insert`");
    }
    std::string content = readText(req, config);

    std::vector<size_t> at;  // non-overlapping occurrences, as Python's str.count
    for (size_t pos = content.find(old_str); pos != std::string::npos;
         pos = content.find(old_str, pos + old_str.size())) {
      at.push_back(pos);
    }
    if (at.empty()) {
      throw Error(AGENTD_EINVAL, "No replacement was performed, old_str `" + old_str +
                                     "` did not appear verbatim in " + req.shown + ".");
    }
    if (at.size() > 1) {
      std::vector<int64_t> lines;  // the line each occurrence starts on
      for (size_t pos : at) {
        int64_t line = 1 + std::count(content.begin(),
                                      content.begin() + static_cast<std::ptrdiff_t>(pos), '\n');
        if (lines.empty() || lines.back() != line) lines.push_back(line);
      }
      throw Error(AGENTD_EINVAL, "No replacement was performed. Multiple occurrences of old_str `" +
                                     old_str + "` in lines " + ft::pyList(lines) +
                                     ". Please ensure it is unique");
    }

    std::string updated =
        content.substr(0, at[0]) + new_str + content.substr(at[0] + old_str.size());
    ft::writeConfined(req.resolved.real, req.shown, updated, /*create_new=*/false);
    history_[task_id].push(req.resolved.real, std::move(content));

    const int64_t replacement_line =
        std::count(updated.begin(), updated.begin() + static_cast<std::ptrdiff_t>(at[0]), '\n');
    const int64_t start = std::max<int64_t>(0, replacement_line - kSnippetLines);
    const int64_t end =
        replacement_line + kSnippetLines + std::count(new_str.begin(), new_str.end(), '\n');
    return "The file " + req.shown + " has been edited. " +
           ft::catN(joinLines(updated, start, end + 1), "a snippet of " + req.shown, start + 1) +
           "Review the changes and make sure they are as expected. Edit the file again if "
           "necessary.";
  }

  std::string insert(const Request& req, const std::string& task_id, const Config& config) {
    const rapidjson::Value* line_v = find(req.args, "insert_line");
    int64_t insert_line = 0;
    if (line_v == nullptr || !asInteger(*line_v, &insert_line)) {
      throw Error(AGENTD_EINVAL,
                  "Parameter `insert_line` is required and should be integer for command: insert");
    }
    const rapidjson::Value* new_v = find(req.args, "new_str");
    if (new_v == nullptr || !new_v->IsString()) {
      throw Error(AGENTD_EINVAL, "Parameter `new_str` is required for command: insert");
    }
    const std::string new_str = str(*new_v);
    std::string content = readText(req, config);
    std::vector<std::string_view> lines = ft::splitLines(content);
    const int64_t n_lines = static_cast<int64_t>(lines.size());
    if (insert_line < 0 || insert_line > n_lines) {
      throw Error(AGENTD_EINVAL, "Invalid `insert_line` parameter: " + std::to_string(insert_line) +
                                     ". It should be within the range of lines of the file: " +
                                     ft::pyList({0, n_lines}));
    }
    std::vector<std::string_view> new_lines = ft::splitLines(new_str);
    std::vector<std::string_view> result(lines.begin(), lines.begin() + insert_line);
    result.insert(result.end(), new_lines.begin(), new_lines.end());
    result.insert(result.end(), lines.begin() + insert_line, lines.end());
    std::vector<std::string_view> snippet(
        lines.begin() + std::max<int64_t>(0, insert_line - kSnippetLines),
        lines.begin() + insert_line);
    snippet.insert(snippet.end(), new_lines.begin(), new_lines.end());
    snippet.insert(snippet.end(), lines.begin() + insert_line,
                   lines.begin() + std::min(n_lines, insert_line + kSnippetLines));

    std::string updated = join(result);
    std::string snippet_text = join(snippet);
    ft::writeConfined(req.resolved.real, req.shown, updated, /*create_new=*/false);
    history_[task_id].push(req.resolved.real, std::move(content));
    return "The file " + req.shown + " has been edited. " +
           ft::catN(snippet_text, "a snippet of the edited file",
                    std::max<int64_t>(1, insert_line - kSnippetLines + 1)) +
           "Review the changes and make sure they are as expected (correct indentation, no "
           "duplicate lines, etc). Edit the file again if necessary.";
  }

  std::string undoEdit(const Request& req, const std::string& task_id) {
    auto task = history_.find(task_id);
    std::optional<History::Entry> entry;
    if (task != history_.end()) entry = task->second.pop(req.resolved.real);
    if (!entry) throw Error(AGENTD_EINVAL, "No edit history found for " + req.shown + ".");
    if (req.is_dir) {
      throw Error(AGENTD_EINVAL, "The path " + req.shown + " is a directory now; cannot undo");
    }
    if (!entry->before) {
      if (::unlink(req.resolved.real.c_str()) != 0 && errno != ENOENT) {
        throw Error(AGENTD_ERR, "Ran into " + std::string(std::strerror(errno)) +
                                    " while trying to remove " + req.shown);
      }
      return "Last edit to " + req.shown +
             " undone successfully. The file did not exist before and has been removed.";
    }
    ft::writeConfined(req.resolved.real, req.shown, *entry->before,
                      /*create_new=*/!req.resolved.exists);
    return ft::clip(ft::sanitizeUtf8("Last edit to " + req.shown + " undone successfully. " +
                                     ft::catN(*entry->before, req.shown, 1)));
  }

  static std::string join(const std::vector<std::string_view>& lines) {
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) out += '\n';
      out.append(lines[i]);
    }
    return out;
  }

  // Python's "\n".join(text.split("\n")[begin:end]).
  static std::string joinLines(std::string_view text, int64_t begin, int64_t end) {
    std::vector<std::string_view> lines = ft::splitLines(text);
    int64_t n = static_cast<int64_t>(lines.size());
    begin = std::min(begin, n);
    end = std::min(end, n);
    return join(
        std::vector<std::string_view>(lines.begin() + begin, lines.begin() + std::max(begin, end)));
  }

  std::mutex mu_;  // guards config_, history_ and serializes file operations
  std::shared_ptr<const Config> config_;
  std::unordered_map<std::string, History> history_;  // by task id
};

}  // namespace

AGENTD_PLUGIN(EditTool, AGENTD_KIND_TOOL, "str_replace_based_edit_tool", "0.1.0",
              "Provides str_replace_based_edit_tool: view, create, str_replace, insert and "
              "undo_edit on files inside the task's working directory.",
              kConfigSchema)

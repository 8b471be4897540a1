// Loads the built str_replace_based_edit_tool.so and drives it through the C ABI on real files.
#include <sys/stat.h>

#include <string>
#include <vector>

#include "unit/plugins/plugin_harness.h"
#include "unit/plugins/test_files.h"

namespace agentd::plugintest {
namespace {

constexpr const char* kTool = "str_replace_based_edit_tool";

class EditToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(plugin_.loadError(), "");
    ASSERT_EQ(plugin_.create(), AGENTD_OK) << plugin_.lastError();
  }

  CallResult call(const std::string& args, const std::string& task = "task-1") {
    CallOptions o;
    o.task_id = task;
    o.working_dir = ws_.path();
    return plugin_.invokeWith(kTool, args, o);
  }
  std::string ok(const std::string& args, const std::string& task = "task-1") {
    CallResult r = call(args, task);
    EXPECT_EQ(r.status, AGENTD_OK) << args << " failed: " << r.error;
    return r.text;
  }
  std::string fails(const std::string& args, agentd_status status = AGENTD_EINVAL) {
    CallResult r = call(args);
    EXPECT_EQ(r.status, status) << args << " gave: " << r.text;
    return r.error;
  }

  std::string viewArgs(const std::string& path, const std::string& range = "") {
    return R"({"command":"view","path":)" + quote(path) +
           (range.empty() ? "" : R"(,"view_range":)" + range) + "}";
  }
  std::string replaceArgs(const std::string& path, const std::string& old_str,
                          const std::string& new_str) {
    return R"({"command":"str_replace","path":)" + quote(path) + R"(,"old_str":)" + quote(old_str) +
           R"(,"new_str":)" + quote(new_str) + "}";
  }
  std::string insertArgs(const std::string& path, int line, const std::string& new_str) {
    return R"({"command":"insert","path":)" + quote(path) + R"(,"insert_line":)" +
           std::to_string(line) + R"(,"new_str":)" + quote(new_str) + "}";
  }
  std::string createArgs(const std::string& path, const std::string& text) {
    return R"({"command":"create","path":)" + quote(path) + R"(,"file_text":)" + quote(text) + "}";
  }
  std::string undoArgs(const std::string& path) {
    return R"({"command":"undo_edit","path":)" + quote(path) + "}";
  }

  TempDir ws_;
  LoadedPlugin plugin_{AGENTD_PLUGIN_DIR "/str_replace_based_edit_tool.so"};
};
using str_replace_based_edit_tool = EditToolTest;

TEST_F(str_replace_based_edit_tool, ToolMatchesTraeAgentPlusUndo) {
  const agentd_plugin* d = plugin_.descriptor();
  EXPECT_EQ(d->kind, AGENTD_KIND_TOOL);
  EXPECT_STREQ(d->name, "str_replace_based_edit_tool");
  EXPECT_EQ(propertyNames(parseJson(d->config_schema)),
            (std::vector<std::string>{"allow_any_path", "max_file_bytes"}));
  std::vector<ListedTool> tools = plugin_.listTools();
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].name, kTool);
  rapidjson::Document schema = parseJson(tools[0].input_schema);
  EXPECT_EQ(propertyNames(schema),
            (std::vector<std::string>{"command", "file_text", "insert_line", "new_str", "old_str",
                                      "path", "view_range"}));
  EXPECT_EQ(requiredNames(schema), (std::vector<std::string>{"command", "path"}));
  std::vector<std::string> commands;
  for (const auto& v : schema["properties"]["command"]["enum"].GetArray()) {
    commands.emplace_back(v.GetString());
  }
  EXPECT_EQ(commands,
            (std::vector<std::string>{"view", "create", "str_replace", "insert", "undo_edit"}));
  EXPECT_STREQ(schema["properties"]["view_range"]["items"]["type"].GetString(), "integer");
  EXPECT_STREQ(schema["properties"]["insert_line"]["type"].GetString(), "integer");
}

TEST_F(str_replace_based_edit_tool, ViewsAFileLikeCatN) {
  writeFile(ws_ / "a.txt", "alpha\n\tbeta\ngamma\n");
  EXPECT_EQ(ok(viewArgs(ws_ / "a.txt")),
            "Here's the result of running `cat -n` on " + (ws_ / "a.txt") +
                ":\n     1\talpha\n     2\t\tbeta\n     3\tgamma\n     4\t\n");
  writeFile(ws_ / "empty.txt", "");
  EXPECT_EQ(ok(viewArgs(ws_ / "empty.txt")),
            "Here's the result of running `cat -n` on " + (ws_ / "empty.txt") + ":\n     1\t\n");
}

TEST_F(str_replace_based_edit_tool, ViewRanges) {
  writeFile(ws_ / "r.txt", "l1\nl2\nl3\nl4\nl5");
  const std::string p = ws_ / "r.txt";
  const std::string head = "Here's the result of running `cat -n` on " + p + ":\n";
  EXPECT_EQ(ok(viewArgs(p, "[2,3]")), head + "     2\tl2\n     3\tl3\n");
  EXPECT_EQ(ok(viewArgs(p, "[4,-1]")), head + "     4\tl4\n     5\tl5\n");
  EXPECT_EQ(ok(viewArgs(p, "[5,5]")), head + "     5\tl5\n");
  EXPECT_EQ(ok(viewArgs(p, "[]")), ok(viewArgs(p)));  // empty: the whole file, as trae

  EXPECT_EQ(fails(viewArgs(p, "[0,2]")),
            "Invalid `view_range`: [0, 2]. Its first element `0` should be within the range of "
            "lines of the file: [1, 5]");
  EXPECT_EQ(fails(viewArgs(p, "[1,9]")),
            "Invalid `view_range`: [1, 9]. Its second element `9` should be smaller than the "
            "number of lines in the file: `5`");
  EXPECT_EQ(fails(viewArgs(p, "[3,2]")),
            "Invalid `view_range`: [3, 2]. Its second element `2` should be larger or equal than "
            "its first `3`");
  EXPECT_EQ(fails(viewArgs(p, "[1]")),
            "Invalid `view_range`. It should be a list of two integers.");
  EXPECT_EQ(fails(viewArgs(p, R"([1,"2"])")),
            "Parameter `view_range` should be a list of integers.");
  EXPECT_EQ(fails(viewArgs(p, R"("1-2")")), "Parameter `view_range` should be a list of integers.");
}

TEST_F(str_replace_based_edit_tool, ViewsADirectoryTwoLevelsDeepWithoutHiddenItems) {
  writeFile(ws_ / "src/main.cc", "");
  writeFile(ws_ / "src/lib/deep.cc", "");  // third level: not listed
  writeFile(ws_ / "README.md", "");
  writeFile(ws_ / ".git/config", "");
  writeFile(ws_ / "src/.hidden", "");
  std::string expected = "Here's the files and directories up to 2 levels deep in " + ws_.path() +
                         ", excluding hidden items:\n" + ws_.path() + "\n" + (ws_ / "README.md") +
                         "\n" + (ws_ / "src") + "\n" + (ws_ / "src/lib") + "\n" +
                         (ws_ / "src/main.cc") + "\n\n";
  EXPECT_EQ(ok(viewArgs(ws_.path())), expected);
  EXPECT_EQ(fails(viewArgs(ws_.path(), "[1,2]")),
            "The `view_range` parameter is not allowed when `path` points to a directory.");
  EXPECT_EQ(fails(createArgs(ws_ / "src", "x")),
            "File already exists at: " + (ws_ / "src") +
                ". Cannot overwrite files using command `create`.");
  EXPECT_EQ(fails(replaceArgs(ws_ / "src", "a", "b")),
            "The path " + (ws_ / "src") +
                " is a directory and only the `view` command can be used on directories");
}

TEST_F(str_replace_based_edit_tool, CreatesNewFilesOnly) {
  const std::string p = ws_ / "new/dir/file.py";
  EXPECT_EQ(ok(createArgs(p, "print('hi')\n")), "File created successfully at: " + p);
  EXPECT_EQ(readFile(p), "print('hi')\n");
  EXPECT_EQ(fails(createArgs(p, "other")),
            "File already exists at: " + p + ". Cannot overwrite files using command `create`.");
  EXPECT_EQ(readFile(p), "print('hi')\n");
  EXPECT_EQ(fails(R"({"command":"create","path":)" + quote(ws_ / "x.txt") + "}"),
            "Parameter `file_text` is required and must be a string for command: create");
  EXPECT_FALSE(exists(ws_ / "x.txt"));
}

TEST_F(str_replace_based_edit_tool, StrReplaceShowsASnippet) {
  std::string text;
  for (int i = 1; i <= 12; ++i) text += "line" + std::to_string(i) + "\n";
  const std::string p = ws_ / "s.txt";
  writeFile(p, text);
  std::string out = ok(replaceArgs(p, "line6\n", "LINE6\nextra\n"));
  EXPECT_EQ(out,
            "The file " + p +
                " has been edited. Here's the result of running `cat -n` on a "
                "snippet of " +
                p +
                ":\n     2\tline2\n     3\tline3\n     4\tline4\n     5\tline5\n     6\tLINE6\n"
                "     7\textra\n     8\tline7\n     9\tline8\n    10\tline9\n    11\tline10\n"
                "    12\tline11\n"
                "Review the changes and make sure they are as expected. Edit the file again "
                "if necessary.");
  std::string expected = text;
  expected.replace(expected.find("line6\n"), 6, "LINE6\nextra\n");
  EXPECT_EQ(readFile(p), expected);

  // Omitted new_str deletes; tabs and CRLF stay as they are.
  writeFile(p, "a\r\n\tb\r\nc\r\n");
  ok(R"({"command":"str_replace","path":)" + quote(p) + R"(,"old_str":"\tb\r\n"})");
  EXPECT_EQ(readFile(p), "a\r\nc\r\n");
}

TEST_F(str_replace_based_edit_tool, StrReplaceRequiresExactlyOneOccurrence) {
  const std::string p = ws_ / "u.txt";
  writeFile(p, "foo = 1\nbar = 2\nfoo = 3\nfoo = 4 foo\n");
  EXPECT_EQ(fails(replaceArgs(p, "baz", "x")),
            "No replacement was performed, old_str `baz` did not appear verbatim in " + p + ".");
  EXPECT_EQ(fails(replaceArgs(p, "foo", "x")),
            "No replacement was performed. Multiple occurrences of old_str `foo` in lines [1, 3, "
            "4]. Please ensure it is unique");
  // Multi-line old_str: the lines its occurrences start on.
  writeFile(p, "x\ny\nx\ny\n");
  EXPECT_EQ(fails(replaceArgs(p, "x\ny", "z")),
            "No replacement was performed. Multiple occurrences of old_str `x\ny` in lines [1, 3]. "
            "Please ensure it is unique");
  EXPECT_EQ(readFile(p), "x\ny\nx\ny\n");
  EXPECT_NE(fails(replaceArgs(p, "", "z")).find("must not be empty"), std::string::npos);
  EXPECT_EQ(fails(R"({"command":"str_replace","path":)" + quote(p) + "}"),
            "Parameter `old_str` is required and should be a string for command: str_replace");
  EXPECT_EQ(
      fails(R"({"command":"str_replace","path":)" + quote(p) + R"(,"old_str":"x","new_str":5})"),
      "Parameter `new_str` should be a string or null for command: str_replace");
}

TEST_F(str_replace_based_edit_tool, InsertsAfterALine) {
  const std::string p = ws_ / "i.txt";
  writeFile(p, "a\nb\nc\nd\ne\nf");
  std::string out = ok(insertArgs(p, 5, "NEW1\nNEW2"));
  EXPECT_EQ(readFile(p), "a\nb\nc\nd\ne\nNEW1\nNEW2\nf");
  EXPECT_EQ(out, "The file " + p +
                     " has been edited. Here's the result of running `cat -n` on a snippet of the "
                     "edited file:\n     2\tb\n     3\tc\n     4\td\n     5\te\n     6\tNEW1\n"
                     "     7\tNEW2\n     8\tf\n"
                     "Review the changes and make sure they are as expected (correct indentation, "
                     "no duplicate lines, etc). Edit the file again if necessary.");
  ok(insertArgs(p, 0, "top"));
  EXPECT_EQ(readFile(p).substr(0, 6), "top\na\n");
  EXPECT_EQ(fails(insertArgs(p, 10, "x")),
            "Invalid `insert_line` parameter: 10. It should be within the range of lines of the "
            "file: [0, 9]");
  EXPECT_EQ(fails(insertArgs(p, -1, "x")).find("Invalid `insert_line` parameter: -1"), 0u);
  ok(insertArgs(p, 9, "end"));
  EXPECT_EQ(readFile(p), "top\na\nb\nc\nd\ne\nNEW1\nNEW2\nf\nend");
  EXPECT_EQ(fails(R"({"command":"insert","path":)" + quote(p) + R"(,"new_str":"x"})"),
            "Parameter `insert_line` is required and should be integer for command: insert");
  EXPECT_EQ(fails(R"({"command":"insert","path":)" + quote(p) + R"(,"insert_line":1})"),
            "Parameter `new_str` is required for command: insert");
}

TEST_F(str_replace_based_edit_tool, UndoEditRestoresEachPreviousContent) {
  const std::string p = ws_ / "undo.txt";
  ok(createArgs(p, "one\n"));
  ok(replaceArgs(p, "one", "two"));
  ok(insertArgs(p, 1, "three"));
  EXPECT_EQ(readFile(p), "two\nthree\n");

  EXPECT_EQ(ok(undoArgs(p)), "Last edit to " + p +
                                 " undone successfully. Here's the result of running `cat -n` "
                                 "on " +
                                 p + ":\n     1\ttwo\n     2\t\n");
  EXPECT_EQ(readFile(p), "two\n");
  ok(undoArgs(p));
  EXPECT_EQ(readFile(p), "one\n");
  EXPECT_EQ(ok(undoArgs(p)), "Last edit to " + p +
                                 " undone successfully. The file did not exist before and has "
                                 "been removed.");
  EXPECT_FALSE(exists(p));
  EXPECT_EQ(fails(undoArgs(p)), "No edit history found for " + p + ".");
}

TEST_F(str_replace_based_edit_tool, UndoHistoryBelongsToTheTask) {
  const std::string p = ws_ / "t.txt";
  writeFile(p, "base");
  ok(replaceArgs(p, "base", "task1"), "task-1");
  CallOptions other{"task-2", ws_.path(), nullptr};
  CallResult r = plugin_.invokeWith(kTool, undoArgs(p), other);
  EXPECT_EQ(r.status, AGENTD_EINVAL);
  EXPECT_EQ(r.error, "No edit history found for " + p + ".");
  plugin_.endTask("task-1");
  EXPECT_EQ(fails(undoArgs(p)), "No edit history found for " + p + ".");
  EXPECT_EQ(readFile(p), "task1");
}

TEST_F(str_replace_based_edit_tool, PathErrors) {
  // A relative path names a file in the working directory.
  EXPECT_EQ(fails(viewArgs("relative/x.txt")),
            "The path " + ws_.path() +
                "/relative/x.txt does not exist. Please provide a valid "
                "path.");
  writeFile(ws_ / "rel.txt", "line\n");
  CallResult rel =
      plugin_.invokeWith(kTool, viewArgs("rel.txt"), CallOptions{"task-1", ws_.path(), nullptr});
  EXPECT_EQ(rel.status, AGENTD_OK) << rel.error;
  EXPECT_NE(rel.text.find("line"), std::string::npos);
  // Without a working directory it must be absolute.
  CallResult nowd =
      plugin_.invokeWith(kTool, viewArgs("rel.txt"), CallOptions{"task-1", "", nullptr});
  EXPECT_EQ(nowd.error, "The path rel.txt is not an absolute path, it should start with `/`.");
  EXPECT_EQ(fails(viewArgs(ws_ / "missing.txt")),
            "The path " + (ws_ / "missing.txt") + " does not exist. Please provide a valid path.");
  EXPECT_EQ(fails(R"({"command":"view"})"),
            "No path provided for the " + std::string(kTool) + " tool");
  EXPECT_EQ(fails(R"({"path":"/x"})"),
            "No command provided for the " + std::string(kTool) + " tool");
  EXPECT_EQ(fails(R"({"command":"delete","path":"/x"})"),
            "Unrecognized command delete. The allowed commands for the " + std::string(kTool) +
                " tool are: view, create, str_replace, insert, undo_edit");
  EXPECT_EQ(call("nope").status, AGENTD_EINVAL);
  EXPECT_EQ(plugin_.invoke("edit", viewArgs(ws_.path())).status, AGENTD_ENOTFOUND);
}

TEST_F(str_replace_based_edit_tool, RefusesSpecialAndBinaryFiles) {
  ASSERT_EQ(mkfifo((ws_ / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(fails(viewArgs(ws_ / "fifo")), "The path " + (ws_ / "fifo") + " is not a regular file");
  writeFile(ws_ / "bin", std::string("\x7f"
                                     "ELF\0\0\1",
                                     7));
  EXPECT_NE(fails(viewArgs(ws_ / "bin")).find("looks binary"), std::string::npos);
  // Invalid UTF-8 in a text file is shown with U+FFFD rather than failing the call.
  writeFile(ws_ / "latin1.txt", "caf\xe9");
  EXPECT_EQ(ok(viewArgs(ws_ / "latin1.txt")), "Here's the result of running `cat -n` on " +
                                                  (ws_ / "latin1.txt") +
                                                  ":\n     1\tcaf\xef\xbf\xbd\n");
}

TEST_F(str_replace_based_edit_tool, ClipsLongOutputWithTraeMarker) {
  std::string big;
  for (int i = 0; i < 3000; ++i) big += "some line of text number " + std::to_string(i) + "\n";
  writeFile(ws_ / "big.txt", big);
  std::string out = ok(viewArgs(ws_ / "big.txt"));
  ASSERT_GT(out.size(), std::string(kClippedMarker).size());
  EXPECT_EQ(out.size(), 16000 + std::string(kClippedMarker).size());
  EXPECT_EQ(out.substr(16000), kClippedMarker);
  EXPECT_EQ(out.rfind("Here's the result of running `cat -n` on ", 0), 0u);
  // A range keeps the output short enough to be whole.
  out = ok(viewArgs(ws_ / "big.txt", "[2999,3000]"));
  EXPECT_EQ(out.find("response clipped"), std::string::npos);
  EXPECT_NE(out.find("  2999\tsome line of text number 2998\n"), std::string::npos) << out;
}

TEST_F(str_replace_based_edit_tool, FileSizeLimitFromConfig) {
  LoadedPlugin small(AGENTD_PLUGIN_DIR "/str_replace_based_edit_tool.so");
  ASSERT_EQ(small.create(R"({"max_file_bytes":10})"), AGENTD_OK) << small.lastError();
  writeFile(ws_ / "f.txt", "01234567890123");
  CallResult r =
      small.invokeWith(kTool, viewArgs(ws_ / "f.txt"), CallOptions{"t", ws_.path(), nullptr});
  EXPECT_EQ(r.status, AGENTD_EINVAL);
  EXPECT_NE(r.error.find("too large"), std::string::npos) << r.error;
  for (const char* bad :
       {R"({"max_file_bytes":0})", R"({"allow_any_path":"yes"})", R"({"root":"/"})"}) {
    LoadedPlugin rejected(AGENTD_PLUGIN_DIR "/str_replace_based_edit_tool.so");
    EXPECT_EQ(rejected.create(bad), AGENTD_EINVAL) << bad;
    EXPECT_NE(rejected.lastError(), "") << bad;
  }
}

}  // namespace
}  // namespace agentd::plugintest

// Escape attempts against both file tools (str_replace_based_edit_tool and json_edit_tool): each
// path trick must be refused for reading and writing, and nothing outside the working directory
// may be read, changed or created.
#include <unistd.h>

#include <string>
#include <vector>

#include "unit/plugins/plugin_harness.h"
#include "unit/plugins/test_files.h"

namespace agentd::plugintest {
namespace {

constexpr const char* kEdit = "str_replace_based_edit_tool";
constexpr const char* kJson = "json_edit_tool";

class FileSandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(edit_.loadError(), "");
    ASSERT_EQ(json_.loadError(), "");
    ASSERT_EQ(edit_.create(), AGENTD_OK) << edit_.lastError();
    ASSERT_EQ(json_.create(), AGENTD_OK) << json_.lastError();
    ws_ = base_ / "ws";
    out_ = base_ / "outside";
    writeFile(out_ + "/secret.txt", "SECRET");
    writeFile(out_ + "/secret.json", R"({"k":"SECRET"})");
    writeFile(ws_ + "/real.txt", "inside text");
    writeFile(ws_ + "/real.json", R"({"k":"inside"})");
    writeFile(ws_ + "/sub/file.txt", "sub text");
    link(out_, ws_ + "/linkdir");                      // directory out, absolute
    link("../outside", ws_ + "/linkdir_rel");          // directory out, relative
    link(out_ + "/secret.txt", ws_ + "/linkfile");     // file out
    link(out_ + "/secret.json", ws_ + "/linkjson");    // file out
    link(out_ + "/new.txt", ws_ + "/dangling");        // dangling, out
    link(out_ + "/new.json", ws_ + "/dangling.json");  // dangling, out
    std::filesystem::create_directories(ws_ + "/a");
    link(out_, ws_ + "/a/mid");                        // in the middle of a path
    link("..", ws_ + "/up");                           // to the parent
    link("real.txt", ws_ + "/inside_link");            // stays inside
    link(ws_ + "/sub", ws_ + "/inside_dirlink");       // stays inside
    link("new_inside.txt", ws_ + "/dangling_inside");  // dangling, inside
    link(ws_, base_ / "ws_alias");                     // the working dir through a link
  }

  void link(const std::string& target, const std::string& at) {
    ASSERT_EQ(symlink(target.c_str(), at.c_str()), 0) << at;
  }

  CallResult run(LoadedPlugin& p, const char* tool, const std::string& args,
                 const std::string& working_dir) {
    return p.invokeWith(tool, args, CallOptions{"task-1", working_dir, nullptr});
  }
  CallResult editCall(const std::string& args) { return run(edit_, kEdit, args, ws_); }
  CallResult jsonCall(const std::string& args) { return run(json_, kJson, args, ws_); }

  void expectOutsideUntouched() {
    EXPECT_EQ(readFile(out_ + "/secret.txt"), "SECRET");
    EXPECT_EQ(readFile(out_ + "/secret.json"), R"({"k":"SECRET"})");
    EXPECT_FALSE(exists(out_ + "/new.txt"));
    EXPECT_FALSE(exists(out_ + "/new.json"));
    EXPECT_FALSE(exists(base_ / "created.txt"));
  }

  static void expectRefused(const CallResult& r, const std::string& what) {
    EXPECT_EQ(r.status, AGENTD_EINVAL) << what << ": " << r.text;
    EXPECT_NE(r.error.find("Access denied"), std::string::npos) << what << ": " << r.error;
    EXPECT_EQ(r.error.find("SECRET"), std::string::npos) << what << ": " << r.error;
    EXPECT_EQ(r.text.find("SECRET"), std::string::npos) << what;
  }

  TempDir base_;
  std::string ws_, out_;
  LoadedPlugin edit_{AGENTD_PLUGIN_DIR "/str_replace_based_edit_tool.so"};
  LoadedPlugin json_{AGENTD_PLUGIN_DIR "/json_edit_tool.so"};
};
using file_sandbox = FileSandboxTest;

TEST_F(file_sandbox, EveryEscapeIsRefusedByBothTools) {
  struct Trick {
    const char* name;
    std::string text_path;  // for the edit tool
    std::string json_path;  // for the JSON tool
  };
  const std::vector<Trick> tricks = {
      {"dot-dot", ws_ + "/../outside/secret.txt", ws_ + "/../outside/secret.json"},
      {"dot-dot deeper", ws_ + "/sub/../../outside/secret.txt",
       ws_ + "/sub/../../outside/secret.json"},
      {"absolute outside", out_ + "/secret.txt", out_ + "/secret.json"},
      {"system file", "/etc/passwd", "/etc/passwd"},
      {"symlinked dir out", ws_ + "/linkdir/secret.txt", ws_ + "/linkdir/secret.json"},
      {"relative symlinked dir out", ws_ + "/linkdir_rel/secret.txt",
       ws_ + "/linkdir_rel/secret.json"},
      {"symlinked file out", ws_ + "/linkfile", ws_ + "/linkjson"},
      {"symlink in the middle", ws_ + "/a/mid/secret.txt", ws_ + "/a/mid/secret.json"},
      {"symlink to parent", ws_ + "/up/outside/secret.txt", ws_ + "/up/outside/secret.json"},
      {"out through a link and back", ws_ + "/linkdir/../ws/real.txt",
       ws_ + "/linkdir/../ws/real.json"},
      {"relative dot-dot", "../outside/secret.txt", "../outside/secret.json"},
      {"relative through a symlink", "linkdir/secret.txt", "linkdir/secret.json"},
  };
  for (const Trick& t : tricks) {
    SCOPED_TRACE(t.name);
    expectRefused(editCall(R"({"command":"view","path":)" + quote(t.text_path) + "}"), t.name);
    expectRefused(editCall(R"({"command":"str_replace","path":)" + quote(t.text_path) +
                           R"(,"old_str":"SECRET","new_str":"pwned"})"),
                  t.name);
    expectRefused(editCall(R"({"command":"insert","path":)" + quote(t.text_path) +
                           R"(,"insert_line":0,"new_str":"pwned"})"),
                  t.name);
    expectRefused(editCall(R"({"command":"undo_edit","path":)" + quote(t.text_path) + "}"), t.name);
    expectRefused(jsonCall(R"({"operation":"view","file_path":)" + quote(t.json_path) + "}"),
                  t.name);
    expectRefused(jsonCall(R"({"operation":"set","file_path":)" + quote(t.json_path) +
                           R"(,"json_path":"$.k","value":"pwned"})"),
                  t.name);
    expectRefused(jsonCall(R"({"operation":"remove","file_path":)" + quote(t.json_path) +
                           R"(,"json_path":"$.k"})"),
                  t.name);
  }
  expectOutsideUntouched();
}

TEST_F(file_sandbox, CreateCannotEscape) {
  for (const std::string& p :
       {ws_ + "/dangling", ws_ + "/linkdir/new.txt", ws_ + "/a/mid/new.txt",
        ws_ + "/../created.txt", base_ / "created.txt", ws_ + "/up/created.txt"}) {
    SCOPED_TRACE(p);
    expectRefused(editCall(R"({"command":"create","path":)" + quote(p) + R"(,"file_text":"x"})"),
                  p);
  }
  // json_edit_tool never creates files, but a dangling link out is still refused up front.
  expectRefused(jsonCall(R"({"operation":"add","file_path":)" + quote(ws_ + "/dangling.json") +
                         R"(,"json_path":"$.a","value":1})"),
                "dangling json");
  expectOutsideUntouched();
}

TEST_F(file_sandbox, ErrorsNameTheWayOut) {
  CallResult r = editCall(R"({"command":"view","path":)" + quote(ws_ + "/linkfile") + "}");
  EXPECT_EQ(r.error, "Access denied: " + ws_ + "/linkfile goes through the symbolic link " + ws_ +
                         "/linkfile -> " + out_ +
                         "/secret.txt, which leads outside the working directory " + ws_);
  r = editCall(R"({"command":"view","path":)" + quote(ws_ + "/../outside/secret.txt") + "}");
  EXPECT_EQ(r.error, "Access denied: " + ws_ + "/../outside/secret.txt resolves to " + out_ +
                         "/secret.txt, outside the working directory " + ws_);
}

TEST_F(file_sandbox, LinksThatStayInsideWork) {
  CallResult r = editCall(R"({"command":"view","path":)" + quote(ws_ + "/inside_link") + "}");
  ASSERT_EQ(r.status, AGENTD_OK) << r.error;
  EXPECT_NE(r.text.find("inside text"), std::string::npos);
  r = editCall(R"({"command":"str_replace","path":)" + quote(ws_ + "/inside_link") +
               R"(,"old_str":"inside","new_str":"edited"})");
  ASSERT_EQ(r.status, AGENTD_OK) << r.error;
  EXPECT_EQ(readFile(ws_ + "/real.txt"), "edited text");
  EXPECT_EQ(readLinkTarget(ws_ + "/inside_link"), "real.txt");  // the link itself is kept

  r = editCall(R"({"command":"view","path":)" + quote(ws_ + "/inside_dirlink/file.txt") + "}");
  EXPECT_EQ(r.status, AGENTD_OK) << r.error;
  r = editCall(R"({"command":"view","path":)" + quote(ws_ + "/sub/../real.txt") + "}");
  EXPECT_EQ(r.status, AGENTD_OK) << r.error;
  r = editCall(R"({"command":"create","path":)" + quote(ws_ + "/dangling_inside") +
               R"(,"file_text":"made"})");
  ASSERT_EQ(r.status, AGENTD_OK) << r.error;
  EXPECT_EQ(readFile(ws_ + "/new_inside.txt"), "made");

  // The working directory given through a symlink, paths through either spelling.
  const std::string alias = base_ / "ws_alias";
  r = run(edit_, kEdit, R"({"command":"view","path":)" + quote(alias + "/real.txt") + "}", alias);
  EXPECT_EQ(r.status, AGENTD_OK) << r.error;
  r = run(json_, kJson, R"({"operation":"view","file_path":)" + quote(ws_ + "/real.json") + "}",
          alias);
  EXPECT_EQ(r.status, AGENTD_OK) << r.error;
  r = run(edit_, kEdit, R"({"command":"view","path":)" + quote(alias + "/linkfile") + "}", alias);
  expectRefused(r, "alias linkfile");
}

TEST_F(file_sandbox, NoWorkingDirectoryMeansNoAccessUnlessAllowed) {
  for (LoadedPlugin* p : {&edit_, &json_}) {
    bool is_edit = p == &edit_;
    CallResult r =
        run(*p, is_edit ? kEdit : kJson,
            is_edit ? R"({"command":"view","path":)" + quote(ws_ + "/real.txt") + "}"
                    : R"({"operation":"view","file_path":)" + quote(ws_ + "/real.json") + "}",
            "");
    EXPECT_EQ(r.status, AGENTD_EINVAL);
    EXPECT_NE(r.error.find("no working directory"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("allow_any_path"), std::string::npos) << r.error;
  }
  CallResult r = run(edit_, kEdit, R"({"command":"view","path":)" + quote(ws_ + "/real.txt") + "}",
                     ws_ + "/missing");
  EXPECT_EQ(r.status, AGENTD_EINVAL);
  EXPECT_NE(r.error.find("working directory"), std::string::npos) << r.error;

  LoadedPlugin open_edit(AGENTD_PLUGIN_DIR "/str_replace_based_edit_tool.so");
  ASSERT_EQ(open_edit.create(R"({"allow_any_path":true})"), AGENTD_OK) << open_edit.lastError();
  r = run(open_edit, kEdit, R"({"command":"view","path":)" + quote(out_ + "/secret.txt") + "}", "");
  EXPECT_EQ(r.status, AGENTD_OK) << r.error;
  EXPECT_NE(r.text.find("SECRET"), std::string::npos);
  LoadedPlugin open_json(AGENTD_PLUGIN_DIR "/json_edit_tool.so");
  ASSERT_EQ(open_json.create(R"({"allow_any_path":true})"), AGENTD_OK) << open_json.lastError();
  r = run(open_json, kJson, R"({"operation":"view","file_path":)" + quote(ws_ + "/linkjson") + "}",
          ws_);
  EXPECT_EQ(r.status, AGENTD_OK) << r.error;
  EXPECT_NE(r.text.find("SECRET"), std::string::npos);
}

}  // namespace
}  // namespace agentd::plugintest

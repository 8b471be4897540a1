// Loads the built json_edit_tool.so and drives it through the C ABI on real JSON files.
#include <string>
#include <vector>

#include "unit/plugins/plugin_harness.h"
#include "unit/plugins/test_files.h"

namespace agentd::plugintest {
namespace {

constexpr const char* kTool = "json_edit_tool";

constexpr const char* kDoc =
    R"({"users":[{"name":"a","age":1,"tags":["x"]},{"name":"b","age":2},{"name":"c","age":3}],)"
    R"("config":{"database":{"host":"h","port":5432},"name":"cfg"},"weird key":{"k":1}})";

class JsonEditToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(plugin_.loadError(), "");
    ASSERT_EQ(plugin_.create(), AGENTD_OK) << plugin_.lastError();
    file_ = ws_ / "doc.json";
    writeFile(file_, kDoc);
  }

  CallResult call(const std::string& op, const std::string& json_path = "",
                  const std::string& extra = "") {
    std::string args = R"({"operation":")" + op + R"(","file_path":")" + file_ + "\"";
    if (!json_path.empty()) args += R"(,"json_path":")" + json_path + "\"";
    args += extra + "}";
    return plugin_.invokeWith(kTool, args, CallOptions{"task-1", ws_.path(), nullptr});
  }
  std::string ok(const std::string& op, const std::string& json_path = "",
                 const std::string& extra = "") {
    CallResult r = call(op, json_path, extra);
    EXPECT_EQ(r.status, AGENTD_OK) << op << " " << json_path << ": " << r.error;
    return r.text;
  }
  // The compact view of what json_path matches.
  std::string matches(const std::string& json_path) {
    std::string out = ok("view", json_path, R"(,"pretty_print":false)");
    std::string head = "JSONPath '" + json_path + "' matches:\n";
    if (out.rfind(head, 0) != 0) return "<" + out + ">";
    return out.substr(head.size());
  }
  std::string fails(const std::string& op, const std::string& json_path = "",
                    const std::string& extra = "", agentd_status status = AGENTD_EINVAL) {
    CallResult r = call(op, json_path, extra);
    EXPECT_EQ(r.status, status) << op << " " << json_path << " gave: " << r.text;
    return r.error;
  }
  // The file, re-serialized compactly for comparison.
  std::string fileCompact() {
    rapidjson::Document d;
    std::string text = readFile(file_);
    d.Parse(text.c_str());
    EXPECT_FALSE(d.HasParseError()) << text;
    return ok("view", "", R"(,"pretty_print":false)")
        .substr(("JSON content of " + file_ + ":\n").size());
  }

  TempDir ws_;
  std::string file_;
  LoadedPlugin plugin_{AGENTD_PLUGIN_DIR "/json_edit_tool.so"};
};
using json_edit_tool = JsonEditToolTest;

TEST_F(json_edit_tool, ToolMatchesTraeAgent) {
  const agentd_plugin* d = plugin_.descriptor();
  EXPECT_EQ(d->kind, AGENTD_KIND_TOOL);
  EXPECT_STREQ(d->name, "json_edit_tool");
  std::vector<ListedTool> tools = plugin_.listTools();
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].name, kTool);
  rapidjson::Document schema = parseJson(tools[0].input_schema);
  EXPECT_EQ(propertyNames(schema), (std::vector<std::string>{"file_path", "json_path", "operation",
                                                             "pretty_print", "value"}));
  EXPECT_EQ(requiredNames(schema), (std::vector<std::string>{"file_path", "operation"}));
  std::vector<std::string> ops;
  for (const auto& v : schema["properties"]["operation"]["enum"].GetArray()) {
    ops.emplace_back(v.GetString());
  }
  EXPECT_EQ(ops, (std::vector<std::string>{"view", "set", "add", "remove"}));
}

TEST_F(json_edit_tool, ViewsTheWholeFilePrettyOrCompact) {
  writeFile(file_, R"({"a":1,"b":[1,2.5],"c":{"d":"x"},"e":[],"f":{}})");
  EXPECT_EQ(ok("view"), "JSON content of " + file_ +
                            ":\n{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2.5\n  ],\n  \"c\": {\n"
                            "    \"d\": \"x\"\n  },\n  \"e\": [],\n  \"f\": {}\n}");
  EXPECT_EQ(ok("view", "", R"(,"pretty_print":false)"),
            "JSON content of " + file_ + ":\n" +
                R"({"a": 1, "b": [1, 2.5], "c": {"d": "x"}, "e": [], "f": {}})");
}

TEST_F(json_edit_tool, EveryJsonPathForm) {
  EXPECT_EQ(matches("$"), std::string(R"({"users": [{"name": "a", "age": 1, "tags": ["x"]}, )") +
                              R"({"name": "b", "age": 2}, {"name": "c", "age": 3}], "config": )" +
                              R"({"database": {"host": "h", "port": 5432}, "name": "cfg"}, )" +
                              R"("weird key": {"k": 1}})");
  EXPECT_EQ(matches("$.config.database.port"), "5432");
  EXPECT_EQ(matches("config.database.host"), "\"h\"");  // implicit root
  EXPECT_EQ(matches("$['weird key'].k"), "1");
  EXPECT_EQ(ok("view", "$[\\\"config\\\"].name"),
            "JSONPath '$[\"config\"].name' matches:\n\"cfg\"");
  EXPECT_EQ(matches("$.users[1].name"), "\"b\"");
  EXPECT_EQ(matches("$.users[-1].name"), "\"c\"");
  EXPECT_EQ(matches("$.users[*].name"), R"(["a", "b", "c"])");
  EXPECT_EQ(matches("$.users.*.age"), "[1, 2, 3]");
  EXPECT_EQ(matches("$.config[*]"), R"([{"host": "h", "port": 5432}, "cfg"])");
  EXPECT_EQ(matches("$..name"), R"(["a", "b", "c", "cfg"])");
  EXPECT_EQ(matches("$..port"), "5432");
  EXPECT_EQ(matches("$.users..tags[0]"), "\"x\"");
  EXPECT_EQ(matches("$..[0]"), R"([{"name": "a", "age": 1, "tags": ["x"]}, "x"])");
  EXPECT_EQ(matches("$.users[0:2].name"), R"(["a", "b"])");
  EXPECT_EQ(matches("$.users[1:].age"), "[2, 3]");
  EXPECT_EQ(matches("$.users[:1].age"), "1");
  EXPECT_EQ(matches("$.users[-2:].age"), "[2, 3]");
  EXPECT_EQ(matches("$.users[::2].age"), "[1, 3]");
  EXPECT_EQ(matches("$.users[::-1].age"), "[3, 2, 1]");
  EXPECT_EQ(matches("$.users[ 0 ].age"), "1");
  EXPECT_EQ(ok("view", "$.nothing.here"), "No matches found for JSONPath: $.nothing.here");
  EXPECT_EQ(ok("view", "$.users[7]"), "No matches found for JSONPath: $.users[7]");
  EXPECT_EQ(ok("view", "$.config.database.port", ""),
            "JSONPath '$.config.database.port' matches:\n5432");
}

TEST_F(json_edit_tool, BadJsonPathsAreErrors) {
  for (const char* bad : {"$.a[", "$.a[0,1]", "$.", "$..", "$a", "$.a]", "$[?(@.x)]", "$['open"}) {
    std::string error = fails("view", bad);
    EXPECT_EQ(
        error.rfind(
            std::string("JSON edit tool error: Invalid JSONPath expression '") + bad + "': ", 0),
        0u)
        << bad << " -> " << error;
  }
  EXPECT_NE(fails("view", "$.users[::0]").find("slice step cannot be zero"), std::string::npos);
  EXPECT_NE(fails("view", "$.a[0,1]").find("unions"), std::string::npos);
}

TEST_F(json_edit_tool, SetReplacesEveryMatch) {
  EXPECT_EQ(ok("set", "$.config.database.port", R"(,"value":6543)"),
            "Successfully updated 1 location(s) at JSONPath '$.config.database.port' with value: "
            "6543");
  EXPECT_EQ(matches("$.config.database.port"), "6543");
  EXPECT_EQ(ok("set", "$.users[*].age", R"(,"value":{"years":[1,"two"]})"),
            R"(Successfully updated 3 location(s) at JSONPath '$.users[*].age' with value: )"
            R"({"years": [1, "two"]})");
  EXPECT_EQ(matches("$.users[2].age.years[1]"), "\"two\"");
  ok("set", "$..name", R"(,"value":"héllo")");
  EXPECT_EQ(matches("$..name"), R"(["héllo", "héllo", "héllo", "héllo"])");
  EXPECT_NE(readFile(file_).find("héllo"), std::string::npos);  // not \u-escaped
  EXPECT_EQ(fails("set", "$.nope", R"(,"value":1)", AGENTD_ERR),
            "No matches found for JSONPath: $.nope");
  ok("set", "$", R"(,"value":[1,2])");
  EXPECT_EQ(fileCompact(), "[1, 2]");
}

TEST_F(json_edit_tool, SetWritesPrettyByDefaultAndKeepsATrailingNewline) {
  writeFile(file_, "{\"a\":1}\n");
  ok("set", "$.a", R"(,"value":2)");
  EXPECT_EQ(readFile(file_), "{\n  \"a\": 2\n}\n");
  writeFile(file_, R"({"a":1,"b":[1,2]})");
  ok("set", "$.a", R"(,"value":3,"pretty_print":false)");
  EXPECT_EQ(readFile(file_), R"({"a": 3, "b": [1, 2]})");
}

TEST_F(json_edit_tool, AddsKeysAndInsertsIntoArrays) {
  EXPECT_EQ(ok("add", "$.config.timeout", R"(,"value":30)"),
            "Successfully added value at JSONPath '$.config.timeout'");
  EXPECT_EQ(matches("$.config.timeout"), "30");
  ok("add", "$.config.name", R"(,"value":"renamed")");  // an existing key is overwritten
  EXPECT_EQ(matches("$.config.name"), "\"renamed\"");
  ok("add", "$.users[0]", R"(,"value":{"name":"first"})");
  ok("add", "$.users[99]", R"(,"value":{"name":"last"})");
  ok("add", "$.users[-1]", R"(,"value":{"name":"before-last"})");
  EXPECT_EQ(matches("$.users[*].name"), R"(["first", "a", "b", "c", "before-last", "last"])");
  ok("add", "$.users[*].flag", R"(,"value":true)");
  EXPECT_EQ(matches("$..flag"), "[true, true, true, true, true, true]");
  ok("add", "$['weird key']['new key']", R"(,"value":[])");
  EXPECT_EQ(matches("$['weird key']"), R"({"k": 1, "new key": []})");
  // Nested parents: every array matched gets its element, none is skipped or misplaced.
  writeFile(file_, R"({"list":[{"list":[1]},{"x":{"list":[]}}]})");
  ok("add", "$..list[0]", R"(,"value":0)");
  EXPECT_EQ(fileCompact(), R"({"list": [0, {"list": [0, 1]}, {"x": {"list": [0]}}]})");
}

TEST_F(json_edit_tool, AddErrors) {
  EXPECT_EQ(fails("add", "$.missing.key", R"(,"value":1)", AGENTD_ERR),
            "Parent path not found: $.missing");
  EXPECT_EQ(fails("add", "$.users.key", R"(,"value":1)", AGENTD_ERR),
            "Cannot add key to non-object at path: $.users");
  EXPECT_EQ(fails("add", "$.config[0]", R"(,"value":1)", AGENTD_ERR),
            "Cannot add element to non-array at path: $.config");
  EXPECT_NE(
      fails("add", "$.users[*]", R"(,"value":1)").find("Path must end in a key or array index"),
      std::string::npos);
  EXPECT_NE(fails("add", "$", R"(,"value":1)").find("root"), std::string::npos);
  EXPECT_EQ(fails("add", "$.users[0]"), "A 'value' parameter is required for the 'add' operation.");
  EXPECT_EQ(fails("add", "$.users[0]", R"(,"value":null)"),
            "A 'value' parameter is required for the 'add' operation.");
  EXPECT_EQ(fileCompact().find("\"key\""), std::string::npos);  // nothing was written
}

TEST_F(json_edit_tool, RemovesEveryMatchSafely) {
  EXPECT_EQ(ok("remove", "$.users[1]"),
            "Successfully removed 1 element(s) at JSONPath '$.users[1]'");
  EXPECT_EQ(matches("$.users[*].name"), R"(["a", "c"])");
  EXPECT_EQ(ok("remove", "$.users[*].age"),
            "Successfully removed 2 element(s) at JSONPath '$.users[*].age'");
  EXPECT_EQ(ok("view", "$..age"), "No matches found for JSONPath: $..age");
  ok("remove", "$['weird key']");
  EXPECT_EQ(ok("view", "$['weird key']"), "No matches found for JSONPath: $['weird key']");

  writeFile(file_, R"({"l":[0,1,2,3,4,5],"t":{"a":{"a":{"a":1}}}})");
  ok("remove", "$.l[1:4]");
  EXPECT_EQ(matches("$.l"), "[0, 4, 5]");
  ok("remove", "$.l[::2]");
  EXPECT_EQ(matches("$.l"), "[4]");
  EXPECT_EQ(ok("remove", "$..a"), "Successfully removed 3 element(s) at JSONPath '$..a'");
  EXPECT_EQ(fileCompact(), R"({"l": [4], "t": {}})");

  EXPECT_EQ(fails("remove", "$.zzz", "", AGENTD_ERR), "No matches found for JSONPath: $.zzz");
  EXPECT_EQ(fails("remove", "$"), "Cannot remove the root element");
}

TEST_F(json_edit_tool, FileErrors) {
  const std::string missing = ws_ / "missing.json";
  CallResult r = plugin_.invokeWith(kTool, R"({"operation":"view","file_path":")" + missing + "\"}",
                                    CallOptions{"task-1", ws_.path(), nullptr});
  EXPECT_EQ(r.error, "JSON edit tool error: File does not exist: " + missing);
  writeFile(file_, "  \n");
  EXPECT_EQ(fails("view"), "JSON edit tool error: File is empty: " + file_);
  writeFile(file_, "{\"a\":");
  EXPECT_EQ(fails("view").rfind("JSON edit tool error: Invalid JSON in file " + file_ + ": ", 0),
            0u);
  std::string deep(600, '[');
  deep += std::string(600, ']');
  writeFile(file_, deep);
  EXPECT_NE(fails("view").find("nested deeper"), std::string::npos);
  writeFile(file_, kDoc);
}

TEST_F(json_edit_tool, ArgumentErrors) {
  auto raw = [&](const std::string& args) {
    return plugin_.invokeWith(kTool, args, CallOptions{"task-1", ws_.path(), nullptr});
  };
  EXPECT_EQ(raw(R"({"file_path":"/x"})").error, "Operation parameter is required");
  EXPECT_EQ(raw(R"({"operation":"view"})").error, "file_path parameter is required");
  // Relative to the working directory.
  EXPECT_NE(
      raw(R"({"operation":"view","file_path":"rel.json"})").error.find(ws_.path() + "/rel.json"),
      std::string::npos);
  EXPECT_EQ(plugin_
                .invokeWith(kTool, R"({"operation":"view","file_path":"rel.json"})",
                            CallOptions{"task-1", "", nullptr})
                .error,
            "File path must be absolute: rel.json");
  EXPECT_EQ(raw(R"({"operation":"view","file_path":"/x","json_path":5})").error,
            "json_path parameter must be a string.");
  EXPECT_EQ(raw(R"({"operation":"view","file_path":"/x","pretty_print":"no"})").error,
            "pretty_print parameter must be a boolean.");
  EXPECT_EQ(raw(R"({"operation":"merge","file_path":"/x"})").error,
            "Unknown operation: merge. Supported operations: view, set, add, remove");
  EXPECT_EQ(fails("set", "", R"(,"value":1)"),
            "json_path parameter is required and must be a string for the 'set' operation.");
  EXPECT_EQ(fails("remove"),
            "json_path parameter is required and must be a string for the 'remove' operation.");
  EXPECT_EQ(ok("VIEW", "$.config.name"), "JSONPath '$.config.name' matches:\n\"cfg\"");
  EXPECT_EQ(plugin_.invoke("json", "{}").status, AGENTD_ENOTFOUND);
}

}  // namespace
}  // namespace agentd::plugintest

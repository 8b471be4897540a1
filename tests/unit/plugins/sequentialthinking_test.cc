// Loads the built sequentialthinking.so and drives it through the C ABI.
#include <string>
#include <thread>
#include <vector>

#include "unit/plugins/plugin_harness.h"

namespace agentd::plugintest {
namespace {

constexpr const char* kTool = "sequentialthinking";

// Arguments of a plain thought.
std::string thought(int number, int total, bool next = true, const std::string& extra = "") {
  return R"({"thought":"step )" + std::to_string(number) + R"(","next_thought_needed":)" +
         (next ? "true" : "false") + R"(,"thought_number":)" + std::to_string(number) +
         R"(,"total_thoughts":)" + std::to_string(total) + extra + "}";
}

std::vector<std::string> branchesOf(const rapidjson::Document& result) {
  std::vector<std::string> ids;
  for (const auto& v : result["branches"].GetArray()) ids.emplace_back(v.GetString());
  return ids;
}

class SequentialThinkingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(plugin_.loadError(), "");
    ASSERT_EQ(plugin_.create(), AGENTD_OK) << plugin_.lastError();
  }

  // Invokes the tool, expects success, returns the parsed JSON result.
  rapidjson::Document think(const std::string& args, std::string_view task_id = "task-1") {
    CallResult r = plugin_.invoke(kTool, args, task_id);
    EXPECT_EQ(r.status, AGENTD_OK) << r.error << " for " << args;
    EXPECT_FALSE(r.emitted_text);
    EXPECT_TRUE(r.emitted_json);
    return parseJson(r.json);
  }

  int64_t historyLength(const std::string& args, std::string_view task_id = "task-1") {
    rapidjson::Document d = think(args, task_id);
    if (!d.IsObject() || !d.HasMember("thought_history_length")) return -1;
    return d["thought_history_length"].GetInt64();
  }

  // Invokes the tool, expects AGENTD_EINVAL, returns the error text.
  std::string rejected(const std::string& args) {
    CallResult r = plugin_.invoke(kTool, args);
    EXPECT_EQ(r.status, AGENTD_EINVAL) << "accepted: " << args;
    EXPECT_EQ(r.json, "");
    return r.error;
  }

  LoadedPlugin plugin_{AGENTD_PLUGIN_DIR "/sequentialthinking.so"};
};
// The suite carries the plugin's name so that `ctest -R sequential` selects it.
using sequentialthinking = SequentialThinkingTest;

TEST_F(sequentialthinking, DescriptorNamesTheToolPlugin) {
  const agentd_plugin* d = plugin_.descriptor();
  EXPECT_EQ(d->struct_size, sizeof(agentd_plugin));
  EXPECT_EQ(d->abi_version, AGENTD_ABI_VERSION);
  EXPECT_EQ(d->kind, AGENTD_KIND_TOOL);
  EXPECT_STREQ(d->name, "sequentialthinking");
  EXPECT_STREQ(d->version, "0.1.0");
  EXPECT_NE(d->end_task, nullptr);
  ASSERT_NE(d->config_schema, nullptr);
  rapidjson::Document config_schema = parseJson(d->config_schema);
  EXPECT_EQ(propertyNames(config_schema), std::vector<std::string>{"max_thoughts_per_task"});
}

TEST_F(sequentialthinking, ListsOneToolWithTraeAgentParameters) {
  std::vector<ListedTool> tools = plugin_.listTools();
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].name, "sequentialthinking");
  EXPECT_EQ(tools[0].flags, AGENTD_TOOL_INLINE);
  EXPECT_NE(tools[0].description.find("next_thought_needed"), std::string::npos);

  rapidjson::Document schema = parseJson(tools[0].input_schema);
  EXPECT_STREQ(schema["type"].GetString(), "object");
  EXPECT_EQ(
      propertyNames(schema),
      (std::vector<std::string>{"branch_from_thought", "branch_id", "is_revision",
                                "needs_more_thoughts", "next_thought_needed", "revises_thought",
                                "thought", "thought_number", "total_thoughts"}));
  EXPECT_EQ(requiredNames(schema), (std::vector<std::string>{"next_thought_needed", "thought",
                                                             "thought_number", "total_thoughts"}));

  const std::vector<std::pair<std::string, std::string>> types = {
      {"thought", "string"},
      {"next_thought_needed", "boolean"},
      {"thought_number", "integer"},
      {"total_thoughts", "integer"},
      {"is_revision", "boolean"},
      {"revises_thought", "integer"},
      {"branch_from_thought", "integer"},
      {"branch_id", "string"},
      {"needs_more_thoughts", "boolean"}};
  const rapidjson::Value& props = schema["properties"];
  for (const auto& [name, type] : types) {
    const rapidjson::Value& p = props[name.c_str()];
    EXPECT_STREQ(p["type"].GetString(), type.c_str()) << name;
    EXPECT_TRUE(p.HasMember("description")) << name;
    if (type == "integer") {
      ASSERT_TRUE(p.HasMember("minimum")) << name;
      EXPECT_EQ(p["minimum"].GetInt(), 1) << name;
    }
  }
}

TEST_F(sequentialthinking, ReturnsStatusOfTheThought) {
  rapidjson::Document r = think(thought(1, 3));
  EXPECT_EQ(r["thought_number"].GetInt64(), 1);
  EXPECT_EQ(r["total_thoughts"].GetInt64(), 3);
  EXPECT_TRUE(r["next_thought_needed"].IsTrue());
  ASSERT_TRUE(r["branches"].IsArray());
  EXPECT_TRUE(r["branches"].Empty());
  EXPECT_EQ(r["thought_history_length"].GetInt64(), 1);
  EXPECT_EQ(r.MemberCount(), 5u);

  rapidjson::Document last = think(thought(2, 2, /*next=*/false));
  EXPECT_TRUE(last["next_thought_needed"].IsFalse());
  EXPECT_EQ(last["thought_history_length"].GetInt64(), 2);
}

TEST_F(sequentialthinking, RaisesTotalToTheThoughtNumber) {
  rapidjson::Document r = think(thought(5, 3));
  EXPECT_EQ(r["thought_number"].GetInt64(), 5);
  EXPECT_EQ(r["total_thoughts"].GetInt64(), 5);

  rapidjson::Document lower = think(thought(6, 10));
  EXPECT_EQ(lower["total_thoughts"].GetInt64(), 10);
}

TEST_F(sequentialthinking, AcceptsOptionalFieldsAndNulls) {
  rapidjson::Document r =
      think(thought(2, 4, true,
                    R"(,"is_revision":true,"revises_thought":1,"needs_more_thoughts":false,)"
                    R"("branch_from_thought":null,"branch_id":null)"));
  EXPECT_EQ(r["thought_history_length"].GetInt64(), 1);
  EXPECT_TRUE(r["branches"].Empty());
  // JSON Schema's "integer" includes numbers with a zero fraction.
  rapidjson::Document f = think(
      R"({"thought":"x","next_thought_needed":true,"thought_number":3.0,"total_thoughts":4})");
  EXPECT_EQ(f["thought_number"].GetInt64(), 3);
}

TEST_F(sequentialthinking, RejectsMissingRequiredFields) {
  EXPECT_EQ(rejected(R"({"next_thought_needed":true,"thought_number":1,"total_thoughts":1})"),
            "missing required parameter: thought");
  EXPECT_EQ(rejected(R"({"thought":"a","thought_number":1,"total_thoughts":1})"),
            "missing required parameter: next_thought_needed");
  EXPECT_EQ(rejected(R"({"thought":"a","next_thought_needed":true,"total_thoughts":1})"),
            "missing required parameter: thought_number");
  EXPECT_EQ(rejected(R"({"thought":"a","next_thought_needed":true,"thought_number":1})"),
            "missing required parameter: total_thoughts");
  EXPECT_EQ(rejected(R"({"thought":null,"next_thought_needed":true,"thought_number":1,)"
                     R"("total_thoughts":1})"),
            "missing required parameter: thought");
}

TEST_F(sequentialthinking, RejectsWrongTypes) {
  EXPECT_EQ(rejected(R"({"thought":42,"next_thought_needed":true,"thought_number":1,)"
                     R"("total_thoughts":1})"),
            "invalid thought: must be a string, got number");
  EXPECT_EQ(rejected(R"({"thought":"a","next_thought_needed":"yes","thought_number":1,)"
                     R"("total_thoughts":1})"),
            "invalid next_thought_needed: must be a boolean, got string");
  EXPECT_EQ(rejected(R"({"thought":"a","next_thought_needed":true,"thought_number":"1",)"
                     R"("total_thoughts":1})"),
            "invalid thought_number: must be an integer, got string");
  EXPECT_EQ(rejected(R"({"thought":"a","next_thought_needed":true,"thought_number":1,)"
                     R"("total_thoughts":[3]})"),
            "invalid total_thoughts: must be an integer, got array");
  EXPECT_EQ(rejected(R"({"thought":"a","next_thought_needed":true,"thought_number":1.5,)"
                     R"("total_thoughts":3})"),
            "invalid thought_number: must be an integer");
  EXPECT_EQ(rejected(thought(1, 1, true, R"(,"is_revision":"true")")),
            "invalid is_revision: must be a boolean, got string");
  EXPECT_EQ(rejected(thought(1, 1, true, R"(,"branch_id":7)")),
            "invalid branch_id: must be a string, got number");
  EXPECT_EQ(rejected(thought(1, 1, true, R"(,"needs_more_thoughts":1)")),
            "invalid needs_more_thoughts: must be a boolean, got number");
}

TEST_F(sequentialthinking, RejectsNumbersBelowOne) {
  EXPECT_EQ(rejected(thought(0, 3)), "invalid thought_number: must be at least 1, got 0");
  EXPECT_EQ(rejected(thought(1, -2)), "invalid total_thoughts: must be at least 1, got -2");
  EXPECT_EQ(rejected(thought(1, 3, true, R"(,"revises_thought":0)")),
            "invalid revises_thought: must be at least 1, got 0");
  EXPECT_EQ(rejected(thought(1, 3, true, R"(,"branch_from_thought":-1,"branch_id":"b")")),
            "invalid branch_from_thought: must be at least 1, got -1");
}

TEST_F(sequentialthinking, RejectsArgumentsThatAreNotAnObject) {
  EXPECT_NE(rejected("not json").find("not valid JSON"), std::string::npos);
  EXPECT_EQ(rejected("[1,2]"), "arguments must be a JSON object");
  EXPECT_EQ(rejected(""), "arguments must be a JSON object");
}

TEST_F(sequentialthinking, RejectedCallsAreNotRecorded) {
  EXPECT_EQ(historyLength(thought(1, 3)), 1);
  rejected(thought(0, 3));
  rejected(R"({"thought":"a"})");
  EXPECT_EQ(historyLength(thought(2, 3)), 2);
}

TEST_F(sequentialthinking, HistoryGrowsPerTaskIndependently) {
  EXPECT_EQ(historyLength(thought(1, 3), "a"), 1);
  EXPECT_EQ(historyLength(thought(2, 3), "a"), 2);
  EXPECT_EQ(historyLength(thought(1, 3), "b"), 1);
  EXPECT_EQ(historyLength(thought(3, 3), "a"), 3);
  EXPECT_EQ(historyLength(thought(2, 3), "b"), 2);
}

TEST_F(sequentialthinking, EndTaskClearsOnlyThatTask) {
  think(thought(1, 3, true, R"(,"branch_from_thought":1,"branch_id":"alt")"), "a");
  think(thought(2, 3), "a");
  think(thought(1, 3), "b");
  plugin_.endTask("a");

  rapidjson::Document a = think(thought(1, 3), "a");
  EXPECT_EQ(a["thought_history_length"].GetInt64(), 1);
  EXPECT_TRUE(a["branches"].Empty());
  EXPECT_EQ(historyLength(thought(2, 3), "b"), 2);
  plugin_.endTask("never-started");  // unknown ids are ignored
}

TEST_F(sequentialthinking, RecordsBranchesInOrderOfFirstUse) {
  think(thought(1, 4));
  rapidjson::Document r =
      think(thought(2, 4, true, R"(,"branch_from_thought":1,"branch_id":"alt")"));
  EXPECT_EQ(branchesOf(r), std::vector<std::string>{"alt"});

  // A branch id without a branching point, or a branching point without an id, is no branch.
  r = think(thought(3, 4, true, R"(,"branch_id":"loose")"));
  EXPECT_EQ(branchesOf(r), std::vector<std::string>{"alt"});
  r = think(thought(4, 4, true, R"(,"branch_from_thought":2)"));
  EXPECT_EQ(branchesOf(r), std::vector<std::string>{"alt"});

  r = think(thought(5, 6, true, R"(,"branch_from_thought":1,"branch_id":"zeta")"));
  r = think(thought(6, 6, false, R"(,"branch_from_thought":2,"branch_id":"alt")"));
  EXPECT_EQ(branchesOf(r), (std::vector<std::string>{"alt", "zeta"}));
  EXPECT_EQ(r["thought_history_length"].GetInt64(), 6);

  // Branches belong to the task too.
  rapidjson::Document other = think(thought(1, 1), "other-task");
  EXPECT_TRUE(other["branches"].Empty());
}

TEST_F(sequentialthinking, CallsWithoutTaskIdShareOneState) {
  EXPECT_EQ(historyLength(thought(1, 2), ""), 1);
  EXPECT_EQ(historyLength(thought(2, 2), ""), 2);
  EXPECT_EQ(historyLength(thought(1, 2), "task-1"), 1);
}

TEST_F(sequentialthinking, UnknownToolIsNotFound) {
  CallResult r = plugin_.invoke("sequential_thinking", thought(1, 1));
  EXPECT_EQ(r.status, AGENTD_ENOTFOUND);
  EXPECT_NE(r.error.find("sequential_thinking"), std::string::npos) << r.error;
}

TEST_F(sequentialthinking, ConcurrentTasksKeepExactCounts) {
  constexpr int kThreads = 4;
  constexpr int kCalls = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      const std::string own = "task-" + std::to_string(t);
      for (int i = 1; i <= kCalls; ++i) {
        CallResult r = plugin_.invoke(kTool, thought(i, kCalls), own);
        ASSERT_EQ(r.status, AGENTD_OK) << r.error;
        r = plugin_.invoke(kTool, thought(i, kCalls), "shared");
        ASSERT_EQ(r.status, AGENTD_OK) << r.error;
        if (i % 50 == 0) plugin_.endTask("scratch-" + std::to_string(t));
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(historyLength(thought(1, 1), "task-" + std::to_string(t)), kCalls + 1);
  }
  EXPECT_EQ(historyLength(thought(1, 1), "shared"), kThreads * kCalls + 1);
}

class SequentialThinkingConfigTest : public ::testing::Test {
 protected:
  LoadedPlugin plugin_{AGENTD_PLUGIN_DIR "/sequentialthinking.so"};
};
using sequentialthinking_config = SequentialThinkingConfigTest;

TEST_F(sequentialthinking_config, LimitsThoughtsPerTask) {
  ASSERT_EQ(plugin_.loadError(), "");
  ASSERT_EQ(plugin_.create(R"({"max_thoughts_per_task":2})"), AGENTD_OK) << plugin_.lastError();
  EXPECT_EQ(plugin_.invoke(kTool, thought(1, 3)).status, AGENTD_OK);
  EXPECT_EQ(plugin_.invoke(kTool, thought(2, 3)).status, AGENTD_OK);
  CallResult r = plugin_.invoke(kTool, thought(3, 3));
  EXPECT_EQ(r.status, AGENTD_ERR);
  EXPECT_NE(r.error.find("max_thoughts_per_task"), std::string::npos) << r.error;
  EXPECT_EQ(plugin_.invoke(kTool, thought(1, 3), "another").status, AGENTD_OK);
  plugin_.endTask("task-1");
  EXPECT_EQ(plugin_.invoke(kTool, thought(1, 3)).status, AGENTD_OK);
}

TEST_F(sequentialthinking_config, RejectsBadConfig) {
  ASSERT_EQ(plugin_.loadError(), "");
  for (const char* bad : {R"({"max_thoughts_per_task":0})", R"({"max_thoughts_per_task":"9"})",
                          R"({"max_thoughts":9})", "[]", "{"}) {
    EXPECT_EQ(plugin_.create(bad), AGENTD_EINVAL) << bad;
    EXPECT_EQ(plugin_.instance(), nullptr) << bad;
    EXPECT_NE(plugin_.lastError(), "") << bad;
  }
  EXPECT_EQ(plugin_.create(R"({"max_thoughts":9})"), AGENTD_EINVAL);
  EXPECT_EQ(plugin_.lastError(), "unknown config key: max_thoughts");
}

TEST_F(sequentialthinking_config, ReconfigureChangesTheLimitOrKeepsTheOldOne) {
  ASSERT_EQ(plugin_.loadError(), "");
  ASSERT_EQ(plugin_.create(R"({"max_thoughts_per_task":1})"), AGENTD_OK) << plugin_.lastError();
  const agentd_plugin* d = plugin_.descriptor();
  EXPECT_EQ(d->reconfigure(plugin_.instance(), view(R"({"max_thoughts_per_task":0})")),
            AGENTD_EINVAL);
  EXPECT_NE(std::string(d->last_error(plugin_.instance())).find("max_thoughts_per_task"),
            std::string::npos);
  EXPECT_EQ(plugin_.invoke(kTool, thought(1, 2)).status, AGENTD_OK);
  EXPECT_EQ(plugin_.invoke(kTool, thought(2, 2)).status, AGENTD_ERR);

  EXPECT_EQ(d->reconfigure(plugin_.instance(), view(R"({"max_thoughts_per_task":3})")), AGENTD_OK);
  EXPECT_EQ(plugin_.invoke(kTool, thought(2, 2)).status, AGENTD_OK);
  // The history survives a reconfigure.
  CallResult r = plugin_.invoke(kTool, thought(3, 3));
  ASSERT_EQ(r.status, AGENTD_OK) << r.error;
  EXPECT_EQ(parseJson(r.json)["thought_history_length"].GetInt64(), 3);
}

}  // namespace
}  // namespace agentd::plugintest

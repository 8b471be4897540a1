// Loads the built task_done.so and drives it through the C ABI.
#include <string>

#include "unit/plugins/plugin_harness.h"

namespace agentd::plugintest {
namespace {

class TaskDoneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(plugin_.loadError(), "");
    ASSERT_EQ(plugin_.create(), AGENTD_OK) << plugin_.lastError();
  }
  LoadedPlugin plugin_{AGENTD_PLUGIN_DIR "/task_done.so"};
};
// The suite carries the plugin's name so that `ctest -R task_done` selects it.
using task_done = TaskDoneTest;

TEST_F(task_done, DescriptorNamesTheToolPlugin) {
  const agentd_plugin* d = plugin_.descriptor();
  EXPECT_EQ(d->struct_size, sizeof(agentd_plugin));
  EXPECT_EQ(d->abi_version, AGENTD_ABI_VERSION);
  EXPECT_EQ(d->kind, AGENTD_KIND_TOOL);
  EXPECT_STREQ(d->name, "task_done");
  EXPECT_STREQ(d->version, "0.1.0");
  ASSERT_NE(d->description, nullptr);
  EXPECT_NE(d->list_tools, nullptr);
  EXPECT_NE(d->invoke, nullptr);
}

TEST(task_done_on_abi_1_0_host, ListsTheToolWithoutFlags) {
  LoadedPlugin plugin(AGENTD_PLUGIN_DIR "/task_done.so");
  ASSERT_EQ(plugin.loadError(), "");
  ASSERT_EQ(plugin.create("{}", fakeHostApi10()), AGENTD_OK) << plugin.lastError();
  std::vector<ListedTool> tools = plugin.listTools();  // calling add_tool_flags fails the test
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].name, "task_done");
  EXPECT_EQ(tools[0].flags, 0u);
}

TEST_F(task_done, ConfigSchemaAcceptsNoKeys) {
  const char* schema_text = plugin_.descriptor()->config_schema;
  ASSERT_NE(schema_text, nullptr);
  rapidjson::Document schema = parseJson(schema_text);
  EXPECT_TRUE(propertyNames(schema).empty());
  ASSERT_TRUE(schema.HasMember("additionalProperties"));
  EXPECT_TRUE(schema["additionalProperties"].IsFalse());
}

TEST_F(task_done, ListsOneToolWithoutParameters) {
  std::vector<ListedTool> tools = plugin_.listTools();
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].name, "task_done");
  EXPECT_EQ(tools[0].flags, AGENTD_TOOL_INLINE);  // pure computation: runs on the event thread
  rapidjson::Document schema = parseJson(tools[0].input_schema);
  ASSERT_TRUE(schema.HasMember("type"));
  EXPECT_STREQ(schema["type"].GetString(), "object");
  ASSERT_TRUE(schema.HasMember("properties"));
  EXPECT_TRUE(schema["properties"].IsObject());
  EXPECT_TRUE(propertyNames(schema).empty());
  ASSERT_TRUE(schema.HasMember("required"));
  EXPECT_TRUE(schema["required"].IsArray());
  EXPECT_TRUE(requiredNames(schema).empty());
}

TEST_F(task_done, DescriptionRequiresVerificationFirst) {
  std::vector<ListedTool> tools = plugin_.listTools();
  ASSERT_EQ(tools.size(), 1u);
  const std::string& d = tools[0].description;
  EXPECT_NE(d.find("complet"), std::string::npos) << d;
  EXPECT_NE(d.find("verif"), std::string::npos) << d;
  EXPECT_NE(d.find("test script"), std::string::npos) << d;
}

TEST_F(task_done, ReturnsTaskDoneText) {
  CallResult r = plugin_.invoke("task_done", "{}");
  EXPECT_EQ(r.status, AGENTD_OK) << r.error;
  EXPECT_EQ(r.text, "Task done.");
  EXPECT_TRUE(r.emitted_text);
  EXPECT_FALSE(r.emitted_json);
  EXPECT_EQ(r.error, "");
}

TEST_F(task_done, IgnoresUnexpectedArguments) {
  CallResult r = plugin_.invoke("task_done", R"({"summary":"fixed the bug"})", "");
  EXPECT_EQ(r.status, AGENTD_OK) << r.error;
  EXPECT_EQ(r.text, "Task done.");
}

TEST_F(task_done, UnknownToolIsNotFound) {
  CallResult r = plugin_.invoke("task_finished", "{}");
  EXPECT_EQ(r.status, AGENTD_ENOTFOUND);
  EXPECT_NE(r.error.find("task_finished"), std::string::npos) << r.error;
  EXPECT_EQ(r.text, "");
}

TEST_F(task_done, EndTaskAndReconfigureAreHarmless) {
  plugin_.endTask("task-1");
  ASSERT_NE(plugin_.descriptor()->reconfigure, nullptr);
  EXPECT_EQ(plugin_.descriptor()->reconfigure(plugin_.instance(), view("{}")), AGENTD_OK);
  EXPECT_EQ(plugin_.invoke("task_done", "{}").text, "Task done.");
}

}  // namespace
}  // namespace agentd::plugintest

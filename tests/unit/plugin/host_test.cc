// PluginHost: routing calls, turning plugin misbehaviour into tool errors, rejecting duplicates and
// failed creates without disturbing what runs, reconfigure, and tool-list changes.
#include "plugin/host.h"

#include <gtest/gtest.h>

#include "unit/plugin/fixture_paths.h"

namespace agentd::plugin {
namespace {

using agentd::testing::fixture;

PluginSpec spec(const std::string& name, const std::string& config = "{}") {
  PluginSpec s;
  s.path = fixture(name);
  s.config_json = config;
  return s;
}

class HostTest : public ::testing::Test {
 protected:
  HostTest() : host_({agentd::testing::tempDir("host"), std::chrono::milliseconds(2000)}) {}
  ToolResult call(const std::string& tool, const std::string& args = "{}") {
    return host_.call(tool, args, ctx_);
  }
  PluginHost host_;
  CallContext ctx_;
};

TEST_F(HostTest, CallsToolsOfCppAndCPlugins) {
  // Both offer `echo`: side by side they clash.
  EXPECT_FALSE(host_.apply({spec("good_cpp"), spec("good_c")}).isOk());
  ASSERT_TRUE(host_.apply({spec("good_c")}).isOk());
  auto c = call("echo", R"({"text":"from C"})");
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_TRUE(c.is_json);
  EXPECT_EQ(c.output, R"({"text":"from C"})");
  c = call("upper", R"({"text":"abc"})");
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_NE(c.output.find("ABC"), std::string::npos) << c.output;

  ASSERT_TRUE(host_.apply({spec("good_cpp")}).isOk());
  auto r = call("echo", R"({"text":"hi there"})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.output, "hi there");
  EXPECT_FALSE(r.is_json);

  r = call("add", R"({"a":2,"b":40})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.is_json);
  EXPECT_EQ(r.output, R"({"sum":42})");

  r = call("noop");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.output, "");
}

TEST_F(HostTest, PluginErrorsBecomeToolErrors) {
  ASSERT_TRUE(host_.apply({spec("good_cpp"), spec("throws")}).isOk());
  auto r = call("fail");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.status, AGENTD_EINVAL);
  EXPECT_EQ(r.error, "asked to fail");

  r = call("boom");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "boom");

  r = call("weird");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "unknown exception");

  r = call("bad_utf8");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("not valid UTF-8"), std::string::npos) << r.error;

  r = call("bad_json");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("invalid JSON"), std::string::npos) << r.error;

  r = call("echo", "{not json");
  EXPECT_FALSE(r.ok);

  r = call("no_such_tool");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.status, AGENTD_ENOTFOUND);

  // Still serving after all of that.
  r = call("echo", R"({"text":"alive"})");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.output, "alive");
}

TEST_F(HostTest, ContextAndProgressReachThePlugin) {
  ASSERT_TRUE(host_.apply({spec("good_cpp")}).isOk());
  ctx_.task_id = "task-7";
  ctx_.working_dir = "/tmp/work";
  auto r = call("context");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.output, "task-7|/tmp/work");

  std::vector<std::string> seen;
  ctx_.on_progress = [&](double p, double total, std::string_view m) {
    seen.push_back(std::to_string(static_cast<int>(p)) + "/" +
                   std::to_string(static_cast<int>(total)) + " " + std::string(m));
  };
  r = call("progress");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.output, "done");
  EXPECT_EQ(seen, (std::vector<std::string>{"1/3 step 1", "2/3 step 2", "3/3 step 3"}));
}

TEST_F(HostTest, CreateFailureReportsLastErrorAndKeepsServing) {
  ASSERT_TRUE(host_.apply({spec("good_cpp")}).isOk());
  std::vector<LoadError> errors;
  Status st = host_.apply({spec("good_cpp"), spec("create_fails")}, &errors);
  EXPECT_FALSE(st.isOk());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].reason, "create");
  EXPECT_NE(errors[0].message.find("missing required setting 'token'"), std::string::npos)
      << errors[0].message;
  EXPECT_EQ(host_.current()->plugins().size(), 1u);
  EXPECT_TRUE(call("echo", R"({"text":"x"})").ok);

  errors.clear();
  st = host_.apply({spec("good_cpp"), spec("throws", R"({"throw_in_create":true})")}, &errors);
  EXPECT_FALSE(st.isOk());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].reason, "create");
  EXPECT_TRUE(call("echo", R"({"text":"x"})").ok);
}

TEST_F(HostTest, RejectsDuplicatePluginAndToolNames) {
  std::vector<LoadError> errors;
  EXPECT_FALSE(host_.apply({spec("good_cpp"), spec("good_cpp_v2")}, &errors).isOk());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].reason, "duplicate");
  EXPECT_NE(errors[0].message.find("'good' is already loaded"), std::string::npos);
  EXPECT_TRUE(host_.current()->plugins().empty());

  errors.clear();
  EXPECT_FALSE(host_.apply({spec("good_cpp"), spec("dup_tool")}, &errors).isOk());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].reason, "duplicate");
  EXPECT_NE(errors[0].message.find("tool 'echo'"), std::string::npos) << errors[0].message;

  // keep_going loads what it can.
  errors.clear();
  EXPECT_TRUE(host_
                  .apply({spec("good_cpp"), spec("dup_tool"), spec("wrong_major")}, &errors,
                         /*keep_going=*/true)
                  .isOk());
  EXPECT_EQ(errors.size(), 2u);
  EXPECT_EQ(host_.current()->plugins().size(), 1u);
}

TEST_F(HostTest, FailedApplyLeavesCurrentSetUntouched) {
  ASSERT_TRUE(host_.apply({spec("good_cpp")}).isOk());
  auto before = host_.current();
  auto gen = before->plugin("good");
  EXPECT_FALSE(host_.apply({spec("good_cpp_v2"), spec("not_elf")}).isOk());
  EXPECT_EQ(host_.current(), before);
  EXPECT_EQ(host_.current()->plugin("good"), gen);
  EXPECT_EQ(call("version").output, "v1");
}

TEST_F(HostTest, UnchangedSpecReusesGenerationAndConfigChangeReconfigures) {
  ASSERT_TRUE(host_.apply({spec("good_cpp", R"({"greeting":"hi"})")}).isOk());
  auto gen = host_.current()->plugin("good");
  EXPECT_EQ(call("greet").output, "hi");

  ASSERT_TRUE(host_.apply({spec("good_cpp", R"({"greeting":"hi"})")}).isOk());
  EXPECT_EQ(host_.current()->plugin("good"), gen);

  ASSERT_TRUE(host_.apply({spec("good_cpp", R"({"greeting":"yo"})")}).isOk());
  EXPECT_EQ(host_.current()->plugin("good"), gen) << "reconfigure, not a new generation";
  EXPECT_EQ(call("greet").output, "yo");

  // The plugin rejects an empty greeting: the old config stays in force.
  std::vector<LoadError> errors;
  EXPECT_FALSE(host_.apply({spec("good_cpp", R"({"greeting":""})")}, &errors).isOk());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].reason, "config");
  EXPECT_NE(errors[0].message.find("greeting must not be empty"), std::string::npos);
  EXPECT_EQ(call("greet").output, "yo");
}

TEST_F(HostTest, ConfigChangeWithoutReconfigureBuildsANewInstance) {
  ASSERT_TRUE(host_.apply({spec("throws", R"({"throw_in_create":false})")}).isOk());
  auto gen = host_.current()->plugin("throws");
  ASSERT_TRUE(host_.apply({spec("throws", R"({})")}).isOk());
  auto next = host_.current()->plugin("throws");
  EXPECT_NE(next, gen);
  EXPECT_NE(next->library().copyPath(), gen->library().copyPath());
  EXPECT_EQ(call("boom").error, "boom");
  // And a config its constructor refuses keeps the running instance.
  EXPECT_FALSE(host_.apply({spec("throws", R"({"throw_in_create":true})")}).isOk());
  EXPECT_EQ(host_.current()->plugin("throws"), next);
}

TEST_F(HostTest, ConfigIsValidatedAgainstThePluginSchema) {
  std::vector<LoadError> errors;
  EXPECT_FALSE(host_.apply({spec("good_cpp", R"({"greeting":5})")}, &errors).isOk());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].reason, "config");
  EXPECT_NE(errors[0].message.find("config /greeting violates the plugin's schema"),
            std::string::npos)
      << errors[0].message;
  EXPECT_NE(errors[0].message.find("'type'"), std::string::npos) << errors[0].message;

  errors.clear();
  EXPECT_FALSE(host_.apply({spec("good_cpp", R"({"greting":"typo"})")}, &errors).isOk());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("additionalProperties"), std::string::npos) << errors[0].message;

  // A live instance is not reconfigured with an invalid config either.
  ASSERT_TRUE(host_.apply({spec("good_cpp", R"({"greeting":"ok"})")}).isOk());
  EXPECT_FALSE(host_.apply({spec("good_cpp", R"({"greeting":[]})")}).isOk());
  EXPECT_EQ(call("greet").output, "ok");
}

TEST_F(HostTest, ToolListChangeIsPickedUp) {
  ASSERT_TRUE(host_.apply({spec("good_cpp")}).isOk());
  EXPECT_EQ(call("extra").status, AGENTD_ENOTFOUND);
  ASSERT_TRUE(call("notify").ok);
  auto r = call("extra");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.output, "extra");
  bool listed = false;
  for (const auto& t : host_.current()->tools()) listed |= t.name == "extra";
  EXPECT_TRUE(listed);
}

}  // namespace
}  // namespace agentd::plugin

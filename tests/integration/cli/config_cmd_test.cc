// `agentd validate-config` and `agentd show-config`: exit codes, located errors, redaction.
#include <gtest/gtest.h>

#include "support/subprocess.h"

namespace agentd::testing {
namespace {

using namespace std::chrono_literals;

const std::string kAgentd = std::string(AGENTD_BIN_DIR) + "/agentd";
const std::string kFixtures = AGENTD_FIXTURE_DIR;

TEST(ValidateConfig, ValidConfigExitsZero) {
  std::string dir = freshDir("validate");
  writeFile(dir + "/agentd.toml", "[plugins.good]\npath = \"" + kFixtures +
                                      "/good_cpp.so\"\n[agents.a]\ntools = [\"echo\"]\n");
  RunResult r = run({kAgentd, "validate-config", "--config", dir + "/agentd.toml"}, 20s);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("configuration is valid"), std::string::npos) << r.output;
}

TEST(ValidateConfig, EveryProblemIsReportedAndExitsTwo) {
  std::string dir = freshDir("validate");
  writeFile(dir + "/agentd.toml",
            "[plugins.good]\n"  // 1
            "path = \"" +
                kFixtures +
                "/good_cpp.so\"\n"  // 2
                "[plugins.old]\n"   // 3
                "path = \"" +
                kFixtures +
                "/wrong_major.so\"\n"                   // 4
                "[agents.a]\n"                          // 5
                "tools = [\"echo\", \"teleport\"]\n");  // 6
  RunResult r = run({kAgentd, "validate-config", "--config", dir + "/agentd.toml"}, 20s);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("agentd.toml:4:8: plugins.old.path: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[abi_mismatch]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("agentd.toml:6:18: agents.a.tools[1]: no loaded plugin offers tool "
                          "'teleport'"),
            std::string::npos)
      << r.output;

  writeFile(dir + "/agentd.toml", "[agents.a]\nmax_steps = 0\nmodel = \"ghost\"\n");
  r = run({kAgentd, "validate-config", "--config", dir + "/agentd.toml"}, 20s);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("agentd.toml:2:13: agents.a.max_steps"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("agentd.toml:3:9: agents.a.model"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(2 errors)"), std::string::npos) << r.output;
}

TEST(ShowConfig, PrintsEffectiveConfigWithSecretsRedacted) {
  std::string dir = freshDir("show");
  writeFile(dir + "/agentd.toml",
            "[model_providers.p]\ntype = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n"
            "api_key = \"${AGENTD_TEST_SHOW_KEY}\"\n");
  setenv("AGENTD_TEST_SHOW_KEY", "sk-very-secret", 1);
  RunResult r = run({kAgentd, "show-config", "--config", dir + "/agentd.toml"}, 20s);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("sk-very-secret"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("api_key = '<redacted>'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("shutdown_grace_seconds = 25"), std::string::npos) << "defaults shown";
  r = run({kAgentd, "show-config", "--json", "--config", dir + "/agentd.toml"}, 20s);
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.output.find("\"api_key\" : \"<redacted>\""), std::string::npos) << r.output;
  unsetenv("AGENTD_TEST_SHOW_KEY");
}

}  // namespace
}  // namespace agentd::testing

// `agentd plugins list`: what loaded, with kind, version, ABI and tools; what failed, and why.
#include <gtest/gtest.h>
#include <unistd.h>

#include "support/subprocess.h"

namespace agentd::testing {
namespace {

using namespace std::chrono_literals;

const std::string kAgentd = std::string(AGENTD_BIN_DIR) + "/agentd";
const std::string kFixtures = AGENTD_FIXTURE_DIR;

TEST(PluginsList, ShowsLoadedPluginsAndLoadErrors) {
  std::string dir = freshDir("plist");
  writeFile(dir + "/agentd.toml", "[plugins.good]\npath = \"" + kFixtures +
                                      "/good_cpp.so\"\n\n[plugins.old]\npath = \"" + kFixtures +
                                      "/wrong_major.so\"\n");
  RunResult r = run({kAgentd, "plugins", "list", "--config", dir + "/agentd.toml"}, 20s);
  EXPECT_EQ(r.code, 1) << "a load error is a runtime error\n" << r.output;
  EXPECT_NE(r.output.find("good                     tool         1.0.0      1.1   echo,add"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("[abi_mismatch]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("plugin ABI 2.0 is not compatible with host ABI 1.1"), std::string::npos)
      << r.output;
}

TEST(PluginsList, JsonOutputAndCleanExit) {
  RunResult r =
      run({kAgentd, "plugins", "list", "--json", "--plugin", kFixtures + "/good_c.so"}, 20s);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("{\"plugins\":[{\"name\":\"good_c\",\"kind\":\"tool\""),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("\"errors\":[]"), std::string::npos) << r.output;
}

// The shipped deployment runs as a non-root user: the private copy of each plugin must still be
// writable by its creator (a regression: it was created 0500 and then reopened for writing).
TEST(PluginsList, LoadsPluginsAsAnUnprivilegedUser) {
  std::vector<std::string> argv = {kAgentd, "plugins", "list", "--plugin",
                                   kFixtures + "/good_c.so"};
  if (geteuid() == 0) {
    argv.insert(argv.begin(),
                {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  }
  RunResult r = run(argv, 20s);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("good_c"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace agentd::testing

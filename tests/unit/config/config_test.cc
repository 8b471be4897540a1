// Configuration loading: every kind of error located at file:line:col and reported at once,
// interpolation, precedence, includes, redaction, and the published JSON Schema.
#include "config/config.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/schema.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/json.h"
#include "support/subprocess.h"

namespace agentd::config {
namespace {

using agentd::testing::freshDir;
using agentd::testing::writeFile;

std::vector<std::string> errorLines(const std::string& path, const Overrides& o = {}) {
  std::vector<ConfigError> errors;
  auto r = load(path, o, &errors);
  EXPECT_FALSE(r.ok());
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.toString());
  return out;
}

bool contains(const std::vector<std::string>& lines, const std::string& needle) {
  for (const auto& l : lines) {
    if (l.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string dump(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

TEST(Config, EveryErrorAtOnceWithFileLineColumnKeyAndExpectation) {
  std::string dir = freshDir("cfg");
  std::string f = dir + "/agentd.toml";
  writeFile(f,
            "[server]\n"                                // 1
            "listen = \"localhost\"\n"                  // 2
            "shutdown_grace_seconds = -1\n"             // 3
            "colour = \"blue\"\n"                       // 4
            "[logging]\n"                               // 5
            "level = \"loud\"\n"                        // 6
            "[plugins]\n"                               // 7
            "workers = \"eight\"\n"                     // 8
            "[model_providers.p]\n"                     // 9
            "type = \"openai\"\n"                       // 10
            "api_key = \"${AGENTD_TEST_UNSET_KEY}\"\n"  // 11
            "[models.m]\n"                              // 12
            "provider = \"nope\"\n"                     // 13
            "model = \"x\"\n"                           // 14
            "temperature = 3.5\n"                       // 15
            "fallback = [\"m\", \"ghost\"]\n"           // 16
            "[agents.a]\n"                              // 17
            "model = \"missing\"\n"                     // 18
            "mcp_servers = [\"none\"]\n"                // 19
            "[mcp.servers.s]\n"                         // 20
            "command = \"x\"\n"                         // 21
            "url = \"http://127.0.0.1:1/mcp\"\n");      // 22
  unsetenv("AGENTD_TEST_UNSET_KEY");
  auto lines = errorLines(f);
  const std::string p = f + ":";
  EXPECT_TRUE(contains(lines, p + "2:10: server.listen: expected HOST:PORT")) << dump(lines);
  EXPECT_TRUE(contains(lines, p + "3:26: server.shutdown_grace_seconds: expected an integer in "
                                  "[0, 3600], found -1"))
      << dump(lines);
  EXPECT_TRUE(contains(lines, p + "4:1: server.colour: unknown key")) << dump(lines);
  EXPECT_TRUE(contains(lines, p + "6:9: logging.level: expected one of debug, info, warn, "
                                  "error, found \"loud\""))
      << dump(lines);
  EXPECT_TRUE(contains(lines, p + "8:11: plugins.workers: expected an integer, found a string"))
      << dump(lines);
  EXPECT_TRUE(contains(lines, p + "11:11: model_providers.p.api_key: environment variable "
                                  "AGENTD_TEST_UNSET_KEY is not set"))
      << dump(lines);
  EXPECT_TRUE(contains(lines, p + "15:15: models.m.temperature: expected a number in [0, 2]"))
      << dump(lines);
  // Reference errors are reported in the same run.
  EXPECT_TRUE(contains(lines, p + "13:12: models.m.provider: no [model_providers.nope]"))
      << dump(lines);
  EXPECT_TRUE(contains(lines, p + "18:9: agents.a.model: no [models.missing] is defined"))
      << dump(lines);
  EXPECT_EQ(lines.size(), 13u) << dump(lines);
}

TEST(Config, DanglingReferencesAreLocated) {
  std::string dir = freshDir("cfg");
  std::string f = dir + "/agentd.toml";
  writeFile(f,
            "[model_providers.p]\n"               // 1
            "type = \"scripted\"\n"               // 2
            "script = \"turns.jsonl\"\n"          // 3
            "[models.m]\n"                        // 4
            "provider = \"nope\"\n"               // 5
            "fallback = [\"m\", \"ghost\"]\n"     // 6
            "[agents.a]\n"                        // 7
            "model = \"missing\"\n"               // 8
            "mcp_servers = [\"none\"]\n"          // 9
            "[mcp.servers.s]\n"                   // 10
            "command = \"x\"\n"                   // 11
            "url = \"http://127.0.0.1:1/mcp\"\n"  // 12
            "[model_providers.r]\n"               // 13
            "type = \"replay\"\n");               // 14
  auto lines = errorLines(f);
  const std::string p = f + ":";
  EXPECT_TRUE(contains(lines, p + "5:12: models.m.provider: no [model_providers.nope] is defined"))
      << dump(lines);
  EXPECT_TRUE(contains(lines, p + "6:13: models.m.fallback[0]: a model cannot be its own fallback"))
      << dump(lines);
  EXPECT_TRUE(contains(lines, p + "6:18: models.m.fallback[1]: no [models.ghost] is defined"))
      << dump(lines);
  EXPECT_TRUE(contains(lines, p + "8:9: agents.a.model: no [models.missing] is defined"))
      << dump(lines);
  EXPECT_TRUE(contains(lines, p + "9:16: agents.a.mcp_servers[0]: no [mcp.servers.none]"))
      << dump(lines);
  EXPECT_TRUE(contains(lines, p + "10:1: mcp.servers.s: set exactly one of command"))
      << dump(lines);
  EXPECT_TRUE(contains(lines, p + "13:1: model_providers.r: a replay provider needs `cassette`"))
      << dump(lines);
  EXPECT_EQ(lines.size(), 7u) << dump(lines);
}

TEST(Config, SyntaxErrorIsLocated) {
  std::string dir = freshDir("cfg");
  writeFile(dir + "/agentd.toml", "[server]\nlisten = \"127.0.0.1:1\"\n[plugins\n");
  auto lines = errorLines(dir + "/agentd.toml");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind(dir + "/agentd.toml:3:", 0), 0u) << lines[0];
}

TEST(Config, InterpolationAndPrecedence) {
  std::string dir = freshDir("cfg");
  std::string f = dir + "/agentd.toml";
  writeFile(f,
            "[metrics]\nlisten = \"127.0.0.1:${AGENTD_TEST_PORT:-9191}\"\n"
            "[model_providers.p]\ntype = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\n"
            "api_key = \"${AGENTD_TEST_KEY}\"\n");
  setenv("AGENTD_TEST_KEY", "sk-from-env", 1);
  unsetenv("AGENTD_TEST_PORT");
  unsetenv("AGENTD_METRICS_LISTEN");
  auto c = load(f);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->metrics.listen, "127.0.0.1:9191");
  EXPECT_EQ((*c)->model_providers.at("p").api_key, "sk-from-env");

  setenv("AGENTD_TEST_PORT", "9292", 1);
  c = load(f);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->metrics.listen, "127.0.0.1:9292");

  // Environment over file, command line over environment.
  setenv("AGENTD_METRICS_LISTEN", "127.0.0.1:9393", 1);
  c = load(f);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->metrics.listen, "127.0.0.1:9393");
  EXPECT_EQ((*c)->where("metrics.listen").file, "env:AGENTD_METRICS_LISTEN");
  Overrides o;
  o.metrics_listen = "127.0.0.1:0";
  c = load(f, o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->metrics.listen, "127.0.0.1:0");

  setenv("AGENTD_METRICS_LISTEN", "nonsense", 1);
  auto lines = errorLines(f);
  EXPECT_TRUE(contains(lines, "env:AGENTD_METRICS_LISTEN:0:0: metrics.listen: expected HOST:PORT"))
      << dump(lines);
  unsetenv("AGENTD_METRICS_LISTEN");
  unsetenv("AGENTD_TEST_PORT");
}

TEST(Config, IncludesMergeInOrderAndErrorsNameTheirFile) {
  std::string dir = freshDir("cfg");
  writeFile(dir + "/agentd.toml",
            "include = [\"conf.d/*.toml\"]\n[logging]\nlevel = \"info\"\n"
            "[agents.a]\nmax_steps = 5\n");
  writeFile(dir + "/conf.d/10-first.toml", "[logging]\nlevel = \"debug\"\n[agents.b]\n");
  writeFile(dir + "/conf.d/20-second.toml", "[logging]\nlevel = \"warn\"\n");
  auto c = load(dir + "/agentd.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->logging.level, "warn");
  EXPECT_EQ((*c)->agents.size(), 2u);
  EXPECT_EQ((*c)->agents.at("a").max_steps, 5);
  EXPECT_EQ((*c)->files.size(), 3u);

  writeFile(dir + "/conf.d/30-bad.toml", "[agents.c]\nmax_steps = 0\n");
  auto lines = errorLines(dir + "/agentd.toml");
  EXPECT_TRUE(contains(lines, dir + "/conf.d/30-bad.toml:2:13: agents.c.max_steps: expected an "
                                    "integer in [1, 100000], found 0"))
      << dump(lines);
}

TEST(Config, RelativePathsResolveAgainstTheConfigDirectory) {
  std::string dir = freshDir("cfg");
  writeFile(dir + "/agentd.toml",
            "[plugins]\ndirectories = [\"plugins\"]\n[plugins.x]\npath = \"../x.so\"\n");
  auto c = load(dir + "/agentd.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->plugins.directories.at(0), dir + "/plugins");
  EXPECT_EQ((*c)->plugins.entries.at("x").path,
            std::filesystem::path(dir).parent_path().string() + "/x.so");
}

TEST(Config, ShowConfigRedactsSecrets) {
  std::string dir = freshDir("cfg");
  writeFile(dir + "/agentd.toml",
            "[server.auth]\napi_keys = [\"key-one-secret\"]\n[server.auth.jwt]\n"
            "hs256_secret = \"jwt-secret-value\"\n"
            "[model_providers.p]\ntype = \"anthropic\"\napi_key = \"sk-ant-secret\"\n"
            "headers = { Authorization = \"Bearer hdr-secret\" }\n"
            "[mcp.servers.s]\ncommand = \"srv\"\nenv = { TOKEN = \"env-secret\" }\n");
  auto c = load(dir + "/agentd.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  for (const std::string& text : {renderToml(**c), renderJson(**c)}) {
    for (const char* secret :
         {"key-one-secret", "jwt-secret-value", "sk-ant-secret", "hdr-secret", "env-secret"}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << secret << " leaked:\n" << text;
    }
    EXPECT_NE(text.find("<redacted>"), std::string::npos);
    EXPECT_NE(text.find("srv"), std::string::npos);
  }
  EXPECT_NE(renderToml(**c, /*redact=*/false).find("sk-ant-secret"), std::string::npos);
}

TEST(Config, ChangedKeysAndRestartOnlyKeys) {
  std::string dir = freshDir("cfg");
  writeFile(dir + "/a.toml", "[agents.x]\nmax_steps = 3\n[metrics]\nlisten = \"127.0.0.1:1\"\n");
  writeFile(dir + "/b.toml", "[agents.x]\nmax_steps = 4\n[metrics]\nlisten = \"127.0.0.1:2\"\n");
  auto a = load(dir + "/a.toml");
  auto b = load(dir + "/b.toml");
  ASSERT_TRUE(a.ok() && b.ok());
  auto keys = changedKeys(**a, **b);
  EXPECT_EQ(keys, (std::vector<std::string>{"agents.x.max_steps", "metrics.listen"}));
  EXPECT_TRUE(changedKeys(**a, **a).empty());
  const auto& restart = restartOnlyKeys();
  EXPECT_NE(std::find(restart.begin(), restart.end(), "metrics.listen"), restart.end());
}

TEST(Config, PublishedSchemaIsCurrentAndAcceptsTheDefault) {
  std::ifstream in(std::string(AGENTD_SOURCE_DIR) + "/config/agentd.schema.json");
  std::stringstream committed;
  committed << in.rdbuf();
  EXPECT_EQ(committed.str(), jsonSchema())
      << "config/agentd.schema.json is stale: regenerate it with "
         "`agentd show-config --schema > config/agentd.schema.json`";

  auto c = load(std::string(AGENTD_SOURCE_DIR) + "/config/agentd.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto schema_doc = json::parse(jsonSchema());
  ASSERT_TRUE(schema_doc.ok());
  rapidjson::SchemaDocument schema(*schema_doc);
  auto instance = json::parse(renderJson(**c, false));
  ASSERT_TRUE(instance.ok());
  rapidjson::SchemaValidator v(schema);
  EXPECT_TRUE(instance->Accept(v)) << v.GetInvalidSchemaKeyword();

  // And it rejects what the loader rejects: an unknown key.
  auto bad = json::parse(R"({"server":{"colour":"blue"}})");
  rapidjson::SchemaValidator v2(schema);
  EXPECT_FALSE(bad->Accept(v2));
}

}  // namespace
}  // namespace agentd::config

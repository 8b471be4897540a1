// Loads the built skills_dir.so and drives it through the C ABI against real skill folders,
// including the example shipped in config/skills/.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "unit/plugins/plugin_harness.h"
#include "unit/plugins/test_files.h"

namespace agentd::plugintest {
namespace {

using std::chrono::seconds;

std::string skillMd(const std::string& name, const std::string& description,
                    const std::string& body = "Do the thing.\n") {
  return "---\nname: " + name + "\ndescription: " + description + "\n---\n" + body;
}

std::vector<std::string> namesOf(const std::vector<ListedSkill>& skills) {
  std::vector<std::string> names;
  for (const ListedSkill& s : skills) names.push_back(s.name);
  return names;
}

const ListedSkill* findSkill(const std::vector<ListedSkill>& skills, const std::string& name) {
  for (const ListedSkill& s : skills) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

bool logged(FakeHost& host, const std::string& needle) {
  for (const std::string& line : host.logSnapshot()) {
    if (line.find(needle) != std::string::npos) return true;
  }
  return false;
}

class SkillsDirTest : public ::testing::Test {
 protected:
  // Creates the plugin over `dirs` with the background poll off unless poll_seconds is given.
  std::unique_ptr<LoadedPlugin> load(const std::vector<std::string>& dirs,
                                     const std::string& poll_seconds = "0") {
    auto p = std::make_unique<LoadedPlugin>(AGENTD_PLUGIN_DIR "/skills_dir.so");
    EXPECT_EQ(p->loadError(), "");
    std::string config = R"({"directories":[)";
    for (size_t i = 0; i < dirs.size(); ++i) config += (i ? ",\"" : "\"") + dirs[i] + "\"";
    config += R"(],"poll_seconds":)" + poll_seconds + "}";
    EXPECT_EQ(p->create(config), AGENTD_OK) << p->lastError();
    return p;
  }

  CallResult loadSkill(LoadedPlugin& p, const std::string& name) {
    return p.invoke("load_skill", R"({"name":")" + name + "\"}");
  }

  TempDir dir_;
};
using skills_dir = SkillsDirTest;

TEST_F(skills_dir, DescriptorIsASkillPluginWithLoadSkill) {
  auto p = load({dir_.path()});
  const agentd_plugin* d = p->descriptor();
  EXPECT_EQ(d->kind, AGENTD_KIND_SKILL);
  EXPECT_STREQ(d->name, "skills_dir");
  EXPECT_NE(d->list_skills, nullptr);
  EXPECT_EQ(propertyNames(parseJson(d->config_schema)),
            (std::vector<std::string>{"directories", "poll_seconds"}));
  std::vector<ListedTool> tools = p->listTools();
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].name, "load_skill");
  rapidjson::Document schema = parseJson(tools[0].input_schema);
  EXPECT_EQ(propertyNames(schema), std::vector<std::string>{"name"});
  EXPECT_EQ(requiredNames(schema), std::vector<std::string>{"name"});
  EXPECT_NE(tools[0].description.find("No skills are available"), std::string::npos);
}

TEST_F(skills_dir, LoadsTheShippedExampleSkill) {
  auto p = load({AGENTD_SOURCE_DIR "/config/skills"});
  std::vector<ListedSkill> skills = p->listSkills();
  const ListedSkill* s = findSkill(skills, "write-tests");
  ASSERT_NE(s, nullptr) << "config/skills/write-tests/SKILL.md not loaded";
  EXPECT_EQ(s->description.rfind("Write or extend automated tests", 0), 0u) << s->description;
  EXPECT_EQ(s->instructions.rfind("# Writing tests", 0), 0u) << s->instructions;
  EXPECT_EQ(s->instructions.find("---"), std::string::npos);  // no front matter in the body

  CallResult r = loadSkill(*p, "write-tests");
  ASSERT_EQ(r.status, AGENTD_OK) << r.error;
  EXPECT_EQ(r.text.rfind("Skill \"write-tests\": Write or extend", 0), 0u) << r.text;
  EXPECT_NE(r.text.find("Skill directory: " AGENTD_SOURCE_DIR "/config/skills/write-tests\n\n"
                        "# Writing tests"),
            std::string::npos)
      << r.text;
  EXPECT_NE(p->listTools()[0].description.find("Available skills: write-tests."),
            std::string::npos);
}

TEST_F(skills_dir, DiscoversSkillFoldersAndIgnoresTheRest) {
  writeFile(dir_ / "alpha/SKILL.md", skillMd("alpha", "First skill."));
  writeFile(dir_ / "group/beta/SKILL.md", skillMd("beta", "Nested one level."));
  writeFile(dir_ / "group/beta/inner/SKILL.md",
            skillMd("inner", "Resources of beta are not skills."));
  writeFile(dir_ / "a/b/c/SKILL.md", skillMd("deep", "Three levels down."));
  writeFile(dir_ / "a/b/c/d/SKILL.md", skillMd("resource", "Inside the skill deep: a resource."));
  writeFile(dir_ / "x/y/z/w/SKILL.md", skillMd("too-deep", "Four levels down."));
  writeFile(dir_ / ".hidden/SKILL.md", skillMd("hidden", "Hidden folders are skipped."));
  writeFile(dir_ / "notes/README.md", "no skill here");
  writeFile(dir_ / "skill.md", "lower case file at the top is not a SKILL.md");
  TempDir other;
  writeFile(other / "SKILL.md", skillMd("top", "A configured directory may itself be a skill."));
  auto p = load({dir_.path(), other.path()});
  std::vector<ListedSkill> skills = p->listSkills();
  EXPECT_EQ(namesOf(skills), (std::vector<std::string>{"deep", "alpha", "beta", "top"}));
  const ListedSkill* beta = findSkill(skills, "beta");
  ASSERT_NE(beta, nullptr);
  EXPECT_EQ(beta->description, "Nested one level.");
  EXPECT_EQ(beta->instructions, "Do the thing.");
}

TEST_F(skills_dir, ParsesFrontMatterForms) {
  writeFile(dir_ / "quoted/SKILL.md",
            "---\nname: \"quoted\"\ndescription: 'It''s quoted: with a colon'\nlicense: MIT\n"
            "allowed-tools: [bash, str_replace_based_edit_tool]\nmetadata:\n  owner: team\n"
            "  tags:\n    - a\n---\n\n\n  Indented first line.\nSecond line.\n\n");
  writeFile(dir_ / "folded/SKILL.md",
            "\xef\xbb\xbf---\r\nname: folded\r\ndescription: >\r\n  Spans two\r\n  lines.\r\n"
            "# a comment\r\n---\r\nBody with CRLF.\r\n");
  writeFile(dir_ / "plain/SKILL.md",
            "---\nname: plain # trailing comment\ndescription: Continues\n  on the next line\n"
            "---\nBody: text with --- inside\n---\nmore\n");
  writeFile(dir_ / "literal/SKILL.md",
            "---\nname: literal\ndescription: |\n  line one\n  line two\n---\nx\n");
  writeFile(dir_ / "escaped/SKILL.md",
            "---\nname: escaped\ndescription: \"tab\\tand \\u00e9 and \\\"q\\\"\"\n---\nx\n");
  auto p = load({dir_.path()});
  std::vector<ListedSkill> skills = p->listSkills();
  ASSERT_EQ(skills.size(), 5u) << ::testing::PrintToString(p->host().logSnapshot());
  const ListedSkill* q = findSkill(skills, "quoted");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->description, "It's quoted: with a colon");
  EXPECT_EQ(q->instructions, "  Indented first line.\nSecond line.");
  const ListedSkill* f = findSkill(skills, "folded");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->description, "Spans two lines.");
  EXPECT_EQ(f->instructions, "Body with CRLF.");
  const ListedSkill* pl = findSkill(skills, "plain");
  ASSERT_NE(pl, nullptr);
  EXPECT_EQ(pl->description, "Continues on the next line");
  EXPECT_EQ(pl->instructions, "Body: text with --- inside\n---\nmore");
  EXPECT_EQ(findSkill(skills, "literal")->description, "line one\nline two");
  EXPECT_EQ(findSkill(skills, "escaped")->description, "tab\tand \xc3\xa9 and \"q\"");
}

TEST_F(skills_dir, MalformedFilesAreLoggedAndSkipped) {
  writeFile(dir_ / "good/SKILL.md", skillMd("good", "Fine."));
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"no-front-matter", "# Just markdown\n"},
      {"unclosed", "---\nname: unclosed\ndescription: x\nbody\n"},
      {"no-name", "---\ndescription: x\n---\nbody\n"},
      {"no-description", "---\nname: no-description\n---\nbody\n"},
      {"bad-name", skillMd("has spaces", "x")},
      {"list-name", "---\nname: [a, b]\ndescription: x\n---\nbody\n"},
      {"empty-body", "---\nname: empty-body\ndescription: x\n---\n\n  \n"},
      {"bad-line", "---\nname: bad-line\nthis is not yaml\ndescription: x\n---\nbody\n"},
      {"bad-quote", "---\nname: bad-quote\ndescription: \"open\n---\nbody\n"},
      {"long-description", skillMd("long-description", std::string(1100, 'd'))},
      {"not-utf8", skillMd("not-utf8", "caf\xe9")},
      {"duplicate", skillMd("good", "Same name as another skill.")},
  };
  for (const auto& [folder, text] : bad) writeFile(dir_ / (folder + "/SKILL.md"), text);
  auto p = load({dir_.path()});
  EXPECT_EQ(namesOf(p->listSkills()), std::vector<std::string>{"good"});
  FakeHost& host = p->host();
  EXPECT_TRUE(logged(host, dir_ / "no-front-matter/SKILL.md: no front matter"));
  EXPECT_TRUE(logged(host, dir_ / "unclosed/SKILL.md: the front matter is not closed"));
  EXPECT_TRUE(logged(host, dir_ / "no-name/SKILL.md: the front matter has no 'name'"));
  EXPECT_TRUE(
      logged(host, dir_ / "no-description/SKILL.md: the front matter has no 'description'"));
  EXPECT_TRUE(logged(host, dir_ / "bad-name/SKILL.md: invalid name 'has spaces'"));
  EXPECT_TRUE(logged(host, dir_ / "list-name/SKILL.md: 'name' must be a non-empty string"));
  EXPECT_TRUE(logged(host, dir_ / "empty-body/SKILL.md: no instructions after the front matter"));
  EXPECT_TRUE(logged(host, dir_ / "bad-line/SKILL.md: front matter line 3: expected 'key: value'"));
  EXPECT_TRUE(logged(host, dir_ / "bad-quote/SKILL.md: front matter line 3: unterminated"));
  EXPECT_TRUE(
      logged(host, dir_ / "long-description/SKILL.md: the description is longer than 1024"));
  EXPECT_TRUE(logged(host, dir_ / "not-utf8/SKILL.md: is not valid UTF-8"));
  EXPECT_TRUE(logged(host, "the name 'good' is already used by " + (dir_ / "duplicate")) ||
              logged(host, "the name 'good' is already used by " + (dir_ / "good")));
  // Logged once per change, not on every look.
  size_t lines = host.logSnapshot().size();
  p->listSkills();
  p->listTools();
  EXPECT_EQ(host.logSnapshot().size(), lines);
}

TEST_F(skills_dir, LoadSkillErrors) {
  writeFile(dir_ / "one/SKILL.md", skillMd("one", "The only one."));
  auto p = load({dir_.path()});
  CallResult r = loadSkill(*p, "two");
  EXPECT_EQ(r.status, AGENTD_ENOTFOUND);
  EXPECT_EQ(r.error, "unknown skill 'two'; available skills: one");
  r = p->invoke("load_skill", "{}");
  EXPECT_EQ(r.status, AGENTD_EINVAL);
  EXPECT_EQ(r.error, "missing required parameter: name (a string)");
  EXPECT_EQ(p->invoke("load_skill", R"({"name":3})").status, AGENTD_EINVAL);
  EXPECT_EQ(p->invoke("skill", R"({"name":"one"})").status, AGENTD_ENOTFOUND);
}

TEST_F(skills_dir, SeesChangesOnTheNextLookAndTellsTheHost) {
  writeFile(dir_ / "first/SKILL.md", skillMd("first", "Version 1."));
  auto p = load({dir_.path()});  // background poll off
  EXPECT_EQ(namesOf(p->listSkills()), std::vector<std::string>{"first"});
  EXPECT_EQ(p->host().toolsChangedCount(), 0);

  writeFile(dir_ / "second/SKILL.md", skillMd("second", "Added later."));
  CallResult r = loadSkill(*p, "second");  // a call sees the new folder at once
  ASSERT_EQ(r.status, AGENTD_OK) << r.error;
  EXPECT_EQ(p->host().toolsChangedCount(), 1);
  EXPECT_EQ(namesOf(p->listSkills()), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(p->host().toolsChangedCount(), 1);  // nothing changed since

  writeFile(dir_ / "first/SKILL.md", skillMd("first", "Version 2, a longer description."));
  EXPECT_EQ(findSkill(p->listSkills(), "first")->description, "Version 2, a longer description.");
  EXPECT_EQ(p->host().toolsChangedCount(), 2);

  std::filesystem::remove_all(dir_ / "second");
  EXPECT_EQ(namesOf(p->listSkills()), std::vector<std::string>{"first"});
  EXPECT_EQ(p->host().toolsChangedCount(), 3);
  EXPECT_EQ(loadSkill(*p, "second").status, AGENTD_ENOTFOUND);

  // A file that turns malformed drops its skill and is reported.
  writeFile(dir_ / "first/SKILL.md", "no front matter any more\n");
  EXPECT_TRUE(p->listSkills().empty());
  EXPECT_TRUE(logged(p->host(), dir_ / "first/SKILL.md: no front matter"));
  EXPECT_EQ(p->host().toolsChangedCount(), 4);
}

TEST_F(skills_dir, BackgroundPollNoticesChangesWithoutAnyCall) {
  auto p = load({dir_.path()}, "0.05");
  EXPECT_TRUE(p->listSkills().empty());
  writeFile(dir_ / "late/SKILL.md", skillMd("late", "Appears while nobody asks."));
  EXPECT_TRUE(waitFor([&] { return p->host().toolsChangedCount() >= 1; }, seconds(5)));
  EXPECT_EQ(namesOf(p->listSkills()), std::vector<std::string>{"late"});
}

TEST_F(skills_dir, MissingDirectoryIsReportedAndPickedUpLater) {
  const std::string later = dir_ / "later";
  auto p = load({later});
  EXPECT_TRUE(p->listSkills().empty());
  EXPECT_TRUE(logged(p->host(), "skills directory " + later + " does not exist"));
  writeFile(later + "/s/SKILL.md", skillMd("s", "Now it exists."));
  EXPECT_EQ(namesOf(p->listSkills()), std::vector<std::string>{"s"});
}

TEST_F(skills_dir, ReconfigureSwitchesDirectories) {
  TempDir other;
  writeFile(dir_ / "a/SKILL.md", skillMd("a", "In the first directory."));
  writeFile(other / "b/SKILL.md", skillMd("b", "In the second directory."));
  auto p = load({dir_.path()});
  EXPECT_EQ(namesOf(p->listSkills()), std::vector<std::string>{"a"});
  const agentd_plugin* d = p->descriptor();
  std::string config = R"({"directories":[")" + other.path() + R"("],"poll_seconds":0})";
  ASSERT_EQ(d->reconfigure(p->instance(), view(config)), AGENTD_OK);
  EXPECT_EQ(p->host().toolsChangedCount(), 1);
  EXPECT_EQ(namesOf(p->listSkills()), std::vector<std::string>{"b"});
  EXPECT_EQ(d->reconfigure(p->instance(), view(R"({"directories":"x"})")), AGENTD_EINVAL);
  EXPECT_EQ(namesOf(p->listSkills()), std::vector<std::string>{"b"});
}

TEST_F(skills_dir, RejectsBadConfig) {
  for (const char* bad :
       {R"({"directories":"skills"})", R"({"directories":[1]})", R"({"directories":[""]})",
        R"({"poll_seconds":-1})", R"({"dirs":["x"]})", "[]"}) {
    LoadedPlugin p(AGENTD_PLUGIN_DIR "/skills_dir.so");
    EXPECT_EQ(p.create(bad), AGENTD_EINVAL) << bad;
    EXPECT_NE(p.lastError(), "") << bad;
  }
  LoadedPlugin empty(AGENTD_PLUGIN_DIR "/skills_dir.so");
  ASSERT_EQ(empty.create("{}"), AGENTD_OK) << empty.lastError();
  EXPECT_TRUE(empty.listSkills().empty());
}

}  // namespace
}  // namespace agentd::plugintest

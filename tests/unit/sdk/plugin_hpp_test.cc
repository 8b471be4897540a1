// plugin.hpp in-process (no dlopen): the trampolines that describe<T>() builds, driven through a
// fake host table, turn every exception into a status plus error text and pass data through.
#include <gtest/gtest.h>
#include <agentd/plugin.hpp>

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using agentd::sdk::Error;

// ---- Fake host ------------------------------------------------------------------------------

struct FakeHost {
  std::vector<std::pair<agentd_log_level, std::string>> logs;
  struct Definition {
    agentd_metric_type type;
    std::string name, help;
    std::vector<std::string> labels;
  };
  std::vector<Definition> definitions;
  agentd_status define_status = AGENTD_OK;
  struct Record {
    uint32_t id;
    std::vector<std::string> labels;
    double value;
  };
  std::vector<Record> records;
  int tools_changed = 0;
};

struct FakeCall {
  std::string text, json;
  std::vector<std::string> errors;  // every set_error() message, in order
  std::vector<std::string> progress;
  agentd_status emit_status = AGENTD_OK;
  bool cancelled = false;
  std::map<std::string, std::string> context;
};

struct FakeList {
  std::vector<std::vector<std::string>> items;  // {name, description, schema or instructions}
};

std::string str(agentd_str s) {
  return s.ptr == nullptr ? std::string() : std::string(s.ptr, s.len);
}
FakeHost* fake(agentd_host* h) { return reinterpret_cast<FakeHost*>(h); }
FakeCall* fake(agentd_call* c) { return reinterpret_cast<FakeCall*>(c); }
const FakeCall* fake(const agentd_call* c) { return reinterpret_cast<const FakeCall*>(c); }
FakeList* fake(agentd_list* l) { return reinterpret_cast<FakeList*>(l); }

agentd_host_api makeApi() {
  agentd_host_api api{};
  api.struct_size = sizeof(agentd_host_api);
  api.abi_version = AGENTD_ABI_VERSION;
  api.log = [](agentd_host* h, agentd_log_level level, agentd_str m) {
    fake(h)->logs.emplace_back(level, str(m));
  };
  api.metric_define = [](agentd_host* h, agentd_metric_type type, agentd_str name, agentd_str help,
                         const agentd_str* labels, size_t n, uint32_t* out) -> agentd_status {
    FakeHost* f = fake(h);
    if (f->define_status != AGENTD_OK) return f->define_status;
    FakeHost::Definition d{type, str(name), str(help), {}};
    for (size_t i = 0; i < n; ++i) d.labels.push_back(str(labels[i]));
    f->definitions.push_back(d);
    *out = static_cast<uint32_t>(100 + f->definitions.size());
    return AGENTD_OK;
  };
  api.metric_record = [](agentd_host* h, uint32_t id, const agentd_str* values, size_t n,
                         double value) {
    FakeHost::Record r{id, {}, value};
    for (size_t i = 0; i < n; ++i) r.labels.push_back(str(values[i]));
    fake(h)->records.push_back(r);
  };
  api.tools_changed = [](agentd_host* h) { ++fake(h)->tools_changed; };
  api.emit_text = [](agentd_call* c, agentd_str chunk) -> agentd_status {
    if (fake(c)->emit_status != AGENTD_OK) return fake(c)->emit_status;
    fake(c)->text += str(chunk);
    return AGENTD_OK;
  };
  api.emit_json = [](agentd_call* c, agentd_str chunk) -> agentd_status {
    if (fake(c)->emit_status != AGENTD_OK) return fake(c)->emit_status;
    fake(c)->json += str(chunk);
    return AGENTD_OK;
  };
  api.set_error = [](agentd_call* c, agentd_str m) { fake(c)->errors.push_back(str(m)); };
  api.progress = [](agentd_call* c, double p, double total, agentd_str m) {
    fake(c)->progress.push_back(std::to_string(static_cast<int>(p)) + "/" +
                                std::to_string(static_cast<int>(total)) + " " + str(m));
  };
  api.is_cancelled = [](const agentd_call* c) { return fake(c)->cancelled ? 1 : 0; };
  api.call_context = [](const agentd_call* c, agentd_str key) -> agentd_str {
    const auto& ctx = fake(c)->context;
    auto it = ctx.find(str(key));
    return it == ctx.end() ? agentd_str{"", 0} : agentd_str{it->second.data(), it->second.size()};
  };
  api.add_tool = [](agentd_list* l, agentd_str name, agentd_str desc, agentd_str schema) {
    fake(l)->items.push_back({str(name), str(desc), str(schema)});
  };
  api.add_skill = [](agentd_list* l, agentd_str name, agentd_str desc, agentd_str instructions) {
    fake(l)->items.push_back({str(name), str(desc), str(instructions)});
  };
  return api;
}

// ---- Plugins under test ---------------------------------------------------------------------

// Behaviour chosen by the config string (create) and the tool name (invoke).
class Probe : public agentd::sdk::Plugin {
 public:
  static inline int destroyed = 0;
  static inline Probe* last = nullptr;

  Probe(agentd::sdk::Host host, std::string_view config) : host_(host), config_(config) {
    if (config == "throw_error") throw Error(AGENTD_EINVAL, "bad config");
    if (config == "throw_std") throw std::runtime_error("std failure");
    if (config == "throw_int") throw 7;
    if (config == "throw_ok_status") throw Error(AGENTD_OK, "ok is not a failure");
    if (config == "nine_labels") {
      host.defineMetric(AGENTD_METRIC_GAUGE, "g", "G.",
                        {"1", "2", "3", "4", "5", "6", "7", "8", "9"});
    }
    calls_ = host.defineMetric(AGENTD_METRIC_COUNTER, "probe_calls_total", "Calls.", {"tool"});
    host.info("created");
    last = this;
  }
  ~Probe() override { ++destroyed; }

  void listTools(const agentd::sdk::ToolList& tools) override {
    if (fail_lists) throw std::runtime_error("list failed");
    tools.add("one", "First.", R"({"type":"object"})");
    tools.add("two", "Second.", R"({"type":"object","required":["x"]})");
  }
  void listSkills(const agentd::sdk::SkillList& skills) override {
    if (fail_lists) throw 1;
    skills.add("skill", "A skill.", "Do the thing.");
  }
  void invoke(const agentd::sdk::Call& call, std::string_view tool,
              std::string_view args) override {
    calls_.record(1, {tool});
    if (tool == "text") {
      call.emit("hel");
      call.emit("lo ");
      call.emit(args);
    } else if (tool == "json") {
      call.emitJson(R"({"a":)");
      call.emitJson("1}");
    } else if (tool == "error") {
      throw Error(AGENTD_ETIMEDOUT, "too slow");
    } else if (tool == "std") {
      throw std::out_of_range("out of range");
    } else if (tool == "int") {
      throw 42;
    } else if (tool == "ok_status") {
      throw Error(AGENTD_OK, "status OK thrown");
    } else if (tool == "set_error_then_throw") {
      call.setError("first");
      throw Error(AGENTD_EINVAL, "second");
    } else if (tool == "context") {
      call.emit(std::string(call.context("task_id")) + "|" + std::string(call.context("nope")));
    } else if (tool == "progress") {
      call.progress(1, 2, "half");
      call.progress(2);
    } else if (tool == "cancelled") {
      call.emit(call.cancelled() ? "yes" : "no");
    } else if (tool == "changed") {
      host_.toolsChanged();
    } else if (tool == "config") {
      call.emit(config_);
    } else {
      Plugin::invoke(call, tool, args);
    }
  }
  void reconfigure(std::string_view config) override {
    if (config.find("reject") != std::string_view::npos) {
      throw Error(AGENTD_EINVAL, "rejected: " + std::string(config));
    }
    config_ = std::string(config);
  }
  bool healthy() override {
    if (health_throws) throw std::runtime_error("health exploded");
    return is_healthy;
  }
  void endTask(std::string_view task_id) override {
    ended.emplace_back(task_id);
    if (task_id == "throw") throw std::runtime_error("endTask failed");
  }

  bool fail_lists = false;
  bool is_healthy = true;
  bool health_throws = false;
  std::vector<std::string> ended;

 private:
  agentd::sdk::Host host_;
  std::string config_;
  agentd::sdk::Metric calls_;
};

// Overrides nothing: the base class defaults.
class Minimal : public agentd::sdk::Plugin {
 public:
  Minimal(agentd::sdk::Host /*host*/, std::string_view /*config*/) {}
};

// Every trampoline is noexcept: no exception can reach the host.
using ProbeThunks = agentd::sdk::detail::Thunks<Probe>;
static_assert(noexcept(ProbeThunks::create(nullptr, nullptr, agentd_str{}, nullptr)));
static_assert(noexcept(ProbeThunks::reconfigure(nullptr, agentd_str{})));
static_assert(noexcept(ProbeThunks::destroy(nullptr)));
static_assert(noexcept(ProbeThunks::lastError(nullptr)));
static_assert(noexcept(ProbeThunks::health(nullptr)));
static_assert(noexcept(ProbeThunks::listTools(nullptr, nullptr)));
static_assert(noexcept(ProbeThunks::invoke(nullptr, nullptr, agentd_str{}, agentd_str{})));
static_assert(noexcept(ProbeThunks::listSkills(nullptr, nullptr)));
static_assert(noexcept(ProbeThunks::endTask(nullptr, agentd_str{})));

agentd_str s(std::string_view v) { return agentd_str{v.data(), v.size()}; }

template <class T>
const agentd_plugin* descriptorOf() {
  return agentd::sdk::detail::describe<T>(AGENTD_KIND_TOOL, "probe", "1.2.3", "A probe.",
                                          R"({"type":"object"})");
}

class SdkWrapper : public ::testing::Test {
 protected:
  void SetUp() override {
    api_ = makeApi();
    desc_ = descriptorOf<Probe>();
    Probe::last = nullptr;
  }
  void TearDown() override {
    if (inst_ != nullptr) desc_->destroy(inst_);
  }

  // Creates a Probe with config; returns the status.
  agentd_status create(std::string_view config) {
    return desc_->create(&api_, reinterpret_cast<agentd_host*>(&host_), s(config), &inst_);
  }
  void createOk() {
    ASSERT_EQ(create("{}"), AGENTD_OK) << desc_->last_error(nullptr);
    ASSERT_NE(inst_, nullptr);
    ASSERT_NE(Probe::last, nullptr);
  }
  // Invokes tool; returns the status and fills call_.
  agentd_status invoke(std::string_view tool, std::string_view args = "{}") {
    call_ = FakeCall{};
    return invokeWith(tool, args);
  }
  agentd_status invokeWith(std::string_view tool, std::string_view args) {
    return desc_->invoke(inst_, reinterpret_cast<agentd_call*>(&call_), s(tool), s(args));
  }

  agentd_host_api api_{};
  FakeHost host_;
  FakeCall call_;
  const agentd_plugin* desc_ = nullptr;
  agentd_instance* inst_ = nullptr;
};

TEST_F(SdkWrapper, DescriptorCarriesIdentityAndAllCallbacks) {
  EXPECT_EQ(desc_->struct_size, sizeof(agentd_plugin));
  EXPECT_EQ(desc_->abi_version, AGENTD_ABI_VERSION);
  EXPECT_EQ(desc_->kind, AGENTD_KIND_TOOL);
  EXPECT_EQ(desc_->reserved, 0u);
  EXPECT_STREQ(desc_->name, "probe");
  EXPECT_STREQ(desc_->version, "1.2.3");
  EXPECT_STREQ(desc_->description, "A probe.");
  EXPECT_STREQ(desc_->config_schema, R"({"type":"object"})");
  EXPECT_NE(desc_->create, nullptr);
  EXPECT_NE(desc_->reconfigure, nullptr);
  EXPECT_NE(desc_->destroy, nullptr);
  EXPECT_NE(desc_->last_error, nullptr);
  EXPECT_NE(desc_->health, nullptr);
  EXPECT_NE(desc_->list_tools, nullptr);
  EXPECT_NE(desc_->invoke, nullptr);
  EXPECT_NE(desc_->list_skills, nullptr);
  EXPECT_NE(desc_->end_task, nullptr);
  EXPECT_EQ(descriptorOf<Probe>(), desc_) << "one static descriptor per plugin type";
}

TEST_F(SdkWrapper, CreateUsesHostServicesAndDestroyDeletesThePlugin) {
  int destroyed_before = Probe::destroyed;
  createOk();
  ASSERT_EQ(host_.definitions.size(), 1u);
  EXPECT_EQ(host_.definitions[0].type, AGENTD_METRIC_COUNTER);
  EXPECT_EQ(host_.definitions[0].name, "probe_calls_total");
  EXPECT_EQ(host_.definitions[0].help, "Calls.");
  EXPECT_EQ(host_.definitions[0].labels, std::vector<std::string>{"tool"});
  ASSERT_EQ(host_.logs.size(), 1u);
  EXPECT_EQ(host_.logs[0].first, AGENTD_LOG_INFO);
  EXPECT_EQ(host_.logs[0].second, "created");
  desc_->destroy(inst_);
  inst_ = nullptr;
  EXPECT_EQ(Probe::destroyed, destroyed_before + 1);
}

TEST_F(SdkWrapper, CreateFailurePutsTextInLastErrorOfNull) {
  struct Case {
    const char* config;
    agentd_status status;
    const char* error;
  };
  const Case cases[] = {
      {"throw_error", AGENTD_EINVAL, "bad config"},
      {"throw_std", AGENTD_ERR, "std failure"},
      {"throw_int", AGENTD_ERR, "unknown exception"},
      {"throw_ok_status", AGENTD_ERR, "ok is not a failure"},
      {"nine_labels", AGENTD_EINVAL, "at most 8 metric labels"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.config);
    inst_ = reinterpret_cast<agentd_instance*>(&host_);  // must be reset to NULL on failure
    EXPECT_EQ(create(c.config), c.status);
    EXPECT_EQ(inst_, nullptr);
    EXPECT_STREQ(desc_->last_error(nullptr), c.error);
  }
}

TEST_F(SdkWrapper, RefusedMetricDefinitionFailsCreateWithTheHostStatus) {
  host_.define_status = AGENTD_EINVAL;
  EXPECT_EQ(create("{}"), AGENTD_EINVAL);
  EXPECT_EQ(inst_, nullptr);
  EXPECT_STREQ(desc_->last_error(nullptr), "metric definition refused: probe_calls_total");
}

TEST_F(SdkWrapper, SuccessfulInvokeEmitsAndNeverSetsError) {
  createOk();
  EXPECT_EQ(invoke("text", "world"), AGENTD_OK);
  EXPECT_EQ(call_.text, "hello world");
  EXPECT_TRUE(call_.json.empty());
  EXPECT_TRUE(call_.errors.empty());

  EXPECT_EQ(invoke("json"), AGENTD_OK);
  EXPECT_EQ(call_.json, R"({"a":1})");
  EXPECT_TRUE(call_.text.empty());
  EXPECT_TRUE(call_.errors.empty());
}

TEST_F(SdkWrapper, EveryExceptionKindBecomesStatusAndSetError) {
  createOk();
  struct Case {
    const char* tool;
    agentd_status status;
    const char* error;
  };
  const Case cases[] = {
      {"error", AGENTD_ETIMEDOUT, "too slow"},
      {"std", AGENTD_ERR, "out of range"},
      {"int", AGENTD_ERR, "unknown exception"},
      {"ok_status", AGENTD_ERR, "status OK thrown"},
      {"no_such_tool", AGENTD_ENOTFOUND, "unknown tool: no_such_tool"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.tool);
    EXPECT_EQ(invoke(c.tool), c.status);
    EXPECT_EQ(call_.errors, std::vector<std::string>{c.error});
  }
}

TEST_F(SdkWrapper, ThrownErrorTextIsTheLastSetError) {
  createOk();
  EXPECT_EQ(invoke("set_error_then_throw"), AGENTD_EINVAL);
  EXPECT_EQ(call_.errors, (std::vector<std::string>{"first", "second"}));
}

TEST_F(SdkWrapper, OutputRejectedByHostFailsTheCall) {
  createOk();
  call_ = FakeCall{};
  call_.emit_status = AGENTD_EINVAL;
  EXPECT_EQ(invokeWith("text", "x"), AGENTD_EINVAL);
  EXPECT_EQ(call_.errors, std::vector<std::string>{"output rejected by host"});
  EXPECT_TRUE(call_.text.empty());
}

TEST_F(SdkWrapper, CallServicesPassThrough) {
  createOk();
  call_ = FakeCall{};
  call_.context["task_id"] = "t-42";
  EXPECT_EQ(invokeWith("context", "{}"), AGENTD_OK);
  EXPECT_EQ(call_.text, "t-42|");

  EXPECT_EQ(invoke("progress"), AGENTD_OK);
  EXPECT_EQ(call_.progress, (std::vector<std::string>{"1/2 half", "2/0 "}));

  EXPECT_EQ(invoke("cancelled"), AGENTD_OK);
  EXPECT_EQ(call_.text, "no");
  call_ = FakeCall{};
  call_.cancelled = true;
  EXPECT_EQ(invokeWith("cancelled", "{}"), AGENTD_OK);
  EXPECT_EQ(call_.text, "yes");
}

TEST_F(SdkWrapper, MetricRecordAndToolsChangedReachTheHost) {
  createOk();
  EXPECT_EQ(invoke("changed"), AGENTD_OK);
  EXPECT_EQ(host_.tools_changed, 1);
  ASSERT_EQ(host_.records.size(), 1u);
  EXPECT_EQ(host_.records[0].id, 101u);
  EXPECT_EQ(host_.records[0].labels, std::vector<std::string>{"changed"});
  EXPECT_EQ(host_.records[0].value, 1.0);
}

TEST_F(SdkWrapper, ReconfigureRejectionKeepsLastErrorAndOldConfig) {
  createOk();
  EXPECT_EQ(desc_->reconfigure(inst_, s("v2")), AGENTD_OK);
  EXPECT_EQ(invoke("config"), AGENTD_OK);
  EXPECT_EQ(call_.text, "v2");

  EXPECT_EQ(desc_->reconfigure(inst_, s("reject me")), AGENTD_EINVAL);
  EXPECT_STREQ(desc_->last_error(inst_), "rejected: reject me");
  EXPECT_EQ(invoke("config"), AGENTD_OK);
  EXPECT_EQ(call_.text, "v2") << "a rejected config must not take effect";

  // Call failures and list failures report elsewhere; they leave last_error alone.
  EXPECT_EQ(invoke("std"), AGENTD_ERR);
  Probe::last->fail_lists = true;
  FakeList list;
  EXPECT_NE(desc_->list_tools(inst_, reinterpret_cast<agentd_list*>(&list)), AGENTD_OK);
  EXPECT_STREQ(desc_->last_error(inst_), "rejected: reject me");
  // Nor does create failure of another instance (that goes to last_error(NULL)).
  agentd_instance* other = nullptr;
  EXPECT_EQ(desc_->create(&api_, reinterpret_cast<agentd_host*>(&host_), s("throw_std"), &other),
            AGENTD_ERR);
  EXPECT_STREQ(desc_->last_error(inst_), "rejected: reject me");
  EXPECT_STREQ(desc_->last_error(nullptr), "std failure");
}

TEST_F(SdkWrapper, DefaultReconfigureIsNotSupported) {
  const agentd_plugin* minimal = descriptorOf<Minimal>();
  agentd_instance* inst = nullptr;
  ASSERT_EQ(minimal->create(&api_, reinterpret_cast<agentd_host*>(&host_), s("{}"), &inst),
            AGENTD_OK);
  EXPECT_EQ(minimal->reconfigure(inst, s("{}")), AGENTD_ENOTSUP);
  EXPECT_STREQ(minimal->last_error(inst), "reconfigure not supported");
  minimal->destroy(inst);
}

TEST_F(SdkWrapper, DefaultsOfABarePlugin) {
  const agentd_plugin* minimal = descriptorOf<Minimal>();
  agentd_instance* inst = nullptr;
  ASSERT_EQ(minimal->create(&api_, reinterpret_cast<agentd_host*>(&host_), s("{}"), &inst),
            AGENTD_OK);
  EXPECT_STREQ(minimal->last_error(inst), "");
  EXPECT_EQ(minimal->health(inst), AGENTD_OK);
  FakeList tools, skills;
  EXPECT_EQ(minimal->list_tools(inst, reinterpret_cast<agentd_list*>(&tools)), AGENTD_OK);
  EXPECT_EQ(minimal->list_skills(inst, reinterpret_cast<agentd_list*>(&skills)), AGENTD_OK);
  EXPECT_TRUE(tools.items.empty());
  EXPECT_TRUE(skills.items.empty());
  FakeCall call;
  EXPECT_EQ(minimal->invoke(inst, reinterpret_cast<agentd_call*>(&call), s("x"), s("{}")),
            AGENTD_ENOTFOUND);
  EXPECT_EQ(call.errors, std::vector<std::string>{"unknown tool: x"});
  minimal->end_task(inst, s("t"));
  minimal->destroy(inst);
}

TEST_F(SdkWrapper, ToolAndSkillListsPassThrough) {
  createOk();
  FakeList tools;
  ASSERT_EQ(desc_->list_tools(inst_, reinterpret_cast<agentd_list*>(&tools)), AGENTD_OK);
  EXPECT_EQ(tools.items, (std::vector<std::vector<std::string>>{
                             {"one", "First.", R"({"type":"object"})"},
                             {"two", "Second.", R"({"type":"object","required":["x"]})"}}));
  FakeList skills;
  ASSERT_EQ(desc_->list_skills(inst_, reinterpret_cast<agentd_list*>(&skills)), AGENTD_OK);
  EXPECT_EQ(skills.items,
            (std::vector<std::vector<std::string>>{{"skill", "A skill.", "Do the thing."}}));

  Probe::last->fail_lists = true;
  FakeList failed;
  EXPECT_EQ(desc_->list_tools(inst_, reinterpret_cast<agentd_list*>(&failed)), AGENTD_ERR);
  EXPECT_EQ(desc_->list_skills(inst_, reinterpret_cast<agentd_list*>(&failed)), AGENTD_ERR);
  EXPECT_TRUE(failed.items.empty());
}

TEST_F(SdkWrapper, HealthMapsFalseAndExceptionsToErr) {
  createOk();
  EXPECT_EQ(desc_->health(inst_), AGENTD_OK);
  Probe::last->is_healthy = false;
  EXPECT_EQ(desc_->health(inst_), AGENTD_ERR);
  Probe::last->is_healthy = true;
  Probe::last->health_throws = true;
  EXPECT_EQ(desc_->health(inst_), AGENTD_ERR);
}

TEST_F(SdkWrapper, EndTaskPassesTheIdAndSwallowsExceptions) {
  createOk();
  desc_->end_task(inst_, s("task-1"));
  desc_->end_task(inst_, s("throw"));
  EXPECT_EQ(Probe::last->ended, (std::vector<std::string>{"task-1", "throw"}));
}

TEST_F(SdkWrapper, NullConfigPointerIsAnEmptyView) {
  agentd_status st =
      desc_->create(&api_, reinterpret_cast<agentd_host*>(&host_), agentd_str{nullptr, 0}, &inst_);
  ASSERT_EQ(st, AGENTD_OK);
  EXPECT_EQ(invoke("config"), AGENTD_OK);
  EXPECT_EQ(call_.text, "");
}

}  // namespace

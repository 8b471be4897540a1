#include "lifecycle/lifecycle.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "observability/log.h"
#include "observability/metrics.h"

namespace agentd {
namespace {

using S = AgentState;

constexpr std::array<S, kAgentStateCount> kAllStates = {
    S::kInitializing, S::kReady,    S::kRunning, S::kPaused,
    S::kReloading,    S::kDraining, S::kStopped, S::kFailed,
};

// Written from DESIGN.md, independently of the table in lifecycle.cc.
const std::set<std::pair<S, S>>& expectedLegal() {
  static const std::set<std::pair<S, S>> legal = {
      {S::kInitializing, S::kReady},  {S::kReady, S::kRunning},
      {S::kRunning, S::kReady},       {S::kReady, S::kPaused},
      {S::kRunning, S::kPaused},      {S::kPaused, S::kReady},
      {S::kPaused, S::kRunning},      {S::kReady, S::kReloading},
      {S::kRunning, S::kReloading},   {S::kPaused, S::kReloading},
      {S::kReloading, S::kReady},     {S::kReloading, S::kRunning},
      {S::kReloading, S::kPaused},    {S::kInitializing, S::kDraining},
      {S::kReady, S::kDraining},      {S::kRunning, S::kDraining},
      {S::kPaused, S::kDraining},     {S::kReloading, S::kDraining},
      {S::kFailed, S::kDraining},     {S::kDraining, S::kStopped},
      {S::kInitializing, S::kFailed}, {S::kRunning, S::kFailed},
      {S::kFailed, S::kInitializing},
  };
  return legal;
}

// Brings a fresh lifecycle (in Initializing) to target along legal transitions. For Reloading,
// it is entered from before_reload.
testing::AssertionResult driveTo(AgentLifecycle& lc, S target, S before_reload = S::kReady) {
  std::vector<S> path;
  switch (target) {
    case S::kInitializing:
      break;
    case S::kReady:
      path = {S::kReady};
      break;
    case S::kRunning:
      path = {S::kReady, S::kRunning};
      break;
    case S::kPaused:
      path = {S::kReady, S::kPaused};
      break;
    case S::kReloading:
      path = {S::kReady};
      if (before_reload != S::kReady) path.push_back(before_reload);
      path.push_back(S::kReloading);
      break;
    case S::kDraining:
      path = {S::kDraining};
      break;
    case S::kStopped:
      path = {S::kDraining, S::kStopped};
      break;
    case S::kFailed:
      path = {S::kFailed};
      break;
  }
  for (S s : path) {
    Status st = lc.transition(s, "setup");
    if (!st.isOk()) return testing::AssertionFailure() << st.toString();
  }
  if (lc.state() != target) return testing::AssertionFailure() << stateName(lc.state());
  return testing::AssertionSuccess();
}

std::string scrape() {
  return prometheus::TextSerializer().Serialize(metrics::registry().Collect());
}

std::string labelValue(const prometheus::ClientMetric& m, const std::string& name) {
  for (const auto& l : m.label) {
    if (l.name == name) return l.value;
  }
  return {};
}

// Sum of the values of family `name` whose label `agent` equals agent.
double sumSeries(const std::string& name, const std::string& agent) {
  double sum = 0;
  for (const auto& family : metrics::registry().Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      if (labelValue(m, "agent") != agent) continue;
      sum += family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  return sum;
}

// Per state: transitions counted into it minus transitions counted out of it.
std::map<std::string, double> netFlow(const std::string& agent) {
  std::map<std::string, double> net;
  for (const auto& family : metrics::registry().Collect()) {
    if (family.name != "agentd_agent_state_transitions_total") continue;
    for (const auto& m : family.metric) {
      if (labelValue(m, "agent") != agent) continue;
      net[labelValue(m, "to")] += m.counter.value;
      net[labelValue(m, "from")] -= m.counter.value;
    }
  }
  return net;
}

std::string gaugeLine(const std::string& agent, S s, int v) {
  return "agentd_agent_state{agent=\"" + agent + "\",state=\"" + stateName(s) + "\"} " +
         std::to_string(v) + "\n";
}

std::string counterLine(const std::string& agent, S from, S to, int v) {
  return "agentd_agent_state_transitions_total{agent=\"" + agent + "\",from=\"" + stateName(from) +
         "\",to=\"" + stateName(to) + "\"} " + std::to_string(v) + "\n";
}

class LifecycleTest : public testing::Test {
 protected:
  void SetUp() override {
    saved_ = log::level();
    log::setLevel(log::Level::kWarn);
  }
  void TearDown() override { log::setLevel(saved_); }
  log::Level saved_ = log::Level::kInfo;
};
// Lowercase suite name so that `ctest -R lifecycle` selects these tests.
using lifecycle = LifecycleTest;

TEST_F(lifecycle, StateNamesRoundTrip) {
  std::set<std::string> names;
  for (S s : kAllStates) {
    names.insert(stateName(s));
    S parsed = S::kStopped;
    ASSERT_TRUE(parseState(stateName(s), &parsed)) << stateName(s);
    EXPECT_EQ(parsed, s);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kAgentStateCount));
  EXPECT_STREQ(stateName(S::kInitializing), "initializing");
  EXPECT_STREQ(stateName(S::kReloading), "reloading");
  S out = S::kReady;
  EXPECT_FALSE(parseState("Ready", &out));
  EXPECT_FALSE(parseState("", &out));
  EXPECT_EQ(out, S::kReady);
}

TEST_F(lifecycle, AcceptsWorkOnlyWhenReadyOrRunning) {
  for (S s : kAllStates) {
    EXPECT_EQ(acceptsWork(s), s == S::kReady || s == S::kRunning) << stateName(s);
  }
}

TEST_F(lifecycle, TableMatchesDesign) {
  EXPECT_EQ(expectedLegal().size(), 23u);
  for (S from : kAllStates) {
    for (S to : kAllStates) {
      EXPECT_EQ(isLegalTransition(from, to), expectedLegal().count({from, to}) == 1)
          << stateName(from) << " -> " << stateName(to);
    }
  }
}

TEST_F(lifecycle, EveryPairOfTheMatrix) {
  int applied = 0;
  int rejected = 0;
  for (S from : kAllStates) {
    std::vector<S> before_reloads = {S::kReady};
    if (from == S::kReloading) before_reloads = {S::kReady, S::kRunning, S::kPaused};
    for (S before : before_reloads) {
      for (S to : kAllStates) {
        SCOPED_TRACE(
            std::string(stateName(from)) + " -> " + stateName(to) +
            (from == S::kReloading ? std::string(" (from ") + stateName(before) + ")" : ""));
        AgentLifecycle lc("matrix");
        ASSERT_TRUE(driveTo(lc, from, before));
        const uint32_t failures = lc.consecutiveFailures();
        bool legal = expectedLegal().count({from, to}) == 1;
        if (from == S::kReloading && to != S::kDraining) legal = to == before;
        Status st = lc.transition(to, "matrix");
        if (legal) {
          EXPECT_TRUE(st.isOk()) << st.toString();
          EXPECT_EQ(lc.state(), to);
          ++applied;
        } else {
          EXPECT_EQ(st.code(), Status::Code::kFailedPrecondition) << st.toString();
          EXPECT_EQ(lc.state(), from);
          EXPECT_EQ(lc.consecutiveFailures(), failures);
          EXPECT_NE(st.message().find("'matrix'"), std::string::npos) << st.message();
          EXPECT_NE(st.message().find(std::string(stateName(from)) + " -> " + stateName(to)),
                    std::string::npos)
              << st.message();
          ++rejected;
        }
      }
    }
  }
  // 19 table entries outside Reloading's row; from Reloading, for each of its 3 origins, the
  // return to that origin and Draining.
  EXPECT_EQ(applied, 19 + 3 * 2);
  EXPECT_EQ(applied + rejected, 8 * 8 + 2 * 8);
}

TEST_F(lifecycle, ReloadingReturnsOnlyToPreviousState) {
  for (S prev : {S::kReady, S::kRunning, S::kPaused}) {
    SCOPED_TRACE(stateName(prev));
    AgentLifecycle lc("reload");
    ASSERT_TRUE(driveTo(lc, S::kReloading, prev));
    for (S other : {S::kReady, S::kRunning, S::kPaused}) {
      if (other == prev) continue;
      Status st = lc.transition(other);
      EXPECT_EQ(st.code(), Status::Code::kFailedPrecondition);
      EXPECT_NE(st.message().find(std::string("returns only to ") + stateName(prev)),
                std::string::npos)
          << st.message();
      EXPECT_EQ(lc.state(), S::kReloading);
    }
    EXPECT_TRUE(lc.transition(prev).isOk());
    EXPECT_EQ(lc.state(), prev);
  }

  // The remembered state is the latest one: Ready -> Reloading -> Ready -> Running ->
  // Reloading must go back to Running.
  AgentLifecycle lc("reload2");
  ASSERT_TRUE(driveTo(lc, S::kReloading, S::kReady));
  ASSERT_TRUE(lc.transition(S::kReady).isOk());
  ASSERT_TRUE(lc.transition(S::kRunning).isOk());
  ASSERT_TRUE(lc.transition(S::kReloading).isOk());
  EXPECT_FALSE(lc.transition(S::kReady).isOk());
  EXPECT_TRUE(lc.transition(S::kRunning).isOk());
}

TEST_F(lifecycle, BackoffDoublesUpToMaxAndResetsOnReady) {
  using std::chrono::milliseconds;
  AgentLifecycle lc("backoff", BackoffPolicy{milliseconds(10), milliseconds(100)});
  EXPECT_EQ(lc.consecutiveFailures(), 0u);
  EXPECT_EQ(lc.recoveryDelay(), milliseconds(10));
  const std::vector<int64_t> expected = {10, 20, 40, 80, 100, 100, 100};
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_TRUE(lc.fail("boom " + std::to_string(i)).isOk());
    EXPECT_EQ(lc.consecutiveFailures(), i + 1);
    EXPECT_EQ(lc.recoveryDelay(), milliseconds(expected[i])) << "after failure " << i + 1;
    EXPECT_EQ(lc.lastError(), "boom " + std::to_string(i));
    ASSERT_TRUE(lc.recover().isOk());
    EXPECT_EQ(lc.state(), S::kInitializing);
    EXPECT_EQ(lc.consecutiveFailures(), i + 1) << "recover() must not reset the count";
  }
  ASSERT_TRUE(lc.transition(S::kReady).isOk());
  EXPECT_EQ(lc.consecutiveFailures(), 0u);
  EXPECT_EQ(lc.recoveryDelay(), milliseconds(10));

  // A failure while Running counts from one again; an illegal fail() counts nothing.
  EXPECT_EQ(lc.fail("not from ready").code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(lc.consecutiveFailures(), 0u);
  ASSERT_TRUE(lc.transition(S::kRunning).isOk());
  ASSERT_TRUE(lc.fail("crash").isOk());
  EXPECT_EQ(lc.consecutiveFailures(), 1u);
  EXPECT_EQ(lc.recoveryDelay(), milliseconds(10));
  EXPECT_EQ(lc.lastError(), "crash");
}

TEST_F(lifecycle, BackoffDoesNotOverflow) {
  using std::chrono::milliseconds;
  AgentLifecycle lc("overflow", BackoffPolicy{milliseconds(500), milliseconds(30000)});
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(lc.fail("x").isOk());
    auto d = lc.recoveryDelay();
    EXPECT_GE(d, milliseconds(500));
    EXPECT_LE(d, milliseconds(30000));
    ASSERT_TRUE(lc.recover().isOk());
  }
  EXPECT_EQ(lc.consecutiveFailures(), 200u);
  EXPECT_EQ(lc.recoveryDelay(), milliseconds(30000));
}

TEST_F(lifecycle, MetricsFollowTransitions) {
  AgentLifecycle lc("m1");
  std::string text = scrape();
  EXPECT_NE(text.find(gaugeLine("m1", S::kInitializing, 1)), std::string::npos) << text;
  for (S s : kAllStates) {
    if (s != S::kInitializing) {
      EXPECT_NE(text.find(gaugeLine("m1", s, 0)), std::string::npos) << stateName(s);
    }
  }
  // Legal pairs start at zero so rate() works from the first scrape.
  EXPECT_NE(text.find(counterLine("m1", S::kInitializing, S::kReady, 0)), std::string::npos);

  ASSERT_TRUE(lc.transition(S::kReady).isOk());
  ASSERT_TRUE(lc.transition(S::kRunning).isOk());
  ASSERT_TRUE(lc.transition(S::kReady).isOk());
  ASSERT_TRUE(lc.transition(S::kRunning).isOk());
  text = scrape();
  for (S s : kAllStates) {
    EXPECT_NE(text.find(gaugeLine("m1", s, s == S::kRunning ? 1 : 0)), std::string::npos)
        << stateName(s) << "\n"
        << text;
  }
  EXPECT_NE(text.find(counterLine("m1", S::kInitializing, S::kReady, 1)), std::string::npos)
      << text;
  EXPECT_NE(text.find(counterLine("m1", S::kReady, S::kRunning, 2)), std::string::npos) << text;
  EXPECT_NE(text.find(counterLine("m1", S::kRunning, S::kReady, 1)), std::string::npos) << text;
  EXPECT_EQ(sumSeries("agentd_agent_state_transitions_total", "m1"), 4);
  EXPECT_EQ(sumSeries("agentd_agent_state", "m1"), 1);

  // An illegal transition changes no series.
  EXPECT_FALSE(lc.transition(S::kStopped).isOk());
  EXPECT_EQ(sumSeries("agentd_agent_state_transitions_total", "m1"), 4);
  EXPECT_EQ(text.find("to=\"stopped\"} 1"), std::string::npos);
  EXPECT_EQ(scrape(), text);
}

TEST_F(lifecycle, SeriesRemovedOnDestruction) {
  {
    AgentLifecycle lc("gone1");
    ASSERT_TRUE(lc.transition(S::kReady).isOk());
    EXPECT_NE(scrape().find(gaugeLine("gone1", S::kReady, 1)), std::string::npos);
  }
  std::string text = scrape();
  EXPECT_EQ(text.find("agent=\"gone1\""), std::string::npos) << text;
}

TEST_F(lifecycle, SameNameSharesSeriesUntilLastIsGone) {
  auto first = std::make_unique<AgentLifecycle>("dup");
  auto second = std::make_unique<AgentLifecycle>("dup");
  first.reset();
  // The survivor's series must still exist and still be updated.
  ASSERT_TRUE(second->transition(S::kReady).isOk());
  std::string text = scrape();
  EXPECT_NE(text.find(gaugeLine("dup", S::kReady, 1)), std::string::npos) << text;
  EXPECT_NE(text.find(counterLine("dup", S::kInitializing, S::kReady, 1)), std::string::npos)
      << text;
  second.reset();
  EXPECT_EQ(scrape().find("agent=\"dup\""), std::string::npos);
}

TEST_F(lifecycle, ListenersSeeAppliedTransitionsOutsideTheLock) {
  AgentLifecycle lc("listen");
  std::vector<std::pair<S, S>> seen;
  std::vector<S> state_inside;
  lc.addListener([&](S from, S to) {
    seen.emplace_back(from, to);
    state_inside.push_back(lc.state());  // would deadlock if called under the lock
  });
  int second_calls = 0;
  lc.addListener([&](S, S) { ++second_calls; });

  ASSERT_TRUE(lc.transition(S::kReady).isOk());
  ASSERT_TRUE(lc.transition(S::kRunning).isOk());
  EXPECT_FALSE(lc.transition(S::kStopped).isOk());
  ASSERT_TRUE(lc.fail("oops").isOk());
  ASSERT_TRUE(lc.recover().isOk());

  std::vector<std::pair<S, S>> want = {{S::kInitializing, S::kReady},
                                       {S::kReady, S::kRunning},
                                       {S::kRunning, S::kFailed},
                                       {S::kFailed, S::kInitializing}};
  EXPECT_EQ(seen, want);
  EXPECT_EQ(state_inside, (std::vector<S>{S::kReady, S::kRunning, S::kFailed, S::kInitializing}));
  EXPECT_EQ(second_calls, 4);
}

TEST_F(lifecycle, LogsEveryTransition) {
  log::setLevel(log::Level::kInfo);
  AgentLifecycle lc("log1");
  testing::internal::CaptureStderr();
  ASSERT_TRUE(lc.transition(S::kReady, "boot done").isOk());
  EXPECT_FALSE(lc.transition(S::kInitializing, "illegal").isOk());
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("\"msg\":\"agent state changed\""), std::string::npos) << err;
  EXPECT_NE(err.find("\"agent\":\"log1\",\"from\":\"initializing\",\"to\":\"ready\","
                     "\"reason\":\"boot done\""),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find("\"to\":\"initializing\""), std::string::npos) << err;
}

TEST_F(lifecycle, ConcurrentTransitionsKeepStateAndCountsConsistent) {
  constexpr int kThreads = 8;
  constexpr int kOpsPerThread = 20000;
  AgentLifecycle lc("conc");
  std::atomic<int> succeeded{0};
  std::atomic<int> listener_calls{0};
  std::atomic<int> bad_states{0};
  std::atomic<bool> done{false};
  lc.addListener([&](S, S) { listener_calls.fetch_add(1); });

  std::thread reader([&] {
    while (!done.load()) {
      if (static_cast<int>(lc.state()) >= kAgentStateCount) bad_states.fetch_add(1);
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Draining/Stopped are left out so the agent keeps moving.
      const std::array<S, 6> targets = {S::kInitializing, S::kReady,     S::kRunning,
                                        S::kPaused,       S::kReloading, S::kFailed};
      std::mt19937 rng(1234 + t);
      std::uniform_int_distribution<int> pick(0, static_cast<int>(targets.size()) + 1);
      for (int i = 0; i < kOpsPerThread; ++i) {
        int k = pick(rng);
        Status st = k < static_cast<int>(targets.size())    ? lc.transition(targets[k], "hammer")
                    : k == static_cast<int>(targets.size()) ? lc.fail("hammer")
                                                            : lc.recover();
        if (st.isOk()) succeeded.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  done.store(true);
  reader.join();

  EXPECT_EQ(bad_states.load(), 0);
  EXPECT_GT(succeeded.load(), kThreads);  // the agent really moved
  EXPECT_EQ(listener_calls.load(), succeeded.load());
  EXPECT_EQ(sumSeries("agentd_agent_state_transitions_total", "conc"), succeeded.load());
  EXPECT_EQ(sumSeries("agentd_agent_state", "conc"), 1);
  EXPECT_NE(scrape().find(gaugeLine("conc", lc.state(), 1)), std::string::npos);
  // The counted transitions form one path from Initializing to the current state: a lost
  // update (two threads leaving the same state) would break the balance.
  const std::map<std::string, double> net = netFlow("conc");
  for (S s : kAllStates) {
    double want = (s == lc.state() ? 1 : 0) - (s == S::kInitializing ? 1 : 0);
    auto it = net.find(stateName(s));
    EXPECT_EQ(it == net.end() ? 0 : it->second, want) << stateName(s);
  }

  ASSERT_TRUE(lc.transition(S::kDraining).isOk());
  ASSERT_TRUE(lc.transition(S::kStopped).isOk());
  EXPECT_EQ(sumSeries("agentd_agent_state_transitions_total", "conc"), succeeded.load() + 2);
  for (S s : kAllStates) EXPECT_FALSE(lc.transition(s).isOk()) << "stopped is terminal";
}

}  // namespace
}  // namespace agentd

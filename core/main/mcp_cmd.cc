// `agentd mcp ...`: talk to one MCP server from the command line with the same client the mcp
// adapter plugin uses. list-tools and call reach a server from the config
// (--server NAME --config F), by URL (--url, Streamable HTTP) or as a command (-- CMD ARGS...,
// stdio); conformance-client acts out the scenario the official conformance suite names in
// MCP_CONFORMANCE_SCENARIO against the URL it passes.
#include <rapidjson/document.h>
#include <signal.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "client.h"
#include "config/config.h"
#include "http_transport.h"
#include "json_util.h"
#include "main/commands.h"
#include "main/mcp_cmd.h"
#include "server.h"

namespace agentd {

namespace {

std::atomic<bool> g_interrupted{false};

struct McpTarget {
  std::string server;
  std::string config;
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::vector<std::string> command;
  int timeout_seconds = 60;
  bool verbose = false;
  bool json = false;
};

struct McpCall {
  std::string tool;
  std::string args = "{}";
};

void addTargetOptions(CLI::App* cmd, McpTarget* t) {
  cmd->add_option("--server", t->server, "A [mcp.servers] name from --config");
  cmd->add_option("--config,-c", t->config, "Configuration file holding --server");
  cmd->add_option("--url", t->url, "Streamable HTTP endpoint");
  cmd->add_option("--header,-H", t->headers, "HTTP header 'Name: value' (repeatable; ${ENV} ok)");
  cmd->add_option("--timeout", t->timeout_seconds, "Per-request timeout in seconds")
      ->check(CLI::Range(1, 86400));
  cmd->add_flag("--verbose,-v", t->verbose, "Log protocol events and the server's stderr");
  cmd->add_option("command", t->command, "stdio server: -- COMMAND ARGS...");
}

mcp::LogFn stderrLog(bool verbose) {
  return [verbose](mcp::LogLevel level, std::string_view m) {
    if (!verbose && level < mcp::LogLevel::kWarn) return;
    std::fprintf(stderr, "mcp: %.*s\n", static_cast<int>(m.size()), m.data());
  };
}

// Builds the server spec the target names; prints the problem and returns false otherwise.
bool resolveTarget(const McpTarget& t, mcp::ServerSpec* spec) {
  int ways = (!t.server.empty() ? 1 : 0) + (!t.url.empty() ? 1 : 0) + (!t.command.empty() ? 1 : 0);
  if (ways != 1) {
    std::fprintf(stderr,
                 "mcp: give exactly one of --server NAME --config F, --url URL, or "
                 "-- COMMAND ARGS...\n");
    return false;
  }
  spec->name = "cli";
  spec->timeout_seconds = t.timeout_seconds;
  if (!t.server.empty()) {
    if (t.config.empty()) {
      std::fprintf(stderr, "mcp: --server needs --config FILE\n");
      return false;
    }
    auto cfg = config::load(t.config);
    if (!cfg.ok()) {
      std::fprintf(stderr, "%s\n", cfg.status().message().c_str());
      return false;
    }
    auto it = (*cfg)->mcp.servers.find(t.server);
    if (it == (*cfg)->mcp.servers.end()) {
      std::fprintf(stderr, "mcp: %s has no [mcp.servers.%s]\n", t.config.c_str(), t.server.c_str());
      return false;
    }
    const config::McpServerConfig& s = it->second;
    spec->name = t.server;
    spec->command = s.command;
    spec->args = s.args;
    spec->env = s.env;
    spec->cwd = s.cwd;
    spec->url = s.url;
    spec->headers = s.headers;
    spec->timeout_seconds = s.timeout_seconds;
    if (spec->command.empty() == spec->url.empty()) {
      std::fprintf(stderr, "mcp: [mcp.servers.%s] needs either command or url\n", t.server.c_str());
      return false;
    }
    return true;
  }
  if (!t.url.empty()) {
    spec->url = t.url;
    for (const auto& h : t.headers) {
      size_t colon = h.find(':');
      if (colon == std::string::npos) {
        std::fprintf(stderr, "mcp: --header wants 'Name: value', got '%s'\n", h.c_str());
        return false;
      }
      std::string value = h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      auto expanded = mcp::expandEnv(value);
      if (!expanded.ok()) {
        std::fprintf(stderr, "mcp: --header: %s\n", expanded.status().message().c_str());
        return false;
      }
      spec->headers[h.substr(0, colon)] = *expanded;
    }
    return true;
  }
  spec->command = t.command[0];
  spec->args.assign(t.command.begin() + 1, t.command.end());
  return true;
}

std::unique_ptr<mcp::Client> connectTo(const mcp::ServerSpec& spec, bool verbose) {
  mcp::ClientOptions o;
  o.request_timeout = std::chrono::seconds(spec.timeout_seconds);
  o.log = stderrLog(verbose);
  o.elicitation = spec.elicitation;
  auto client = std::make_unique<mcp::Client>(mcp::makeTransport(spec), std::move(o));
  mcp::Status st = client->connect(std::chrono::seconds(spec.timeout_seconds),
                                   [] { return g_interrupted.load(); });
  if (!st.isOk()) {
    std::fprintf(stderr, "mcp: cannot connect: %s\n", st.message().c_str());
    return nullptr;
  }
  if (verbose) {
    std::fprintf(stderr, "mcp: connected to %s %s (protocol %s)\n", client->serverName().c_str(),
                 client->serverVersion().c_str(), client->protocolVersion().c_str());
  }
  return client;
}

void onInterrupt(int) { g_interrupted.store(true); }

// SIGINT cancels the request in flight (notifications/cancelled) instead of killing agentd.
void catchInterrupt() {
  struct sigaction sa {};
  sa.sa_handler = &onInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
}

int runListTools(const McpTarget& t) {
  mcp::ServerSpec spec;
  if (!resolveTarget(t, &spec)) return kExitUsage;
  catchInterrupt();
  auto client = connectTo(spec, t.verbose);
  if (client == nullptr) return kExitRuntime;
  mcp::CallOptions co;
  co.cancelled = [] { return g_interrupted.load(); };
  auto tools = client->listTools(co);
  if (!tools.ok()) {
    std::fprintf(stderr, "mcp: %s\n", tools.status().message().c_str());
    return kExitRuntime;
  }
  if (t.json) {
    std::string out = R"({"server":{"name":)" + mcp::json::quote(client->serverName()) +
                      R"(,"version":)" + mcp::json::quote(client->serverVersion()) +
                      R"(,"protocolVersion":)" + mcp::json::quote(client->protocolVersion()) +
                      R"(},"tools":[)";
    for (size_t i = 0; i < tools->size(); ++i) {
      const auto& tool = (*tools)[i];
      if (i > 0) out += ",";
      out += R"({"name":)" + mcp::json::quote(tool.name) + R"(,"description":)" +
             mcp::json::quote(tool.description) + R"(,"inputSchema":)" + tool.input_schema + "}";
    }
    out += "]}";
    std::printf("%s\n", out.c_str());
  } else {
    size_t width = 4;
    for (const auto& tool : *tools) width = std::max(width, tool.name.size());
    for (const auto& tool : *tools) {
      std::string d = tool.description.empty() ? tool.title : tool.description;
      d = d.substr(0, d.find('\n'));
      if (d.size() > 80) d = d.substr(0, 77) + "...";
      std::printf("%-*s  %s\n", static_cast<int>(width), tool.name.c_str(), d.c_str());
    }
  }
  return kExitOk;
}

int runCall(const McpTarget& t, const McpCall& c) {
  mcp::ServerSpec spec;
  if (!resolveTarget(t, &spec)) return kExitUsage;
  auto args = mcp::json::parse(c.args);
  if (!args.ok() || !args->IsObject()) {
    std::fprintf(stderr, "mcp: --args must be a JSON object\n");
    return kExitUsage;
  }
  catchInterrupt();
  auto client = connectTo(spec, t.verbose);
  if (client == nullptr) return kExitRuntime;
  mcp::CallOptions co;
  co.cancelled = [] { return g_interrupted.load(); };
  co.on_progress = [](double done, double total, std::string_view message) {
    if (total > 0) {
      std::fprintf(stderr, "progress %g/%g %.*s\n", done, total, static_cast<int>(message.size()),
                   message.data());
    } else {
      std::fprintf(stderr, "progress %g %.*s\n", done, static_cast<int>(message.size()),
                   message.data());
    }
  };
  auto r = client->callTool(c.tool, c.args, co);
  if (!r.ok()) {
    std::fprintf(stderr, "mcp: %s\n", r.status().message().c_str());
    return kExitRuntime;
  }
  if (r->is_error) {
    std::fprintf(stderr, "tool error: %s\n", r->output.c_str());
    return kExitRuntime;
  }
  std::printf("%s\n", r->output.c_str());
  return kExitOk;
}

// Acts out MCP_CONFORMANCE_SCENARIO: initialize, list the tools, call the scenario's tool.
int runConformanceClient(const std::string& url) {
  const char* env = std::getenv("MCP_CONFORMANCE_SCENARIO");
  std::string scenario = env == nullptr ? "" : env;
  mcp::ServerSpec spec;
  spec.name = "conformance";
  spec.url = url;
  spec.timeout_seconds = 20;
  auto client = connectTo(spec, true);
  if (client == nullptr) return kExitRuntime;
  int rc = kExitOk;
  auto tools = client->listTools();
  if (!tools.ok()) {
    std::fprintf(stderr, "mcp: %s\n", tools.status().message().c_str());
    rc = kExitRuntime;
  }
  auto call = [&](const std::string& tool, const std::string& args) {
    auto r = client->callTool(tool, args);
    if (!r.ok()) {
      std::fprintf(stderr, "mcp: %s: %s\n", tool.c_str(), r.status().message().c_str());
      rc = kExitRuntime;
      return;
    }
    std::printf("%s: %s%s\n", tool.c_str(), r->is_error ? "error: " : "", r->output.c_str());
  };
  if (tools.ok() && scenario != "initialize") {
    for (const auto& tool : *tools) {
      // add_numbers (tools_call) takes two numbers; the scenarios' other tools take none.
      call(tool.name, tool.name == "add_numbers" ? R"({"a":5,"b":3})" : "{}");
    }
  }
  client->close();
  return rc;
}

}  // namespace

CLI::App* addMcpCommands(CLI::App& app, int* exit_code) {
  auto target = std::make_shared<McpTarget>();
  auto call = std::make_shared<McpCall>();
  auto conformance_url = std::make_shared<std::string>();
  CLI::App* mcp = app.add_subcommand("mcp", "Talk to an MCP server with agentd's client");
  mcp->require_subcommand(1);

  CLI::App* list = mcp->add_subcommand("list-tools", "List a server's tools");
  addTargetOptions(list, target.get());
  list->add_flag("--json", target->json, "Print JSON");
  list->callback([=] { *exit_code = runListTools(*target); });

  CLI::App* call_cmd = mcp->add_subcommand("call", "Call one tool and print its result");
  addTargetOptions(call_cmd, target.get());
  call_cmd->add_option("--tool", call->tool, "Tool name (the server's own name)")->required();
  call_cmd->add_option("--args", call->args, "Arguments: a JSON object");
  call_cmd->callback([=] { *exit_code = runCall(*target, *call); });

  CLI::App* conf = mcp->add_subcommand(
      "conformance-client",
      "Client for the MCP conformance suite: acts out $MCP_CONFORMANCE_SCENARIO against URL");
  conf->add_option("url", *conformance_url, "Server URL")->required();
  conf->callback([=] { *exit_code = runConformanceClient(*conformance_url); });
  return mcp;
}

}  // namespace agentd

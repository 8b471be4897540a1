// A native fake model server for load benchmarks, where the Python fake server
// (tests/support/fake_model_server.py) is the bottleneck: OpenAI Chat Completions only, whole or
// streamed, with the Python server's multi-step behaviour for the headers benchmarks use:
// x-fake-tool-turns: N (one call to the first tool per answer until N rounds of tool results
// are in the conversation, then "done after N tool rounds") and x-fake-latency-ms: MS (every
// answer waits MS on a timer). One thread (Boost.Beast), 127.0.0.1 only, keep-alive.
// GET /_control/stats answers {"requests": N, "connections": N}.
// Usage: fake_model_native [--parent-pid PID]. Prints "listening on 127.0.0.1:PORT" on stderr.
#include <utility>  // before Asio (Boost 1.74)

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <sys/resource.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

long g_requests = 0;
long g_connections = 0;

std::string quote(const std::string& s) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return b.GetString();
}

struct Reply {
  std::string text;
  std::string tool;  // empty: no tool call
  std::string call_id;
  std::string arguments;
};

Reply makeReply(const rapidjson::Document& req, int turns) {
  Reply r;
  int rounds = 0;
  std::string user;
  if (req.HasMember("messages") && req["messages"].IsArray()) {
    for (const auto& m : req["messages"].GetArray()) {
      if (!m.IsObject() || !m.HasMember("role") || !m["role"].IsString()) continue;
      std::string role = m["role"].GetString();
      if (role == "assistant" && m.HasMember("tool_calls") && m["tool_calls"].IsArray() &&
          !m["tool_calls"].Empty()) {
        ++rounds;
      }
      if (role == "user" && m.HasMember("content") && m["content"].IsString()) {
        user = m["content"].GetString();
      }
    }
  }
  std::string first_tool;
  if (req.HasMember("tools") && req["tools"].IsArray() && !req["tools"].Empty()) {
    const auto& t = req["tools"][0];
    if (t.HasMember("function") && t["function"].HasMember("name")) {
      first_tool = t["function"]["name"].GetString();
    }
  }
  if (turns > 0 && !first_tool.empty() && rounds < turns) {
    r.tool = first_tool;
    r.call_id = "call_" + std::to_string(rounds);
    r.arguments = "{\"index\": " + std::to_string(rounds) + "}";
  } else if (turns > 0 && !first_tool.empty()) {
    r.text = "done after " + std::to_string(rounds) + " tool rounds";
  } else {
    r.text = "echo: " + user;
  }
  return r;
}

std::string usage() {
  return R"("usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15})";
}

std::string wholeBody(const std::string& model, const Reply& r) {
  std::string msg = "{\"role\":\"assistant\",\"content\":" +
                    (r.tool.empty() ? quote(r.text) : std::string("null"));
  if (!r.tool.empty()) {
    msg += ",\"tool_calls\":[{\"id\":\"" + r.call_id +
           "\",\"type\":\"function\",\"function\":"
           "{\"name\":" +
           quote(r.tool) + ",\"arguments\":" + quote(r.arguments) + "}}]";
  }
  msg += "}";
  return "{\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion\",\"created\":0,\"model\":" +
         quote(model) + ",\"choices\":[{\"index\":0,\"message\":" + msg + ",\"finish_reason\":\"" +
         (r.tool.empty() ? "stop" : "tool_calls") + "\"}]," + usage() + "}";
}

std::string streamBody(const std::string& model, const Reply& r) {
  std::string base =
      "{\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion.chunk\","
      "\"created\":0,\"model\":" +
      quote(model) + ",";
  auto chunk = [&](const std::string& delta, const char* finish) {
    return "data: " + base + "\"choices\":[{\"index\":0,\"delta\":" + delta +
           ",\"finish_reason\":" + (finish ? "\"" + std::string(finish) + "\"" : "null") +
           "}]}\n\n";
  };
  std::string out = chunk(R"({"role":"assistant","content":""})", nullptr);
  if (r.tool.empty()) {
    out += chunk("{\"content\":" + quote(r.text) + "}", nullptr);
  } else {
    out += chunk("{\"tool_calls\":[{\"index\":0,\"id\":\"" + r.call_id +
                     "\",\"type\":\"function\",\"function\":{\"name\":" + quote(r.tool) +
                     ",\"arguments\":" + quote(r.arguments) + "}}]}",
                 nullptr);
  }
  out += chunk("{}", r.tool.empty() ? "stop" : "tool_calls");
  out += "data: " + base + "\"choices\":[]," + usage() + "}\n\n";
  out += "data: [DONE]\n\n";
  return out;
}

int headerInt(const http::request<http::string_body>& req, const char* name) {
  auto it = req.find(name);
  return it == req.end() ? 0 : std::atoi(std::string(it->value()).c_str());
}

asio::awaitable<void> session(tcp::socket socket) {
  ++g_connections;
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  asio::steady_timer timer(stream.get_executor());
  for (;;) {
    http::request<http::string_body> req;
    boost::system::error_code ec;
    co_await http::async_read(stream, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.keep_alive(req.keep_alive());
    if (req.target() == "/v1/chat/completions" && req.method() == http::verb::post) {
      ++g_requests;
      rapidjson::Document doc;
      doc.Parse(req.body().c_str());
      if (doc.HasParseError() || !doc.IsObject()) {
        res.result(http::status::bad_request);
        res.set(http::field::content_type, "application/json");
        res.body() =
            R"({"error":{"message":"request body is not JSON","type":"invalid_request_error"}})";
      } else {
        Reply r = makeReply(doc, headerInt(req, "x-fake-tool-turns"));
        std::string model =
            doc.HasMember("model") && doc["model"].IsString() ? doc["model"].GetString() : "";
        bool streamed =
            doc.HasMember("stream") && doc["stream"].IsBool() && doc["stream"].GetBool();
        res.set(http::field::content_type, streamed ? "text/event-stream" : "application/json");
        res.body() = streamed ? streamBody(model, r) : wholeBody(model, r);
        int latency = headerInt(req, "x-fake-latency-ms");
        if (latency > 0) {
          timer.expires_after(std::chrono::milliseconds(latency));
          co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
      }
    } else if (req.target() == "/_control/stats") {
      res.set(http::field::content_type, "application/json");
      res.body() = "{\"requests\":" + std::to_string(g_requests) +
                   ",\"connections\":" + std::to_string(g_connections) + "}";
    } else {
      res.result(http::status::not_found);
      res.set(http::field::content_type, "application/json");
      res.body() = R"({"error":{"message":"no route"}})";
    }
    res.prepare_payload();
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !req.keep_alive()) break;
  }
}

asio::awaitable<void> listener(tcp::acceptor& acceptor) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket s = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) continue;  // e.g. EMFILE: keep serving the connections already open
    s.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), session(std::move(s)), asio::detached);
  }
}

asio::awaitable<void> watchParent(int pid) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  for (;;) {
    t.expires_after(std::chrono::milliseconds(500));
    co_await t.async_wait(asio::use_awaitable);
    if (kill(pid, 0) != 0) std::exit(0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int parent = 0;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--parent-pid") == 0) parent = std::atoi(argv[i + 1]);
  }
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  asio::io_context io(1);
  tcp::acceptor acceptor(io);
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  acceptor.open(ep.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen(4096);
  std::fprintf(stderr, "listening on 127.0.0.1:%u\n", acceptor.local_endpoint().port());
  std::fflush(stderr);
  asio::co_spawn(io, listener(acceptor), asio::detached);
  if (parent > 0) asio::co_spawn(io, watchParent(parent), asio::detached);
  io.run();
}

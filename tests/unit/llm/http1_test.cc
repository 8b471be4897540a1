// http1: which URLs the loopback path takes, the request bytes, and the response reader over
// every framing (sized, chunked, to the close), split at every byte, with interim responses,
// early ends, malformed input and callbacks that stop the read.
#include "llm/http1.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

namespace agentd::llm::http1 {
namespace {

using State = ResponseReader::State;

struct Read {
  State state = State::kMore;
  long status = 0;
  HttpHeaders headers;
  std::string body;
  int heads = 0;
};

// Feeds text in pieces of `piece` bytes (then the end of stream, when eof) and records what
// the reader handed out.
Read readInPieces(const std::string& text, size_t piece, bool eof = false, bool head = false) {
  Read r;
  ResponseReader::Callbacks cb;
  cb.on_head = [&](long status, HttpHeaders h) {
    ++r.heads;
    r.status = status;
    r.headers = std::move(h);
    return true;
  };
  cb.on_body = [&](std::string_view chunk) {
    r.body.append(chunk);
    return true;
  };
  ResponseReader reader(cb, head);
  for (size_t i = 0; i < text.size() && r.state == State::kMore; i += piece) {
    r.state = reader.feed(std::string_view(text).substr(i, piece));
  }
  if (eof && r.state == State::kMore) r.state = reader.eof();
  return r;
}

// Callbacks that take every head and every piece of body.
ResponseReader::Callbacks acceptAll() {
  ResponseReader::Callbacks cb;
  cb.on_head = [](long, HttpHeaders) { return true; };
  cb.on_body = [](std::string_view) { return true; };
  return cb;
}

TEST(Http1Reader, SizedChunkedAndCloseDelimitedBodiesSurviveEverySplit) {
  const std::string sized =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Two: a\r\n"
      "Content-Length: 11\r\n\r\n{\"ok\":true}";
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
  const std::string to_close = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
  for (size_t piece = 1; piece <= chunked.size(); ++piece) {
    Read a = readInPieces(sized, piece);
    ASSERT_EQ(a.state, State::kDone) << piece;
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.headers["content-type"], "application/json") << "names are lower case";
    EXPECT_EQ(a.headers["x-two"], "a");
    EXPECT_EQ(a.body, "{\"ok\":true}");
    Read b = readInPieces(chunked, piece);
    ASSERT_EQ(b.state, State::kDone) << piece;
    EXPECT_EQ(b.body, "hello world");
    Read c = readInPieces(to_close, piece, true);
    ASSERT_EQ(c.state, State::kDone) << piece;
    EXPECT_EQ(c.body, "until the end");
  }
}

TEST(Http1Reader, InterimResponsesAreSkipped) {
  Read r = readInPieces(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 7);
  ASSERT_EQ(r.state, State::kDone);
  EXPECT_EQ(r.heads, 1);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "ok");
}

TEST(Http1Reader, AHeadResponseHasNoBody) {
  Read r = readInPieces("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 1000, false, true);
  EXPECT_EQ(r.state, State::kDone);
  EXPECT_EQ(r.body, "");
}

TEST(Http1Reader, KeepAliveAndLeftoverTellWhetherTheConnectionCanBeReused) {
  ResponseReader::Callbacks cb = acceptAll();
  ResponseReader keep(cb, false);
  ASSERT_EQ(keep.feed("HTTP/1.1 204 No Content\r\n\r\n"), State::kDone);
  EXPECT_TRUE(keep.keepAlive());
  EXPECT_EQ(keep.leftover(), 0u);
  ResponseReader closing(cb, false);
  ASSERT_EQ(closing.feed("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
            State::kDone);
  EXPECT_FALSE(closing.keepAlive());
  ResponseReader extra(cb, false);
  ASSERT_EQ(extra.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1"), State::kDone);
  EXPECT_EQ(extra.leftover(), 8u) << "bytes nobody asked for: the connection is not reused";
}

TEST(Http1Reader, EarlyEndsAreToldApart) {
  Read nothing = readInPieces("", 1, true);
  EXPECT_EQ(nothing.state, State::kError);
  ResponseReader::Callbacks cb = acceptAll();
  {
    ResponseReader r(cb, false);
    EXPECT_EQ(r.eof(), State::kError);
    EXPECT_FALSE(r.gotBytes());
    EXPECT_FALSE(r.truncated());
    EXPECT_EQ(r.error(), "empty reply from server");
  }
  {
    ResponseReader r(cb, false);
    EXPECT_EQ(r.feed("HTTP/1.1 200 OK\r\nContent-"), State::kMore);
    EXPECT_EQ(r.eof(), State::kError);
    EXPECT_TRUE(r.gotBytes());
    EXPECT_FALSE(r.truncated());
    EXPECT_FALSE(r.headDone());
  }
  {
    ResponseReader r(cb, false);
    EXPECT_EQ(r.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), State::kMore);
    EXPECT_TRUE(r.headDone());
    EXPECT_EQ(r.eof(), State::kError);
    EXPECT_TRUE(r.truncated());
  }
  {
    ResponseReader r(cb, false);
    EXPECT_EQ(r.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"), State::kMore);
    EXPECT_EQ(r.eof(), State::kError);
    EXPECT_TRUE(r.truncated());
  }
}

TEST(Http1Reader, MalformedInputIsAnError) {
  Read r = readInPieces("SMTP ready\r\n\r\n", 1000);
  EXPECT_EQ(r.state, State::kError);
  Read bad_chunk =
      readInPieces("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n", 1000);
  EXPECT_EQ(bad_chunk.state, State::kError);
}

TEST(Http1Reader, CallbacksStopTheRead) {
  ResponseReader::Callbacks no_head;
  no_head.on_head = [](long, HttpHeaders) { return false; };
  no_head.on_body = [](std::string_view) { return true; };
  ResponseReader a(no_head, false);
  EXPECT_EQ(a.feed("HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\nno"), State::kAborted);

  std::string seen;
  ResponseReader::Callbacks one_chunk;
  one_chunk.on_head = [](long, HttpHeaders) { return true; };
  one_chunk.on_body = [&](std::string_view c) {
    seen.append(c);
    return false;
  };
  ResponseReader b(one_chunk, false);
  EXPECT_EQ(b.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n2\r\ncd\r\n"),
            State::kAborted);
  EXPECT_EQ(seen, "ab");
}

TEST(Http1Target, OnlyPlainHttpToThisHostQualifies) {
  auto t = loopbackTarget("http://127.0.0.1:8000/v1/chat/completions?x=1#frag");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->host_header, "127.0.0.1:8000");
  EXPECT_EQ(t->target, "/v1/chat/completions?x=1");
  EXPECT_EQ(t->pool_key, "127.0.0.1:8000");
  ASSERT_EQ(t->addrs.size(), 1u);
  EXPECT_EQ(t->addrs[0].ss_family, AF_INET);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(&t->addrs[0])->sin_port), 8000);

  auto local = loopbackTarget("HTTP://LocalHost/");
  ASSERT_TRUE(local.has_value());
  EXPECT_EQ(local->host_header, "localhost") << "port 80 is not written";
  ASSERT_EQ(local->addrs.size(), 2u) << "127.0.0.1, then ::1";
  EXPECT_EQ(local->addrs[0].ss_family, AF_INET);
  EXPECT_EQ(local->addrs[1].ss_family, AF_INET6);

  auto v6 = loopbackTarget("http://[::1]:9/v1");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host_header, "[::1]:9");
  EXPECT_EQ(v6->addrs[0].ss_family, AF_INET6);

  for (const char* other : {"https://127.0.0.1:8000/v1", "http://127.0.0.2:8000/v1",
                            "http://10.0.0.1/v1", "http://example.test/v1",
                            "http://user:pw@127.0.0.1:8000/v1", "127.0.0.1:8000/v1", "not a url"}) {
    EXPECT_FALSE(loopbackTarget(other).has_value()) << other;
  }
}

// The bytes a request puts on the wire.
std::string wire(const HttpRequest& req, const Target& t) {
  return requestHead(req, t) + std::string(requestBody(req));
}

TEST(Http1Request, HeadLinesAndBody) {
  auto t = loopbackTarget("http://127.0.0.1:8000/v1/chat/completions");
  ASSERT_TRUE(t.has_value());
  HttpRequest req;
  req.headers = {{"Authorization", "Bearer k"}, {"Expect", ""}, {"Content-Type", "a/b"}};
  req.body = "{}";
  EXPECT_EQ(wire(req, *t),
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
            "Authorization: Bearer k\r\nContent-Type: a/b\r\nContent-Length: 2\r\n\r\n{}");
  HttpRequest get;
  get.method = "GET";
  get.headers = {{"host", "model.local"}};
  EXPECT_EQ(wire(get, *t), "GET /v1/chat/completions HTTP/1.1\r\nhost: model.local\r\n\r\n")
      << "the caller's Host wins; no length without a body";
  HttpRequest put;
  put.method = "PUT";
  put.body = "ignored";
  EXPECT_EQ(wire(put, *t), "PUT /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n")
      << "as on the libcurl path, only POST sends a body";
}

}  // namespace
}  // namespace agentd::llm::http1

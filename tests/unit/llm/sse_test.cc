// SseParser: events split at any byte boundary, CRLF/LF/CR line ends, multi-line data, comments.
#include "llm/sse.h"

#include <gtest/gtest.h>

#include <vector>

namespace agentd::llm {
namespace {

std::vector<SseEvent> parseInPieces(const std::string& text, size_t piece) {
  SseParser p;
  std::vector<SseEvent> out;
  for (size_t i = 0; i < text.size(); i += piece) {
    EXPECT_TRUE(p.feed(std::string_view(text).substr(i, piece), [&](const SseEvent& e) {
      out.push_back(e);
      return true;
    }));
  }
  EXPECT_FALSE(p.hasPending());
  return out;
}

TEST(LlmSse, EventsSurviveEverySplitPoint) {
  const std::string text =
      ": comment\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\n"
      "data: line one\ndata: line two\n\n"
      "id: 7\nretry: 100\nevent: ping\rdata:no-space\r\r"
      "data: [DONE]\n\n";
  for (size_t piece = 1; piece <= text.size(); ++piece) {
    auto events = parseInPieces(text, piece);
    ASSERT_EQ(events.size(), 4u) << "piece " << piece;
    EXPECT_EQ(events[0].event, "message_start");
    EXPECT_EQ(events[0].data, "{\"a\":1}");
    EXPECT_EQ(events[1].event, "");
    EXPECT_EQ(events[1].data, "line one\nline two");
    EXPECT_EQ(events[2].event, "ping");
    EXPECT_EQ(events[2].data, "no-space");
    EXPECT_EQ(events[3].data, "[DONE]");
  }
}

TEST(LlmSse, BlankLinesWithoutDataDispatchNothingAndStopIsHonoured) {
  SseParser p;
  int n = 0;
  EXPECT_TRUE(p.feed("\n\nevent: x\n\n", [&](const SseEvent&) { return ++n, true; }));
  EXPECT_EQ(n, 0);
  EXPECT_FALSE(p.feed("data: 1\n\ndata: 2\n\n", [&](const SseEvent&) { return ++n, false; }));
  EXPECT_EQ(n, 1) << "feed stops at the first event the handler refuses";
}

TEST(LlmSse, PartialEventIsPending) {
  SseParser p;
  int n = 0;
  p.feed("data: {\"half\":", [&](const SseEvent&) { return ++n, true; });
  EXPECT_TRUE(p.hasPending());
  EXPECT_EQ(n, 0);
}

}  // namespace
}  // namespace agentd::llm

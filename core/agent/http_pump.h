// Drives a model client's HTTP loop (llm::HttpLoop, a client created with external_loop) from an
// io_context, so a task's model calls and their completions stay on the task's own thread: no
// thread hand-off per model request. REQUIRES: io is run by one thread (agentd runs one).
// The pump watches the loop's epoll descriptor and its next deadline and stops by itself once
// the client is destroyed (or when io is destroyed first).
#pragma once

#include <memory>

#include "llm/http_client.h"

namespace boost::asio {
class io_context;
}

namespace agentd::agent {

// Starts driving loop on io. Thread-safe: the pump starts on io's thread.
void driveOnIo(boost::asio::io_context& io, std::shared_ptr<llm::HttpLoop> loop);

}  // namespace agentd::agent

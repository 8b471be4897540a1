// ThreadPool: a fixed number of threads draining a bounded FIFO queue. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace agentd {

class ThreadPool {
 public:
  ThreadPool(size_t threads, size_t max_queue, std::string name = "pool");
  // Runs every queued task, then joins.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Returns false (and drops fn) when the queue is full or the pool is stopping.
  bool submit(std::function<void()> fn);
  size_t threads() const { return workers_.size(); }
  size_t queued() const;

 private:
  void loop();
  const size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace agentd

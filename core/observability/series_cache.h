// SeriesCache: the series of one Prometheus family by a caller-built key, so that a hot path
// (one model call, one tool call) does not pay Family::Add's label map, hashing and family lock
// on every use. The key must identify the labels (for example their values joined by '\x1f');
// labels are built only the first time a key is seen. Series are never removed from a family
// that is used through a cache, so the references stay valid. Thread-safe.
#pragma once

#include <prometheus/family.h>

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace agentd::metrics {

template <class T>
class SeriesCache {
 public:
  explicit SeriesCache(prometheus::Family<T>& family) : family_(family) {}

  // make_labels() returns the prometheus::Labels of key; args go to Family::Add (for example a
  // histogram's buckets) the first time only.
  template <class MakeLabels, class... Args>
  T& get(std::string_view key, MakeLabels&& make_labels, Args&&... args) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = series_.find(key);
    if (it != series_.end()) return *it->second;
    T& series = family_.Add(make_labels(), std::forward<Args>(args)...);
    series_.emplace(std::string(key), &series);
    return series;
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  prometheus::Family<T>& family_;
  std::mutex mu_;
  std::unordered_map<std::string, T*, Hash, std::equal_to<>> series_;
};

}  // namespace agentd::metrics

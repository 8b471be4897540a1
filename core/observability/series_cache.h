// SeriesCache: the series of one Prometheus family by their label values, so that a hot path
// (an HTTP request, a model call, a tool call) does not pay Family::Add's label map, hashing and
// family lock on every use. The label names are given once; a series' labels are built only the
// first time its values are seen. Series are never removed from a family that is used through a
// cache, so the references stay valid. Thread-safe.
#pragma once

#include <prometheus/family.h>

#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace agentd::metrics {

template <class T>
class SeriesCache {
 public:
  // names: the family's label names, in the order get() takes their values.
  SeriesCache(prometheus::Family<T>& family, std::vector<std::string> names)
      : family_(family), names_(std::move(names)) {}

  // The series with these label values (one per name, in order); args go to Family::Add (for
  // example a histogram's buckets) the first time only.
  template <class... Args>
  T& get(std::initializer_list<std::string_view> values, Args&&... args) {
    std::string key;  // each value with its length in front: no two value lists share a key
    for (std::string_view v : values) {
      key.append(std::to_string(v.size()));
      key.push_back(':');
      key.append(v);
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = series_.find(key);
    if (it != series_.end()) return *it->second;
    prometheus::Labels labels;
    size_t i = 0;
    for (std::string_view v : values) labels.emplace(names_.at(i++), std::string(v));
    T& series = family_.Add(labels, std::forward<Args>(args)...);
    series_.emplace(std::move(key), &series);
    return series;
  }

 private:
  prometheus::Family<T>& family_;
  const std::vector<std::string> names_;
  std::mutex mu_;
  std::unordered_map<std::string, T*> series_;
};

}  // namespace agentd::metrics

// Metrics contributed by parts of Courier that the monitoring library does
// not link (the message services, an embedding application): each source
// is a function that appends Prometheus text exposition lines. The monitor's
// /metrics document (monitor/metrics) appends every registered source after
// the broker's own metrics.
//
// Thread rules: every method is safe from any thread. Writers run under the
// registry's mutex, one at a time, so that a source removed (its handle
// destroyed) is never called again once the removal returns; a writer must
// therefore only read counters, never block on I/O, and never add or remove
// a source itself.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace courier::broker {

/// Appends complete metric families (# HELP, # TYPE, samples; newline-terminated
/// lines) to `out`. The families must not be written by any other source.
using metrics_writer = std::function<void(std::string& out)>;

/// The registered metrics sources of one server, by name.
class metrics_sources {
 public:
  /// Keeps a source registered; removes it on destruction (or reset()).
  /// Movable, not copyable. Must not outlive the registry.
  class handle {
   public:
    handle() = default;
    handle(handle&& other) noexcept;
    handle& operator=(handle&& other) noexcept;
    handle(const handle&) = delete;
    handle& operator=(const handle&) = delete;
    ~handle();
    /// Removes the source now; after it returns the writer is not running
    /// and is never called again. Idempotent.
    void reset();
    /// True while a source is registered through this handle.
    explicit operator bool() const { return owner_ != nullptr; }

   private:
    friend class metrics_sources;
    handle(metrics_sources* owner, std::uint64_t id) : owner_(owner), id_(id) {}
    metrics_sources* owner_ = nullptr;
    std::uint64_t id_ = 0;
  };

  metrics_sources() = default;
  metrics_sources(const metrics_sources&) = delete;
  metrics_sources& operator=(const metrics_sources&) = delete;

  /// Registers `writer` under `name` (sources are written in name order). Throws
  /// std::invalid_argument when `name` is registered already (two sources
  /// of one kind would write the same metric families twice, which
  /// Prometheus refuses) or `writer` is empty.
  [[nodiscard]] handle add(std::string name, metrics_writer writer);

  /// Appends every source's output to `out`.
  void write_all(std::string& out) const;

  /// The names registered now, in writing order.
  std::vector<std::string> names() const;

 private:
  void remove(std::uint64_t id);

  struct source {
    std::string name;
    metrics_writer writer;
  };
  mutable std::mutex mutex_;  ///< held while writers run
  std::map<std::string, std::uint64_t, std::less<>> ids_by_name_;  // lock: mutex_
  std::map<std::uint64_t, source> sources_;                        // lock: mutex_
  std::uint64_t next_id_ = 1;                                      // lock: mutex_
};

}  // namespace courier::broker

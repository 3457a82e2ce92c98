// Subscriptions (docs/architecture.md "Subscriptions"): server streams over the
// event log and the derived-changes log, from "earliest", "latest" or a resume
// token.
//
// Each stream reads the log itself (the log is the buffer), one message in
// flight at a time, so a slow subscriber holds back only itself, never
// ingest or other subscribers. A hub thread per topic wakes idle streams when
// the log grows. Every record carries a resume token covering all
// partitions: resuming from it gives no gaps and no repeats.
#ifndef CUSTOPS_INGEST_SUBSCRIPTIONS_SERVICE_H_
#define CUSTOPS_INGEST_SUBSCRIPTIONS_SERVICE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "custops/log/event_log.h"
#include "custops/rpc/gateway.h"
#include "custops/v1/ingest.pb.h"

namespace custops::ingest {

// Something a hub can wake: an open stream.
class Pumpable {
 public:
  virtual ~Pumpable() = default;
  virtual void Pump() = 0;
};

// Wakes the streams of one topic when it grows. Thread-safe.
class SubscriptionHub {
 public:
  // `log` must outlive the hub.
  SubscriptionHub(log::EventLog& log, std::string topic);
  ~SubscriptionHub();
  void Register(std::weak_ptr<Pumpable> stream);
  int64_t open_streams() const;
  void Stop();

 private:
  void Run();
  log::EventLog& log_;
  const std::string topic_;
  mutable absl::Mutex mu_;
  std::vector<std::weak_ptr<Pumpable>> streams_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A customer's current region ("" when unknown), for region-scoped
// subscribers (docs/security.md). Thread-safe.
using RegionLookup = std::function<std::string(const std::string& customer_id)>;

class SubscriptionsService {
 public:
  // `log` must outlive the service. `regions` answers for region-scoped
  // callers; without it they receive only what the stream itself shows
  // (registrations and profile updates name the region).
  explicit SubscriptionsService(log::EventLog& log, RegionLookup regions = nullptr);
  ~SubscriptionsService();

  // Adds custops.v1.Subscriptions' methods (reader role) to `table`.
  void Register(rpc::MethodTable& table);
  void Subscribe(rpc::Call& call, const v1::SubscribeRequest& request,
                 std::shared_ptr<rpc::StreamSink> sink);
  void SubscribeChanges(rpc::Call& call, const v1::SubscribeChangesRequest& request,
                        std::shared_ptr<rpc::StreamSink> sink);

  int64_t open_streams() const;
  // Ends the hubs' threads; open streams then only advance on their own writes.
  void Shutdown();

 private:
  log::EventLog& log_;
  RegionLookup region_lookup_;
  SubscriptionHub events_hub_;
  SubscriptionHub changes_hub_;
};

}  // namespace custops::ingest

#endif  // CUSTOPS_INGEST_SUBSCRIPTIONS_SERVICE_H_

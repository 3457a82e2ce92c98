#include "custops/ingest/subscriptions_service.h"

#include <deque>
#include <functional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "custops/event/payload.h"
#include "custops/event/upcast.h"
#include "custops/projection/token.h"
#include "custops/v1/changes.pb.h"

namespace custops::ingest {
namespace {

constexpr size_t kReadChunk = 256;
// Records examined per Pump before yielding to the hub (bounds a filtered scan).
constexpr int kScanBudget = 20'000;

// Initial next-offsets from "earliest" / "latest" / a resume token.
absl::StatusOr<projection::PositionSet> StartPositions(log::EventLog& log, const std::string& topic,
                                                       const std::string& from) {
  absl::StatusOr<int> partitions = log.PartitionCount(topic);
  if (!partitions.ok()) return partitions.status();
  projection::PositionSet positions;
  positions.set_topic(topic);
  if (from == "earliest") {
    positions.mutable_next_offsets()->Resize(*partitions, 0);
    return positions;
  }
  if (from.empty() || from == "latest") {
    for (int p = 0; p < *partitions; ++p) {
      absl::StatusOr<Offset> end = log.EndOffset(topic, Partition(p));
      if (!end.ok()) return end.status();
      positions.add_next_offsets(end->value());
    }
    return positions;
  }
  absl::StatusOr<projection::PositionSet> token = projection::DecodeToken(from, "from");
  if (!token.ok()) return token.status();
  if (token->topic() != topic) {
    return absl::InvalidArgumentError(
        absl::StrCat("from: a resume token of ", token->topic(), ", not of ", topic));
  }
  if (token->next_offsets_size() > *partitions) {
    return absl::InvalidArgumentError("from: token has more partitions than the topic");
  }
  token->mutable_next_offsets()->Resize(*partitions, 0);
  return token;
}

// A server stream over one topic, written through a transport's sink. The
// sink's cancel callback owns the stream until the transport is done with
// it; the hub holds a weak_ptr, so a wake-up never touches a finished call.
class LogStream final : public Pumpable, public std::enable_shared_from_this<LogStream> {
 public:
  // Fills `out` (event/change + nothing else) from a record; false = skip it.
  using Convert = std::function<bool(const log::LogRecord&, google::protobuf::Message*)>;

  LogStream(log::EventLog& log, projection::PositionSet positions, Convert convert,
            std::unique_ptr<google::protobuf::Message> record)
      : log_(log),
        positions_(std::move(positions)),
        convert_(std::move(convert)),
        record_(std::move(record)) {
    buffers_.resize(positions_.next_offsets_size());
  }

  void Attach(std::shared_ptr<rpc::StreamSink> sink) {
    {
      absl::MutexLock lock(&mu_);
      sink_ = sink;
    }
    sink->OnCancel([self = shared_from_this()] { self->Cancel(); });
  }

  void Pump() override {
    std::shared_ptr<rpc::StreamSink> sink;
    {
      absl::MutexLock lock(&mu_);
      if (sink_ == nullptr || writing_ || finished_) return;
      absl::Status s = NextLocked();
      if (!s.ok()) {
        finished_ = true;
        sink_->Finish(s);
        return;
      }
      if (!has_record_) return;  // caught up: the hub wakes us on the next append
      writing_ = true;
      sink = sink_;
    }
    sink->Write(*record_, [self = shared_from_this()](bool ok) { self->WriteDone(ok); });
  }

  void WriteDone(bool ok) {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      has_record_ = false;
      if (!ok || cancelled_) {
        if (!finished_) {
          finished_ = true;
          sink_->Finish(ok ? absl::CancelledError("cancelled")
                           : absl::CancelledError("stream closed"));
        }
        return;
      }
    }
    Pump();
  }

  void Cancel() {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (!writing_ && !finished_) {
      finished_ = true;
      sink_->Finish(absl::CancelledError("cancelled"));
    }
  }

 private:
  // Finds the next record to send (round robin over partitions), advancing
  // positions past skipped records.
  absl::Status NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const int partitions = positions_.next_offsets_size();
    int budget = kScanBudget;
    while (budget > 0) {
      bool any = false;
      for (int i = 0; i < partitions && budget > 0; ++i) {
        const int p = (cursor_ + i) % partitions;
        std::deque<log::LogRecord>& buffer = buffers_[p];
        if (buffer.empty()) {
          absl::StatusOr<std::vector<log::LogRecord>> chunk = log_.Read(
              positions_.topic(), Partition(p), Offset(positions_.next_offsets(p)), kReadChunk);
          if (!chunk.ok()) return chunk.status();
          for (log::LogRecord& r : *chunk) buffer.push_back(std::move(r));
        }
        if (buffer.empty()) continue;
        any = true;
        log::LogRecord r = std::move(buffer.front());
        buffer.pop_front();
        --budget;
        positions_.set_next_offsets(p, r.offset.value() + 1);
        record_->Clear();
        if (!convert_(r, record_.get())) continue;
        // Every record type (EventRecord, ChangeRecord) has position = 1's
        // shape and resume_token; set them through reflection-free casts.
        v1::Position position;
        position.set_topic(positions_.topic());
        position.set_partition(p);
        position.set_offset(r.offset.value());
        SetPosition(record_.get(), std::move(position), projection::EncodeToken(positions_));
        cursor_ = (p + 1) % partitions;
        has_record_ = true;
        return absl::OkStatus();
      }
      if (!any) break;
    }
    return absl::OkStatus();
  }

  static void SetPosition(google::protobuf::Message* record, v1::Position position,
                          std::string resume_token) {
    if (auto* e = dynamic_cast<v1::EventRecord*>(record)) {
      *e->mutable_position() = std::move(position);
      e->set_resume_token(std::move(resume_token));
    } else if (auto* c = dynamic_cast<v1::ChangeRecord*>(record)) {
      *c->mutable_position() = std::move(position);
      c->set_resume_token(std::move(resume_token));
    }
  }

  log::EventLog& log_;
  absl::Mutex mu_;
  std::shared_ptr<rpc::StreamSink> sink_ ABSL_GUARDED_BY(mu_);
  projection::PositionSet positions_ ABSL_GUARDED_BY(mu_);
  std::vector<std::deque<log::LogRecord>> buffers_ ABSL_GUARDED_BY(mu_);
  Convert convert_;
  std::unique_ptr<google::protobuf::Message> record_;  // serialized by the sink's Write
  int cursor_ ABSL_GUARDED_BY(mu_) = 0;
  bool has_record_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

void Open(log::EventLog& log, SubscriptionHub& hub, const std::string& topic,
          const std::string& from, LogStream::Convert convert,
          std::unique_ptr<google::protobuf::Message> record,
          std::shared_ptr<rpc::StreamSink> sink) {
  absl::StatusOr<projection::PositionSet> positions = StartPositions(log, topic, from);
  if (!positions.ok()) return sink->Finish(positions.status());
  auto stream = std::make_shared<LogStream>(log, std::move(*positions), std::move(convert),
                                            std::move(record));
  stream->Attach(std::move(sink));
  hub.Register(stream);
  stream->Pump();
}

// The customer's current region, for a region-scoped subscriber: learned
// from the registrations and profile updates the stream reads, else asked.
class RegionCache {
 public:
  explicit RegionCache(RegionLookup lookup) : lookup_(std::move(lookup)) {}
  void Learn(const v1::Event& e) {
    if (e.has_customer_registered()) {
      regions_[e.customer_id()] = e.customer_registered().region();
    } else if (e.has_customer_profile_updated() && !e.customer_profile_updated().region().empty()) {
      regions_[e.customer_id()] = e.customer_profile_updated().region();
    }
  }
  std::string RegionOf(const std::string& customer_id) {
    auto it = regions_.find(customer_id);
    if (it != regions_.end()) return it->second;
    return lookup_ ? lookup_(customer_id) : std::string();
  }

 private:
  RegionLookup lookup_;
  absl::flat_hash_map<std::string, std::string> regions_;
};

}  // namespace

SubscriptionHub::SubscriptionHub(log::EventLog& log, std::string topic)
    : log_(log), topic_(std::move(topic)), thread_([this] { Run(); }) {}

SubscriptionHub::~SubscriptionHub() { Stop(); }

void SubscriptionHub::Stop() {
  if (stop_.exchange(true)) return;
  if (thread_.joinable()) thread_.join();
}

void SubscriptionHub::Register(std::weak_ptr<Pumpable> stream) {
  absl::MutexLock lock(&mu_);
  streams_.push_back(std::move(stream));
}

int64_t SubscriptionHub::open_streams() const {
  absl::MutexLock lock(&mu_);
  int64_t n = 0;
  for (const auto& s : streams_) n += s.expired() ? 0 : 1;
  return n;
}

void SubscriptionHub::Run() {
  uint64_t generation = log_.Generation(topic_);
  while (!stop_) {
    {
      // Without a subscriber, wait for one instead of waking at every append
      // (a stale `generation` then pumps the new stream at once).
      absl::MutexLock lock(&mu_);
      auto any = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_.load() || !streams_.empty();
      };
      mu_.AwaitWithTimeout(absl::Condition(&any), absl::Milliseconds(200));
      if (streams_.empty()) continue;
    }
    generation = log_.WaitForAppend(topic_, generation, absl::Now() + absl::Milliseconds(200));
    std::vector<std::shared_ptr<Pumpable>> live;
    {
      absl::MutexLock lock(&mu_);
      std::erase_if(streams_, [](const std::weak_ptr<Pumpable>& s) { return s.expired(); });
      for (const auto& s : streams_) {
        if (auto p = s.lock()) live.push_back(std::move(p));
      }
    }
    for (const auto& s : live) s->Pump();
  }
}

SubscriptionsService::SubscriptionsService(log::EventLog& log, RegionLookup regions)
    : log_(log),
      region_lookup_(std::move(regions)),
      events_hub_(log, std::string(log::kCustomerEvents)),
      changes_hub_(log, std::string(log::kStateChanges)) {}

SubscriptionsService::~SubscriptionsService() { Shutdown(); }

void SubscriptionsService::Shutdown() {
  events_hub_.Stop();
  changes_hub_.Stop();
}

int64_t SubscriptionsService::open_streams() const {
  return events_hub_.open_streams() + changes_hub_.open_streams();
}

void SubscriptionsService::Register(rpc::MethodTable& table) {
  table.Stream<v1::SubscribeRequest>(
      "custops.v1.Subscriptions/Subscribe", rpc::Access::kReader,
      [this](rpc::Call& call, const v1::SubscribeRequest& r, std::shared_ptr<rpc::StreamSink> s) {
        Subscribe(call, r, std::move(s));
      });
  table.Stream<v1::SubscribeChangesRequest>(
      "custops.v1.Subscriptions/SubscribeChanges", rpc::Access::kReader,
      [this](rpc::Call& call, const v1::SubscribeChangesRequest& r,
             std::shared_ptr<rpc::StreamSink> s) { SubscribeChanges(call, r, std::move(s)); });
}

void SubscriptionsService::Subscribe(rpc::Call& call, const v1::SubscribeRequest& request,
                                     std::shared_ptr<rpc::StreamSink> sink) {
  absl::flat_hash_set<int> types;
  for (int i = 0; i < request.event_types_size(); ++i) {
    std::optional<v1::Event::PayloadCase> c = event::PayloadCaseFromName(request.event_types(i));
    if (!c) {
      return sink->Finish(absl::InvalidArgumentError(absl::StrCat(
          "event_types[", i, "]: unknown event type \"", request.event_types(i), "\"")));
    }
    types.insert(*c);
  }
  absl::flat_hash_set<std::string> customers(request.customer_ids().begin(),
                                             request.customer_ids().end());
  std::shared_ptr<RegionCache> regions;
  std::optional<std::vector<std::string>> scope = call.identity().regions;
  if (scope) regions = std::make_shared<RegionCache>(region_lookup_);
  Open(
      log_, events_hub_, std::string(log::kCustomerEvents), request.from(),
      [types = std::move(types), customers = std::move(customers), regions,
       scope = std::move(scope)](const log::LogRecord& r, google::protobuf::Message* out) {
        if (!customers.empty() && !customers.contains(r.key)) return false;
        auto* record = static_cast<v1::EventRecord*>(out);
        if (!record->mutable_event()->ParseFromString(r.value)) return false;
        // Subscribers get the current schema version (docs/schema-evolution.md);
        // a record of a newer one is passed on as it is.
        (void)event::Upcast(*record->mutable_event());
        if (regions) {
          regions->Learn(record->event());
          if (!std::binary_search(scope->begin(), scope->end(), regions->RegionOf(r.key))) {
            return false;
          }
        }
        return types.empty() || types.contains(record->event().payload_case());
      },
      std::make_unique<v1::EventRecord>(), std::move(sink));
}

void SubscriptionsService::SubscribeChanges(rpc::Call& call,
                                            const v1::SubscribeChangesRequest& request,
                                            std::shared_ptr<rpc::StreamSink> sink) {
  const google::protobuf::OneofDescriptor* detail =
      v1::StateChange::descriptor()->FindOneofByName("detail");
  absl::flat_hash_set<int> types;
  for (int i = 0; i < request.change_types_size(); ++i) {
    const std::string& name = request.change_types(i);
    const google::protobuf::FieldDescriptor* f = nullptr;
    for (int j = 0; j < detail->field_count(); ++j) {
      const google::protobuf::FieldDescriptor* candidate = detail->field(j);
      if (candidate->name() == name || candidate->message_type()->name() == name) f = candidate;
    }
    if (f == nullptr) {
      return sink->Finish(absl::InvalidArgumentError(
          absl::StrCat("change_types[", i, "]: unknown change type \"", name, "\"")));
    }
    types.insert(f->number());
  }
  absl::flat_hash_set<std::string> customers(request.customer_ids().begin(),
                                             request.customer_ids().end());
  std::optional<std::vector<std::string>> scope = call.identity().regions;
  Open(
      log_, changes_hub_, std::string(log::kStateChanges), request.from(),
      [types = std::move(types), customers = std::move(customers), lookup = region_lookup_,
       scope = std::move(scope)](const log::LogRecord& r, google::protobuf::Message* out) {
        if (!customers.empty() && !customers.contains(r.key)) return false;
        if (scope && !std::binary_search(scope->begin(), scope->end(),
                                         lookup ? lookup(r.key) : std::string())) {
          return false;
        }
        auto* record = static_cast<v1::ChangeRecord*>(out);
        if (!record->mutable_change()->ParseFromString(r.value)) return false;
        return types.empty() || types.contains(record->change().detail_case());
      },
      std::make_unique<v1::ChangeRecord>(), std::move(sink));
}

}  // namespace custops::ingest

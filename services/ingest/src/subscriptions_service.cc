#include "custops/ingest/subscriptions_service.h"

#include <deque>
#include <functional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "custops/event/payload.h"
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

// A server stream over one topic. The gRPC reactor (below) owns a shared_ptr
// to it; the hub holds a weak_ptr, so a wake-up never touches a finished call.
template <typename RecordT>
class LogStream final : public Pumpable {
 public:
  // Fills `out` (event/change + nothing else) from a record; false = skip it.
  using Convert = std::function<bool(const log::LogRecord&, RecordT*)>;

  LogStream(log::EventLog& log, projection::PositionSet positions, Convert convert)
      : log_(log), positions_(std::move(positions)), convert_(std::move(convert)) {
    buffers_.resize(positions_.next_offsets_size());
  }

  void set_reactor(grpc::ServerWriteReactor<RecordT>* reactor) {
    absl::MutexLock lock(&mu_);
    reactor_ = reactor;
  }

  void Pump() override {
    grpc::ServerWriteReactor<RecordT>* reactor;
    {
      absl::MutexLock lock(&mu_);
      if (reactor_ == nullptr || writing_ || finished_) return;
      absl::Status s = NextLocked();
      if (!s.ok()) {
        finished_ = true;
        reactor_->Finish(
            grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message())));
        return;
      }
      if (!has_record_) return;  // caught up: the hub wakes us on the next append
      writing_ = true;
      reactor = reactor_;
    }
    reactor->StartWrite(&record_);
  }

  void WriteDone(bool ok) {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      has_record_ = false;
      if (!ok || cancelled_) {
        if (!finished_) {
          finished_ = true;
          reactor_->Finish(ok ? grpc::Status::CANCELLED
                              : grpc::Status(grpc::StatusCode::CANCELLED, "stream closed"));
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
      reactor_->Finish(grpc::Status::CANCELLED);
    }
  }

  void Done() {
    absl::MutexLock lock(&mu_);
    reactor_ = nullptr;
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
        record_.Clear();
        if (!convert_(r, &record_)) continue;
        v1::Position* pos = record_.mutable_position();
        pos->set_topic(positions_.topic());
        pos->set_partition(p);
        pos->set_offset(r.offset.value());
        record_.set_resume_token(projection::EncodeToken(positions_));
        cursor_ = (p + 1) % partitions;
        has_record_ = true;
        return absl::OkStatus();
      }
      if (!any) break;
    }
    return absl::OkStatus();
  }

  log::EventLog& log_;
  absl::Mutex mu_;
  grpc::ServerWriteReactor<RecordT>* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
  projection::PositionSet positions_ ABSL_GUARDED_BY(mu_);
  std::vector<std::deque<log::LogRecord>> buffers_ ABSL_GUARDED_BY(mu_);
  Convert convert_;
  RecordT record_;  // owned by gRPC while writing_
  int cursor_ ABSL_GUARDED_BY(mu_) = 0;
  bool has_record_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

template <typename RecordT>
class StreamReactor final : public grpc::ServerWriteReactor<RecordT> {
 public:
  explicit StreamReactor(std::shared_ptr<LogStream<RecordT>> stream) : stream_(std::move(stream)) {
    stream_->set_reactor(this);
  }
  void OnWriteDone(bool ok) override { stream_->WriteDone(ok); }
  void OnCancel() override { stream_->Cancel(); }
  void OnDone() override {
    stream_->Done();
    delete this;
  }

 private:
  std::shared_ptr<LogStream<RecordT>> stream_;
};

// A stream that only reports why it cannot start.
template <typename RecordT>
class FailedStream final : public grpc::ServerWriteReactor<RecordT> {
 public:
  explicit FailedStream(const absl::Status& s) {
    this->Finish(grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message())));
  }
  void OnDone() override { delete this; }
};

template <typename RecordT>
grpc::ServerWriteReactor<RecordT>* Open(log::EventLog& log, SubscriptionHub& hub,
                                        const std::string& topic, const std::string& from,
                                        typename LogStream<RecordT>::Convert convert) {
  absl::StatusOr<projection::PositionSet> positions = StartPositions(log, topic, from);
  if (!positions.ok()) return new FailedStream<RecordT>(positions.status());
  auto stream =
      std::make_shared<LogStream<RecordT>>(log, std::move(*positions), std::move(convert));
  auto* reactor = new StreamReactor<RecordT>(stream);
  hub.Register(stream);
  stream->Pump();
  return reactor;
}

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

SubscriptionsService::SubscriptionsService(log::EventLog& log)
    : log_(log),
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

grpc::ServerWriteReactor<v1::EventRecord>* SubscriptionsService::Subscribe(
    grpc::CallbackServerContext* /*context*/, const v1::SubscribeRequest* request) {
  absl::flat_hash_set<int> types;
  absl::Status bad;
  for (int i = 0; i < request->event_types_size(); ++i) {
    std::optional<v1::Event::PayloadCase> c = event::PayloadCaseFromName(request->event_types(i));
    if (!c) {
      bad = absl::InvalidArgumentError(absl::StrCat("event_types[", i, "]: unknown event type \"",
                                                    request->event_types(i), "\""));
      break;
    }
    types.insert(*c);
  }
  absl::flat_hash_set<std::string> customers(request->customer_ids().begin(),
                                             request->customer_ids().end());
  if (!bad.ok()) return new FailedStream<v1::EventRecord>(bad);
  return Open<v1::EventRecord>(
      log_, events_hub_, std::string(log::kCustomerEvents), request->from(),
      [types = std::move(types), customers = std::move(customers)](const log::LogRecord& r,
                                                                   v1::EventRecord* out) {
        if (!customers.empty() && !customers.contains(r.key)) return false;
        if (!out->mutable_event()->ParseFromString(r.value)) return false;
        return types.empty() || types.contains(out->event().payload_case());
      });
}

grpc::ServerWriteReactor<v1::ChangeRecord>* SubscriptionsService::SubscribeChanges(
    grpc::CallbackServerContext* /*context*/, const v1::SubscribeChangesRequest* request) {
  const google::protobuf::OneofDescriptor* detail =
      v1::StateChange::descriptor()->FindOneofByName("detail");
  absl::flat_hash_set<int> types;
  for (int i = 0; i < request->change_types_size(); ++i) {
    const std::string& name = request->change_types(i);
    const google::protobuf::FieldDescriptor* f = nullptr;
    for (int j = 0; j < detail->field_count(); ++j) {
      const google::protobuf::FieldDescriptor* candidate = detail->field(j);
      if (candidate->name() == name || candidate->message_type()->name() == name) f = candidate;
    }
    if (f == nullptr) {
      return new FailedStream<v1::ChangeRecord>(absl::InvalidArgumentError(
          absl::StrCat("change_types[", i, "]: unknown change type \"", name, "\"")));
    }
    types.insert(f->number());
  }
  absl::flat_hash_set<std::string> customers(request->customer_ids().begin(),
                                             request->customer_ids().end());
  return Open<v1::ChangeRecord>(
      log_, changes_hub_, std::string(log::kStateChanges), request->from(),
      [types = std::move(types), customers = std::move(customers)](const log::LogRecord& r,
                                                                   v1::ChangeRecord* out) {
        if (!customers.empty() && !customers.contains(r.key)) return false;
        if (!out->mutable_change()->ParseFromString(r.value)) return false;
        return types.empty() || types.contains(out->change().detail_case());
      });
}

}  // namespace custops::ingest

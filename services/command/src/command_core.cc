#include "custops/command/command_core.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/event/upcast.h"
#include "custops/log/partitioner.h"
#include "custops/projection/token.h"
#include "spdlog/spdlog.h"

namespace custops::command {
namespace {

constexpr size_t kMaxIdBytes = 128;
constexpr char kEventIdPrefix[] = "cmd-";
constexpr absl::Duration kIdleWait = absl::Milliseconds(50);

absl::Status CheckId(const char* field, const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  if (id.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be at most ", kMaxIdBytes, " bytes, got ", id.size()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string CommandEventId(std::string_view customer_id, std::string_view request_id) {
  // Length-prefixed so ("ab", "c") and ("a", "bc") differ.
  std::string input = absl::StrCat(customer_id.size(), ":");
  input.append(customer_id);
  input.append(request_id);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  // OpenSSL 3's one-shot SHA256() looks the algorithm up in the provider
  // store on every call; fetched once, the digest costs a few microseconds less.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned int size = 0;
  if (sha256 == nullptr ||
      EVP_Digest(input.data(), input.size(), digest, &size, sha256, nullptr) != 1) {
    SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  }
  return absl::StrCat(kEventIdPrefix,
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(digest), SHA256_DIGEST_LENGTH / 2)));
}

absl::StatusOr<std::unique_ptr<CommandCore>> CommandCore::Start(log::EventLog& log,
                                                                ingest::Ingestor& ingestor,
                                                                const base::Clock& clock,
                                                                CommandOptions options) {
  ASSIGN_OR_RETURN(int partitions, log.PartitionCount(log::kCustomerEvents));
  std::unique_ptr<CommandCore> core(
      new CommandCore(log, ingestor, clock, std::move(options), partitions));
  core->follower_ = std::thread([c = core.get()] { c->Follow(); });
  return core;
}

CommandCore::CommandCore(log::EventLog& log, ingest::Ingestor& ingestor, const base::Clock& clock,
                         CommandOptions options, int partitions)
    : log_(log),
      ingestor_(ingestor),
      clock_(clock),
      options_(std::move(options)),
      partitions_(partitions),
      applied_(partitions, 0) {}

CommandCore::~CommandCore() { Stop(); }

void CommandCore::Stop() {
  stop_ = true;
  if (follower_.joinable()) follower_.join();
  absl::MutexLock lock(&applied_mu_);
  stopped_ = true;
}

CommandCore::Entry& CommandCore::EntryFor(const std::string& customer_id) {
  absl::MutexLock lock(&entries_mu_);
  std::unique_ptr<Entry>& e = entries_[customer_id];
  if (e == nullptr) {
    e = std::make_unique<Entry>();
    absl::MutexLock entry_lock(&e->mu);
    e->aggregate.customer_id = customer_id;
  }
  return *e;
}

void CommandCore::Follow() {
  while (!stop_) {
    const uint64_t generation = log_.Generation(log::kCustomerEvents);
    size_t read = 0;
    for (int p = 0; p < partitions_ && !stop_; ++p) read += FollowPartition(p);
    if (read > 0) continue;
    {
      absl::MutexLock lock(&applied_mu_);
      caught_up_ = true;
    }
    log_.WaitForAppend(log::kCustomerEvents, generation, absl::Now() + kIdleWait);
  }
}

size_t CommandCore::FollowPartition(int partition) {
  int64_t from;
  {
    absl::MutexLock lock(&applied_mu_);
    from = applied_[partition];
  }
  // Most wake-ups concern one partition: skip the others without a read.
  absl::StatusOr<Offset> end = log_.EndOffset(log::kCustomerEvents, Partition(partition));
  if (end.ok() && end->value() <= from) return 0;
  absl::StatusOr<std::vector<log::LogRecord>> records =
      log_.Read(log::kCustomerEvents, Partition(partition), Offset(from), options_.read_batch);
  if (!records.ok()) {
    spdlog::warn("command view: reading partition {}: {}", partition, records.status().ToString());
    return 0;
  }
  v1::Event event;
  for (const log::LogRecord& r : *records) {
    // Records that do not decode are the projections' dead letters; the
    // command view has nothing to fold from them.
    if (!event.ParseFromString(r.value) || event.customer_id().empty()) continue;
    if (!event::Upcast(event).ok()) continue;  // a newer schema: a dead letter to projections
    Entry& entry = EntryFor(event.customer_id());
    absl::MutexLock lock(&entry.mu);
    if (entry.command_events.contains(event.event_id())) continue;  // folded by Execute
    // Events Evolve refuses (about unknown ids, say) leave the view as it is.
    (void)domain::Evolve(entry.aggregate, event);
    if (event.event_id().rfind(kEventIdPrefix, 0) == 0) {
      entry.command_events.emplace(event.event_id(), std::make_pair(partition, r.offset.value()));
    }
    folded_++;
  }
  if (!records->empty()) {
    absl::MutexLock lock(&applied_mu_);
    // Execute may have moved it past this batch already (see there).
    applied_[partition] = std::max(applied_[partition], records->back().offset.value() + 1);
  }
  return records->size();
}

absl::Status CommandCore::WaitApplied(int partition, int64_t end, absl::Time deadline) {
  absl::MutexLock lock(&applied_mu_);
  auto reached = [&] { return stopped_ || applied_[partition] >= end; };
  applied_mu_.AwaitWithDeadline(absl::Condition(&reached), deadline);
  if (stopped_) return absl::UnavailableError("the command service is stopping");
  if (applied_[partition] < end) {
    return absl::UnavailableError(absl::StrCat(
        "the command view is catching up with the log (partition ", partition, " at offset ",
        applied_[partition], " of ", end, "); retry with the same request_id"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::CommandResponse> CommandCore::Execute(const CommandContext& context,
                                                         const domain::Command& command,
                                                         absl::Time deadline) {
  auto refuse = [this](absl::Status s) {
    refused_++;
    return s;
  };
  if (absl::Status s = CheckId("request_id", context.request_id); !s.ok()) return refuse(s);
  if (absl::Status s = CheckId("customer_id", context.customer_id); !s.ok()) return refuse(s);
  if (!context.actor_id.empty()) {
    if (absl::Status s = CheckId("actor_id", context.actor_id); !s.ok()) return refuse(s);
  }
  const int partition = log::PartitionForKey(context.customer_id, partitions_).value();
  absl::StatusOr<Offset> end = log_.EndOffset(log::kCustomerEvents, Partition(partition));
  if (!end.ok()) return refuse(end.status());
  if (absl::Status s = WaitApplied(partition, end->value(), deadline); !s.ok()) {
    return refuse(s);
  }

  const std::string event_id = CommandEventId(context.customer_id, context.request_id);
  Entry& entry = EntryFor(context.customer_id);
  absl::MutexLock lock(&entry.mu);
  if (auto it = entry.command_events.find(event_id); it != entry.command_events.end()) {
    duplicates_++;
    v1::CommandResponse response;
    response.set_event_id(event_id);
    response.set_duplicate(true);
    response.mutable_position()->set_topic(std::string(log::kCustomerEvents));
    response.mutable_position()->set_partition(it->second.first);
    response.mutable_position()->set_offset(it->second.second);
    projection::PositionSet token;
    token.set_topic(std::string(log::kCustomerEvents));
    token.mutable_next_offsets()->Resize(partitions_, 0);
    token.set_next_offsets(it->second.first, it->second.second + 1);
    response.set_consistency_token(projection::EncodeToken(token));
    return response;
  }

  const absl::Time now = context.occurred_at.value_or(clock_.Now());
  absl::StatusOr<v1::Event> event = domain::Decide(entry.aggregate, command, now, options_.rules);
  if (!event.ok()) return refuse(event.status());
  event->set_event_id(event_id);
  event->set_source(context.source);
  event->set_actor_id(context.actor_id);
  // A request in the version-1 shape ("华东/上海" as the region) is split as
  // the log's readers split it (docs/schema-evolution.md); the event is
  // written in the current version.
  if (absl::StatusOr<bool> upcast = event::Upcast(*event); !upcast.ok()) {
    return refuse(upcast.status());
  }
  // Lengths, UTF-8 and enum ranges of the fields Decide passes through.
  if (absl::Status s = event::ValidateEvent(*event, options_.validation, "request"); !s.ok()) {
    return refuse(s);
  }

  v1::AppendRequest append;
  *append.add_events() = *event;
  absl::StatusOr<v1::AppendResponse> appended = ingestor_.Append(append);
  if (!appended.ok()) return refuse(appended.status());
  const v1::AppendResult& result = appended->results(0);
  if (!result.duplicate()) {
    // Fold now, so the customer's next command sees it; the follower skips it.
    if (absl::Status s = domain::Evolve(entry.aggregate, *event); !s.ok()) {
      spdlog::error("command view: folding its own event {}: {}", event_id, s.ToString());
    }
    entry.command_events.emplace(
        event_id, std::make_pair(result.position().partition(), result.position().offset()));
    accepted_++;
    // When everything before this event was folded already, the view now
    // covers it too: the next command on the partition need not wait for
    // the follower to read it back.
    absl::MutexLock applied_lock(&applied_mu_);
    int64_t& applied = applied_[result.position().partition()];
    if (applied == result.position().offset()) applied = result.position().offset() + 1;
  } else {
    // Another instance appended this request first; the follower folds it.
    duplicates_++;
  }
  v1::CommandResponse response;
  response.set_event_id(event_id);
  response.set_duplicate(result.duplicate());
  *response.mutable_position() = result.position();
  response.set_consistency_token(appended->consistency_token());
  return response;
}

CommandStats CommandCore::stats() const {
  CommandStats s;
  s.accepted = accepted_;
  s.duplicates = duplicates_;
  s.refused = refused_;
  s.applied = folded_;
  {
    absl::MutexLock lock(&entries_mu_);
    s.customers = static_cast<int64_t>(entries_.size());
  }
  absl::MutexLock lock(&applied_mu_);
  s.caught_up = caught_up_;
  return s;
}

}  // namespace custops::command

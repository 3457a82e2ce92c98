#include "custops/log/kafka_group.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "custops/base/status_macros.h"
#include "kafka/rdkafka_handles.h"

namespace custops::log {
namespace {

using internal::ConfPtr;
using internal::EventPtr;
using internal::FromKafka;
using internal::KafkaPtr;
using internal::PartitionListPtr;
using internal::QueuePtr;

int Millis(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

absl::Status Set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(absl::StrCat("kafka property ", name, ": ", err));
  }
  return absl::OkStatus();
}

absl::Status CheckCommon(const KafkaGroupOptions& o) {
  if (o.bootstrap_servers.empty()) {
    return absl::InvalidArgumentError("kafka.bootstrap: required");
  }
  if (o.group_id.empty()) return absl::InvalidArgumentError("kafka group: required");
  return absl::OkStatus();
}

std::vector<Partition> PartitionsOf(const rd_kafka_topic_partition_list_t* list,
                                    std::string_view topic) {
  std::vector<Partition> out;
  for (int i = 0; i < list->cnt; ++i) {
    if (topic == list->elems[i].topic) out.push_back(Partition(list->elems[i].partition));
  }
  std::sort(out.begin(), out.end(), [](Partition a, Partition b) { return a.value() < b.value(); });
  return out;
}

class KafkaGroupMemberImpl final : public KafkaGroupMember {
 public:
  KafkaGroupMemberImpl(KafkaGroupOptions options, GroupCallbacks callbacks)
      : options_(std::move(options)), callbacks_(std::move(callbacks)) {}
  ~KafkaGroupMemberImpl() override { (void)Close(); }

  absl::Status Init() {
    ConfPtr conf(rd_kafka_conf_new());
    const int session = Millis(options_.session_timeout);
    for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
             {"bootstrap.servers", options_.bootstrap_servers},
             {"group.id", options_.group_id},
             {"client.id", options_.member_name},
             {"partition.assignment.strategy", "cooperative-sticky"},
             {"enable.auto.commit", "false"},
             {"enable.auto.offset.store", "false"},
             {"auto.offset.reset", "latest"},
             {"session.timeout.ms", absl::StrCat(session)},
             {"heartbeat.interval.ms", absl::StrCat(std::max(100, session / 6))},
             // The member never fetches (partitions are paused): keep the
             // prefetch queue small in case a fetch starts before the pause.
             {"queued.max.messages.kbytes", "64"},
         }) {
      RETURN_IF_ERROR(Set(conf.get(), k, v));
    }
    for (const auto& [k, v] : options_.properties) RETURN_IF_ERROR(Set(conf.get(), k, v));
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaGroupMemberImpl::RebalanceThunk);
    char err[512];
    rk_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof(err)));
    if (rk_ == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", err));
    conf.release();  // owned by rk_ now
    rd_kafka_poll_set_consumer(rk_.get());
    PartitionListPtr topics(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(topics.get(), options_.topic.c_str(), RD_KAFKA_PARTITION_UA);
    RETURN_IF_ERROR(FromKafka(rd_kafka_subscribe(rk_.get(), topics.get()),
                              absl::StrCat("subscribe ", options_.topic)));
    running_ = true;
    thread_ = std::thread([this] { PollLoop(); });
    return absl::OkStatus();
  }

  std::vector<Partition> assignment() const override {
    absl::MutexLock lock(&mu_);
    return std::vector<Partition>(assigned_.begin(), assigned_.end());
  }

  absl::Status Close() override {
    {
      absl::MutexLock lock(&close_mu_);
      if (closed_) return absl::OkStatus();
      closed_ = true;
    }
    running_ = false;
    if (thread_.joinable()) thread_.join();
    if (rk_ == nullptr) return absl::OkStatus();
    // Leaves the group; the rebalance callback runs here with a revoke.
    absl::Status s = FromKafka(rd_kafka_consumer_close(rk_.get()), "leave consumer group");
    std::vector<Partition> left = assignment();
    if (!left.empty()) Revoked(left);
    rk_.reset();
    return s;
  }

 private:
  static void RebalanceThunk(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<KafkaGroupMemberImpl*>(opaque)->Rebalance(rk, err, partitions);
  }

  void Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* partitions) {
    const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
    const std::vector<Partition> ps = PartitionsOf(partitions, options_.topic);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      // Start at the end: nothing is fetched anyway once paused.
      for (int i = 0; i < partitions->cnt; ++i) partitions->elems[i].offset = RD_KAFKA_OFFSET_END;
      if (cooperative) {
        internal::ErrorPtr e(rd_kafka_incremental_assign(rk, partitions));
        if (e)
          spdlog::error("group {}: assign: {}", options_.group_id, rd_kafka_error_string(e.get()));
      } else {
        rd_kafka_assign(rk, partitions);
      }
      rd_kafka_pause_partitions(rk, partitions);
      {
        absl::MutexLock lock(&mu_);
        for (Partition p : ps) assigned_.insert(p.value());
      }
      spdlog::info("group {}: {} assigned {} partition(s)", options_.group_id, options_.member_name,
                   ps.size());
      if (callbacks_.on_assign && !ps.empty()) callbacks_.on_assign(ps);
    } else {
      // Revoke (or an error that loses the assignment): stop first, then give up.
      Revoked(ps);
      if (cooperative) {
        internal::ErrorPtr e(rd_kafka_incremental_unassign(rk, partitions));
        (void)e;
      } else {
        rd_kafka_assign(rk, nullptr);
      }
    }
  }

  void Revoked(const std::vector<Partition>& ps) {
    if (ps.empty()) return;
    spdlog::info("group {}: {} revoked {} partition(s)", options_.group_id, options_.member_name,
                 ps.size());
    if (callbacks_.on_revoke) callbacks_.on_revoke(ps);
    absl::MutexLock lock(&mu_);
    for (Partition p : ps) assigned_.erase(p.value());
  }

  void PollLoop() {
    while (running_) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), 100);
      if (m == nullptr) continue;
      internal::MessagePtr message(m);
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("group {}: {}", options_.group_id, rd_kafka_message_errstr(m));
      }
    }
  }

  KafkaGroupOptions options_;
  GroupCallbacks callbacks_;
  KafkaPtr rk_;
  std::atomic<bool> running_{false};
  std::thread thread_;
  mutable absl::Mutex mu_;
  std::set<int> assigned_ ABSL_GUARDED_BY(mu_);
  absl::Mutex close_mu_;
  bool closed_ ABSL_GUARDED_BY(close_mu_) = false;
};

class KafkaGroupDirectoryImpl final : public KafkaGroupDirectory {
 public:
  explicit KafkaGroupDirectoryImpl(KafkaGroupOptions options) : options_(std::move(options)) {}

  absl::Status Init() {
    ConfPtr conf(rd_kafka_conf_new());
    RETURN_IF_ERROR(Set(conf.get(), "bootstrap.servers", options_.bootstrap_servers));
    RETURN_IF_ERROR(Set(conf.get(), "client.id", "custops-directory"));
    for (const auto& [k, v] : options_.properties) RETURN_IF_ERROR(Set(conf.get(), k, v));
    char err[512];
    rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof(err)));
    if (rk_ == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka admin: ", err));
    conf.release();
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> Owners(std::string_view group_id, std::string_view topic,
                                                  int partitions) override {
    QueuePtr queue(rd_kafka_queue_new(rk_.get()));
    internal::AdminOptionsPtr admin_options(
        rd_kafka_AdminOptions_new(rk_.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS));
    char err[512];
    rd_kafka_AdminOptions_set_request_timeout(admin_options.get(), Millis(options_.request_timeout),
                                              err, sizeof(err));
    const std::string group(group_id);
    const char* groups[] = {group.c_str()};
    rd_kafka_DescribeConsumerGroups(rk_.get(), groups, 1, admin_options.get(), queue.get());
    EventPtr event(rd_kafka_queue_poll(queue.get(), Millis(options_.request_timeout) + 1000));
    if (event == nullptr) return absl::UnavailableError("describe consumer group: timed out");
    RETURN_IF_ERROR(FromKafka(rd_kafka_event_error(event.get()), "describe consumer group"));
    const rd_kafka_DescribeConsumerGroups_result_t* result =
        rd_kafka_event_DescribeConsumerGroups_result(event.get());
    if (result == nullptr) return absl::InternalError("describe consumer group: no result");
    size_t count = 0;
    const rd_kafka_ConsumerGroupDescription_t** descriptions =
        rd_kafka_DescribeConsumerGroups_result_groups(result, &count);
    std::vector<std::string> owners(partitions);
    for (size_t g = 0; g < count; ++g) {
      const rd_kafka_ConsumerGroupDescription_t* d = descriptions[g];
      if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(d)) {
        return FromKafka(rd_kafka_error_code(e), "describe consumer group");
      }
      const size_t members = rd_kafka_ConsumerGroupDescription_member_count(d);
      for (size_t m = 0; m < members; ++m) {
        const rd_kafka_MemberDescription_t* member = rd_kafka_ConsumerGroupDescription_member(d, m);
        const rd_kafka_MemberAssignment_t* assignment =
            rd_kafka_MemberDescription_assignment(member);
        if (assignment == nullptr) continue;
        const rd_kafka_topic_partition_list_t* list =
            rd_kafka_MemberAssignment_partitions(assignment);
        if (list == nullptr) continue;
        for (Partition p : PartitionsOf(list, topic)) {
          if (p.value() >= 0 && p.value() < partitions) {
            owners[p.value()] = rd_kafka_MemberDescription_client_id(member);
          }
        }
      }
    }
    return owners;
  }

 private:
  KafkaGroupOptions options_;
  KafkaPtr rk_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaGroupMember>> KafkaGroupMember::Join(
    const KafkaGroupOptions& options, GroupCallbacks callbacks) {
  RETURN_IF_ERROR(CheckCommon(options));
  if (options.topic.empty()) return absl::InvalidArgumentError("kafka group topic: required");
  if (options.member_name.empty()) {
    return absl::InvalidArgumentError("kafka group member name: required");
  }
  auto member = std::make_unique<KafkaGroupMemberImpl>(options, std::move(callbacks));
  RETURN_IF_ERROR(member->Init());
  return member;
}

absl::StatusOr<std::unique_ptr<KafkaGroupDirectory>> KafkaGroupDirectory::Open(
    const KafkaGroupOptions& options) {
  if (options.bootstrap_servers.empty()) {
    return absl::InvalidArgumentError("kafka.bootstrap: required");
  }
  auto directory = std::make_unique<KafkaGroupDirectoryImpl>(options);
  RETURN_IF_ERROR(directory->Init());
  return directory;
}

}  // namespace custops::log

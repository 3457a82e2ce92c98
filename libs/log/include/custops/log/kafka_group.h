// Projection instances sharing a topic's partitions through a Kafka consumer
// group, used ONLY to learn who owns which partition: the group's committed
// offsets are never read or written (offsets live in each instance's RocksDB
// with its state, docs/architecture.md "Guarantees"), and the member fetches no
// records (its assigned partitions are paused; reads go through the EventLog).
//
//   ASSIGN_OR_RETURN(auto member, KafkaGroupMember::Join(
//       {.bootstrap_servers = "127.0.0.1:9092", .group_id = "custops.lifecycle",
//        .topic = std::string(kCustomerEvents), .member_name = "127.0.0.1:50052"},
//       {.on_assign = [&](auto ps) { (void)rt->Assign(ps); },
//        .on_revoke = [&](auto ps) { rt->Revoke(ps); }}));
//   ...
//   RETURN_IF_ERROR(member->Close());  // revokes everything, leaves the group
//
//   ASSIGN_OR_RETURN(auto directory, KafkaGroupDirectory::Open({...}));
//   ASSIGN_OR_RETURN(std::vector<std::string> owners,
//                    directory->Owners("custops.lifecycle", kCustomerEvents, 12));
//
// The member's `member_name` becomes its librdkafka client.id, which the
// group coordinator reports for every member in DescribeConsumerGroups
// together with its assignment: that is how any process finds a partition's
// owner (the name is the owner's advertised gRPC address). No registry topic.
// The assignor is cooperative-sticky: a rebalance moves only the partitions
// that must move; the others keep being served.
#ifndef CUSTOPS_LOG_KAFKA_GROUP_H_
#define CUSTOPS_LOG_KAFKA_GROUP_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "custops/base/types.h"

namespace custops::log {

// A topic of ONE partition that carries no records: the consumer group of a
// projection that runs as a single active instance (value, review) subscribes
// to it, and the member the group assigns its partition to is the leader.
// The sticky assignor keeps it there while that member lives (a joining
// standby does not take it over); when the leader leaves or its session times
// out, the group hands it to a standby (docs/kafka.md).
inline constexpr std::string_view kElectionTopic = "custops.election.v1";

struct KafkaGroupOptions {
  // host:port[,host:port...]. Required.
  std::string bootstrap_servers;
  // The consumer group (one per projection). Required.
  std::string group_id;
  // The topic whose partitions are shared. Required.
  std::string topic;
  // This member's name as others see it (its advertised gRPC address);
  // becomes client.id. Required.
  std::string member_name;
  // How long a member that stopped heart-beating (a crash) keeps its
  // partitions (session.timeout.ms; the broker's minimum is 6 s by default).
  // Default: 6 s
  absl::Duration session_timeout = absl::Seconds(6);
  // Upper bound on DescribeConsumerGroups and on Close.
  // Default: 10 s
  absl::Duration request_timeout = absl::Seconds(10);
  // Extra librdkafka properties (security.protocol, ssl.*, ...).
  std::vector<std::pair<std::string, std::string>> properties = {};
};

struct GroupCallbacks {
  // Called on the member's poll thread with partitions newly assigned /
  // about to be taken away. on_revoke must return only when nothing more is
  // applied to those partitions (the group hands them over when it returns).
  std::function<void(const std::vector<Partition>&)> on_assign;
  std::function<void(const std::vector<Partition>&)> on_revoke;
};

class KafkaGroupMember {
 public:
  // Subscribes and starts the poll thread; callbacks come from it. UNAVAILABLE
  // / INVALID_ARGUMENT when librdkafka refuses the configuration.
  static absl::StatusOr<std::unique_ptr<KafkaGroupMember>> Join(const KafkaGroupOptions& options,
                                                                GroupCallbacks callbacks);
  virtual ~KafkaGroupMember() = default;

  // The partitions this member holds now. Thread-safe.
  virtual std::vector<Partition> assignment() const = 0;

  // Revokes everything (on_revoke), leaves the group and stops the thread.
  // Idempotent. The destructor calls it.
  virtual absl::Status Close() = 0;
};

class KafkaGroupDirectory {
 public:
  // An admin client on the cluster.
  static absl::StatusOr<std::unique_ptr<KafkaGroupDirectory>> Open(
      const KafkaGroupOptions& options);
  virtual ~KafkaGroupDirectory() = default;

  // For each partition 0..partitions-1 of `topic`, the member_name of the
  // group member that holds it, "" when none does (no member, or a rebalance
  // in progress). UNAVAILABLE when the coordinator cannot be asked.
  // Thread-safe.
  virtual absl::StatusOr<std::vector<std::string>> Owners(std::string_view group_id,
                                                          std::string_view topic,
                                                          int partitions) = 0;
};

}  // namespace custops::log

#endif  // CUSTOPS_LOG_KAFKA_GROUP_H_

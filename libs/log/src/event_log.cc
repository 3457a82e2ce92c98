#include "custops/log/event_log.h"

#include <optional>
#include <string>

namespace custops::log {
namespace {

// Reads through EventLog::Read; waits for the topic's generation to move past
// the one seen before the first Read since the previous Wait, so an append
// made while the partitions were being read still wakes it.
class PlainReader final : public LogReader {
 public:
  PlainReader(const EventLog& log, std::string_view topic) : log_(log), topic_(topic) {}

  absl::StatusOr<std::vector<LogRecord>> Read(Partition partition, Offset from,
                                              size_t max_records) override {
    if (!seen_) seen_ = log_.Generation(topic_);
    return log_.Read(topic_, partition, from, max_records);
  }

  void Wait(absl::Time deadline) override {
    log_.WaitForAppend(topic_, seen_.value_or(log_.Generation(topic_)), deadline);
    seen_.reset();
  }

  void Forget(Partition /*partition*/) override {}

 private:
  const EventLog& log_;
  const std::string topic_;
  std::optional<uint64_t> seen_;
};

}  // namespace

absl::StatusOr<std::vector<Offset>> EventLog::EndOffsets(std::string_view topic) const {
  absl::StatusOr<int> partitions = PartitionCount(topic);
  if (!partitions.ok()) return partitions.status();
  std::vector<Offset> ends;
  for (int p = 0; p < *partitions; ++p) {
    absl::StatusOr<Offset> end = EndOffset(topic, Partition(p));
    if (!end.ok()) return end.status();
    ends.push_back(*end);
  }
  return ends;
}

std::unique_ptr<LogReader> EventLog::NewReader(std::string_view topic) const {
  return std::make_unique<PlainReader>(*this, topic);
}

}  // namespace custops::log

// Crash safety of EmbeddedEventLog: a child process appends batches in a loop
// and reports every acknowledged position through a pipe; the parent kills it
// with SIGKILL at a random instant, reopens the log and checks that every
// acknowledged record is there at its offset, that offsets are dense and that
// no batch is torn (a batch is there whole or not at all, records and
// idempotency entries alike).
//
// The child is this binary re-executed (fork + exec of /proc/self/exe with
// --crash-child) rather than a bare fork: RocksDB's background thread pools
// do not survive fork(), so a forked child must not touch RocksDB once the
// parent has.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "custops/log/embedded_event_log.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::log {
namespace {

using ::custops::testing::StatusIs;
using ::testing::HasSubstr;

constexpr std::string_view kTopic = "crash";
constexpr int kPartitions = 4;
constexpr int kMaxBatch = 20;

std::string Value(int64_t batch, int index, int size) {
  return absl::StrCat("b", batch, ":", index, "/", size);
}
std::string IdempotencyKeyFor(int64_t batch, int index) {
  return index % 4 == 0 ? absl::StrCat("idem-", batch, "-", index) : "";
}

struct ParsedValue {
  int64_t batch = 0;
  int index = 0;
  int size = 0;
};

std::optional<ParsedValue> ParseValue(const std::string& value) {
  ParsedValue out;
  std::vector<absl::string_view> parts = absl::StrSplit(value, absl::ByAnyChar(":/"));
  if (parts.size() != 3 || !absl::ConsumePrefix(&parts[0], "b") ||
      !absl::SimpleAtoi(parts[0], &out.batch) || !absl::SimpleAtoi(parts[1], &out.index) ||
      !absl::SimpleAtoi(parts[2], &out.size)) {
    return std::nullopt;
  }
  return out;
}

void WriteLine(int fd, const std::string& line) {
  // One write per line: lines are far below PIPE_BUF, so never interleaved
  // or split.
  ssize_t written = write(fd, line.data(), line.size());
  if (written != static_cast<ssize_t>(line.size())) _exit(3);
}

// The child: appends until killed. Lines: "T <batch> <size>" before an
// append, "A <partition> <offset> <value>" for each acknowledged record.
int RunChild(const std::string& path, int fd, int64_t first_batch, bool sync) {
  absl::StatusOr<std::unique_ptr<EventLog>> log =
      EmbeddedEventLog::Open({.path = path, .sync = sync});
  if (!log.ok()) {
    WriteLine(fd, absl::StrCat("E ", log.status().ToString(), "\n"));
    return 2;
  }
  if (absl::Status s = (*log)->CreateTopic(kTopic, kPartitions); !s.ok()) {
    WriteLine(fd, absl::StrCat("E ", s.ToString(), "\n"));
    return 2;
  }
  std::mt19937_64 random(first_batch);
  for (int64_t batch = first_batch;; ++batch) {
    const int size = 1 + static_cast<int>(random() % kMaxBatch);
    std::vector<Record> records;
    for (int i = 0; i < size; ++i) {
      records.push_back(Record{.key = absl::StrCat("k", random() % 10),
                               .value = Value(batch, i, size),
                               .idempotency_key = IdempotencyKeyFor(batch, i)});
    }
    WriteLine(fd, absl::StrCat("T ", batch, " ", size, "\n"));
    absl::StatusOr<std::vector<AppendResult>> results = (*log)->Append(kTopic, records, {});
    if (!results.ok()) {
      WriteLine(fd, absl::StrCat("E ", results.status().ToString(), "\n"));
      return 2;
    }
    for (int i = 0; i < size; ++i) {
      WriteLine(fd, absl::StrCat("A ", (*results)[i].partition.value(), " ",
                                 (*results)[i].offset.value(), " ", records[i].value, "\n"));
    }
  }
}

struct Ack {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string value;
};

struct ChildReport {
  std::vector<Ack> acks;
  std::map<int64_t, int> attempted;  // batch -> size
  std::vector<std::string> errors;
};

void ParseLines(std::string& buffer, ChildReport& report) {
  size_t start = 0;
  for (size_t end; (end = buffer.find('\n', start)) != std::string::npos; start = end + 1) {
    std::vector<std::string> fields = absl::StrSplit(buffer.substr(start, end - start), ' ');
    if (fields[0] == "A" && fields.size() == 4) {
      Ack ack;
      ack.value = fields[3];
      if (absl::SimpleAtoi(fields[1], &ack.partition) && absl::SimpleAtoi(fields[2], &ack.offset)) {
        report.acks.push_back(std::move(ack));
        continue;
      }
    } else if (fields[0] == "T" && fields.size() == 3) {
      int64_t batch = 0;
      int size = 0;
      if (absl::SimpleAtoi(fields[1], &batch) && absl::SimpleAtoi(fields[2], &size)) {
        report.attempted[batch] = size;
        continue;
      }
    }
    report.errors.push_back(buffer.substr(start, end - start));
  }
  buffer.erase(0, start);  // keep a partial last line for the next read
}

class EmbeddedEventLogCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "custops-crash-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/log";
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Starts a child, lets it append for `run_for` after its first
  // acknowledgement, SIGKILLs it and returns what it reported.
  void RunAndKill(int64_t first_batch, bool sync, absl::Duration run_for, bool check_lock,
                  ChildReport& report) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0) << strerror(errno);
    const std::string fd_arg = absl::StrCat(fds[1]);
    const std::string batch_arg = absl::StrCat(first_batch);
    const std::string sync_arg = sync ? "1" : "0";
    const pid_t pid = fork();
    ASSERT_GE(pid, 0) << strerror(errno);
    if (pid == 0) {
      close(fds[0]);
      const char* argv[] = {"log_crash_test",  "--crash-child",  path_.c_str(), fd_arg.c_str(),
                            batch_arg.c_str(), sync_arg.c_str(), nullptr};
      execv("/proc/self/exe", const_cast<char* const*>(argv));
      _exit(127);
    }
    close(fds[1]);

    std::string buffer;
    auto drain = [&](absl::Duration timeout) {  // false at EOF
      pollfd poll_fd{.fd = fds[0], .events = POLLIN, .revents = 0};
      const int ready = poll(&poll_fd, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
      if (ready <= 0) return true;
      char chunk[65536];
      const ssize_t n = read(fds[0], chunk, sizeof(chunk));
      if (n <= 0) return false;
      buffer.append(chunk, n);
      ParseLines(buffer, report);
      return true;
    };

    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    bool open = true;
    while (open && report.acks.empty() && report.errors.empty() && absl::Now() < give_up) {
      open = drain(absl::Milliseconds(20));
    }
    const bool started = !report.acks.empty();
    if (started && check_lock) {
      // The running child holds the store: a second process must get an
      // error, not a crash.
      absl::StatusOr<std::unique_ptr<EventLog>> locked =
          EmbeddedEventLog::Open({.path = path_, .sync = false});
      EXPECT_THAT(locked,
                  StatusIs(absl::StatusCode::kUnavailable, HasSubstr("opening event log at")));
    }
    const absl::Time kill_at = absl::Now() + run_for;
    while (open && started && absl::Now() < kill_at) {
      open = drain(std::max(kill_at - absl::Now(), absl::Milliseconds(1)));
    }
    kill(pid, SIGKILL);
    while (open) open = drain(absl::Seconds(10));
    close(fds[0]);
    int wait_status = 0;
    ASSERT_EQ(waitpid(pid, &wait_status, 0), pid);
    EXPECT_TRUE(report.errors.empty()) << report.errors.front();
    ASSERT_TRUE(started) << "child acknowledged nothing";
    ASSERT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL)
        << "child exited on its own, status " << wait_status;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(EmbeddedEventLogCrashTest, AcknowledgedAppendsSurviveSigkillAndNoBatchIsTorn) {
  constexpr int kRounds = 4;
  std::mt19937 random(std::random_device{}());
  std::vector<Ack> acknowledged;
  std::map<int64_t, int> attempted;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const bool sync = round % 2 == 1;
    const absl::Duration run_for = absl::Milliseconds(20 + random() % 300);
    ChildReport report;
    ASSERT_NO_FATAL_FAILURE(
        RunAndKill(int64_t{round} * 1'000'000, sync, run_for, /*check_lock=*/round == 0, report));
    acknowledged.insert(acknowledged.end(), report.acks.begin(), report.acks.end());
    attempted.insert(report.attempted.begin(), report.attempted.end());

    ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log,
                         EmbeddedEventLog::Open({.path = path_, .sync = false}));
    // Every acknowledged record, where it was acknowledged.
    for (const Ack& ack : acknowledged) {
      ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records,
                           log->Read(kTopic, Partition(ack.partition), Offset(ack.offset), 1));
      ASSERT_EQ(records.size(), 1u) << ack.value;
      EXPECT_EQ(records[0].value, ack.value);
    }
    // Dense offsets (Read checks them) and whole batches only.
    std::map<int64_t, std::set<int>> present;  // batch -> indexes
    std::map<int64_t, int> sizes;
    for (int p = 0; p < kPartitions; ++p) {
      ASSERT_OK_AND_ASSIGN(Offset end, log->EndOffset(kTopic, Partition(p)));
      ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records,
                           log->Read(kTopic, Partition(p), Offset(0), end.value() + 1));
      ASSERT_EQ(static_cast<int64_t>(records.size()), end.value());
      for (size_t i = 0; i < records.size(); ++i) {
        ASSERT_EQ(records[i].offset.value(), static_cast<int64_t>(i));
        std::optional<ParsedValue> parsed = ParseValue(records[i].value);
        ASSERT_TRUE(parsed.has_value()) << records[i].value;
        EXPECT_TRUE(present[parsed->batch].insert(parsed->index).second) << records[i].value;
        sizes[parsed->batch] = parsed->size;
      }
    }
    for (const auto& [batch, indexes] : present) {
      EXPECT_EQ(static_cast<int>(indexes.size()), sizes[batch]) << "torn batch " << batch;
      EXPECT_TRUE(attempted.contains(batch)) << "batch " << batch << " never attempted";
    }

    // Idempotency entries match the records exactly: a retry is a duplicate
    // at the original place iff its batch is in the log. The retry runs on
    // the last round only, since it appends the missing batches.
    if (round == kRounds - 1) {
      std::vector<Record> retries;
      std::vector<bool> expect_duplicate;
      for (const auto& [batch, size] : attempted) {
        for (int i = 0; i < size; ++i) {
          const std::string idempotency_key = IdempotencyKeyFor(batch, i);
          if (idempotency_key.empty()) continue;
          retries.push_back(
              Record{.key = "k0", .value = "retry", .idempotency_key = idempotency_key});
          expect_duplicate.push_back(present.contains(batch));
        }
      }
      ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> results, log->Append(kTopic, retries, {}));
      for (size_t i = 0; i < results.size(); ++i) {
        EXPECT_EQ(results[i].duplicate, expect_duplicate[i]) << retries[i].idempotency_key;
        if (!results[i].duplicate) continue;
        ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> original,
                             log->Read(kTopic, results[i].partition, results[i].offset, 1));
        ASSERT_EQ(original.size(), 1u);
        std::optional<ParsedValue> parsed = ParseValue(original[0].value);
        ASSERT_TRUE(parsed.has_value());
        EXPECT_EQ(IdempotencyKeyFor(parsed->batch, parsed->index), retries[i].idempotency_key);
      }
    }
    ASSERT_OK(log->Close());
  }
  EXPECT_GT(acknowledged.size(), 0u);
}

}  // namespace
}  // namespace custops::log

int main(int argc, char** argv) {
  if (argc == 6 && std::string_view(argv[1]) == "--crash-child") {
    int fd = -1;
    int64_t first_batch = 0;
    if (!absl::SimpleAtoi(argv[3], &fd) || !absl::SimpleAtoi(argv[4], &first_batch)) return 64;
    return custops::log::RunChild(argv[2], fd, first_batch, std::string_view(argv[5]) == "1");
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

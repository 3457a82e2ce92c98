// Small helpers shared by the end-to-end load tools (ingest_load, query_load)
// and the benches: a temporary directory, a description of the machine, the
// process's CPU time, and the "reproduce:" line every tool prints.
#ifndef CUSTOPS_BENCH_COMMON_TOOL_H_
#define CUSTOPS_BENCH_COMMON_TOOL_H_

#include <string>
#include <string_view>
#include <vector>

namespace custops::bench {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on
// destruction. CHECK-fails when it cannot be made.
class TempDir {
 public:
  explicit TempDir(std::string_view name);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// "2 cores (Intel(R) Xeon(R) ...), load average 1.52 0.98 0.60".
std::string MachineDescription();

// User + system CPU seconds of the whole process so far (every thread).
double ProcessCpuSeconds();

// User + system CPU seconds of another process (every thread), from
// /proc/<pid>/stat; -1 when it cannot be read (no such process).
double CpuSecondsOf(int pid);

// Joins arguments into one shell command line, quoting where needed.
std::string ShellJoin(const std::vector<std::string>& args);

}  // namespace custops::bench

#endif  // CUSTOPS_BENCH_COMMON_TOOL_H_

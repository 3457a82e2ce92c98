// The executables run on the allocator CMake chose (custops_allocator in
// CMakeLists.txt; docs/operations.md "Memory allocator"). This binary is
// linked like the others, so what holds here holds for them.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "gtest/gtest.h"

#if CUSTOPS_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

namespace {

#if CUSTOPS_WITH_JEMALLOC
template <typename T>
T Read(const char* name) {
  T value{};
  size_t size = sizeof(value);
  EXPECT_EQ(mallctl(name, &value, &size, nullptr, 0), 0) << name;
  return value;
}

// Escapes the allocation, so the compiler cannot leave it out.
char* volatile g_escape = nullptr;
#endif

TEST(AllocatorTest, NewGoesThroughJemallocWithTheProjectsOptions) {
#if !CUSTOPS_WITH_JEMALLOC
  GTEST_SKIP() << "built on the C library's allocator (CUSTOPS_ALLOCATOR=system, a sanitizer "
                  "build, or libjemalloc-dev not installed: scripts/setup.sh installs it)";
#else
  constexpr uint64_t kBytes = uint64_t{4} << 20;
  const uint64_t before = Read<uint64_t>("thread.allocated");
  auto block = std::make_unique<char[]>(kBytes);
  g_escape = block.get();
  g_escape[kBytes - 1] = 1;
  const uint64_t after = Read<uint64_t>("thread.allocated");
  EXPECT_GE(after - before, kBytes);
  // cmake/jemalloc_conf.cc's options were read at start (jemalloc's default
  // is no background thread).
  EXPECT_TRUE(Read<bool>("opt.background_thread"));
#endif
}

}  // namespace

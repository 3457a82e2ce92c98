// jemalloc's start-up options, compiled into each executable that links
// custops_allocator (CMakeLists.txt; docs/operations.md "Memory allocator").
// jemalloc reads this symbol once, before the first allocation; the
// MALLOC_CONF environment variable still overrides it.
//
// background_thread: freed pages go back to the system from a background
//   thread (after jemalloc's default decay of 10 s), also while the process
//   is idle (a server between requests), not only at the next allocation.
//   A shorter decay (1 s) made GetCustomer's p99 at 5k QPS 5-10x worse: the
//   serving threads kept faulting in the pages just given back.
// Not part of the project's namespace: jemalloc looks the name up as is.
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's.
extern const char* malloc_conf;
const char* malloc_conf = "background_thread:true";
}

// jemalloc's start-up options, compiled into each executable that links
// custops_allocator (CMakeLists.txt; docs/operations.md "Memory allocator").
// jemalloc reads this symbol once, before the first allocation; the
// MALLOC_CONF environment variable still overrides it.
//
// background_thread: freed pages go back to the system from a background
//   thread, also while the process is idle (a server between requests), not
//   only at the next allocation.
// dirty_decay_ms: how long freed pages stay mapped for reuse (default 10 s);
//   a refused request's buffers are given back within about a second.
// Not part of the project's namespace: jemalloc looks the name up as is.
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's.
extern const char* malloc_conf;
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000";
}

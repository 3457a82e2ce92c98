// Process-wide settings of a serving process: the custops binary and the
// benchmarks that run the platform in process call this first thing in
// main (docs/operations.md "Lock-order checks").
//
//   int main(int argc, char** argv) {
//     custops::base::SetUpServingProcess();
//     ...
//   }
#ifndef CUSTOPS_BASE_PROCESS_H_
#define CUSTOPS_BASE_PROCESS_H_

namespace custops::base {

// Turns off Abseil's mutex deadlock (lock-order) detection, which Debian's
// Abseil leaves on: it keeps a graph of every lock acquired and cost about
// 9% of the server's CPU under GetCustomer load. With
// CUSTOPS_MUTEX_DEADLOCK_DETECTION=1 in the environment the detection is on
// and a lock-order cycle aborts the process with both stacks (debugging).
// Tests keep Abseil's default. Returns whether the detection is on.
bool SetUpServingProcess();

}  // namespace custops::base

#endif  // CUSTOPS_BASE_PROCESS_H_

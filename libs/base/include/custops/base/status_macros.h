// Early-return helpers for absl::Status / absl::StatusOr at library boundaries.
//
//   absl::StatusOr<Foo> MakeFoo() {
//     RETURN_IF_ERROR(Check());
//     ASSIGN_OR_RETURN(Bar bar, LoadBar());
//     return Foo(bar);
//   }
#ifndef CUSTOPS_BASE_STATUS_MACROS_H_
#define CUSTOPS_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CUSTOPS_CONCAT_INNER_(a, b) a##b
#define CUSTOPS_CONCAT_(a, b) CUSTOPS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status custops_status_ = (expr);           \
    if (!custops_status_.ok()) return custops_status_; \
  } while (false)

// Evaluates `rexpr` (a StatusOr); returns its status if not OK, else moves
// the value into `lhs` (which may be a declaration).
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  CUSTOPS_ASSIGN_OR_RETURN_IMPL_(CUSTOPS_CONCAT_(custops_statusor_, __LINE__), lhs, rexpr)

#define CUSTOPS_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();   \
  lhs = std::move(statusor).value()

#endif  // CUSTOPS_BASE_STATUS_MACROS_H_

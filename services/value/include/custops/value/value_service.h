// The Value service: thin handlers over ValueQueries, registered in the
// front door's method table (libs/rpc gateway.h). They honour consistency
// tokens (wait without a thread until the write is applied, then answer
// from a population snapshot that covers it, bounded by the call's
// deadline), evaluate at `as_of` (exact, computed for that instant) or now
// (the snapshot, see docs/value.md), and the caller's region scope
// (docs/security.md). Evaluations run on the worker pool.
#ifndef CUSTOPS_VALUE_VALUE_SERVICE_H_
#define CUSTOPS_VALUE_VALUE_SERVICE_H_

#include <string>
#include <vector>

#include "custops/base/clock.h"
#include "custops/projection/runtime.h"
#include "custops/rpc/gateway.h"
#include "custops/v1/value.pb.h"
#include "custops/value/value_projection.h"

namespace custops::value {

class ValueService {
 public:
  // All references must outlive the service.
  ValueService(const projection::ProjectionRuntime& runtime, ValueQueries& queries,
               const base::Clock& clock);

  // Adds custops.v1.Value's methods to `table`: queries need the reader
  // role, RefitClv the admin role.
  void Register(rpc::MethodTable& table);

 private:
  // Answers `answer(min positions)` once the token (if any) is applied.
  template <typename Resp, typename Answer>
  void AfterToken(rpc::Call& call, const std::string& token, Resp* out, rpc::Done done,
                  Answer answer);

  const projection::ProjectionRuntime& runtime_;
  ValueQueries& queries_;
  const base::Clock& clock_;
};

}  // namespace custops::value

#endif  // CUSTOPS_VALUE_VALUE_SERVICE_H_

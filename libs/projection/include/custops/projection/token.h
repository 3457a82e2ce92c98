// Consistency tokens and resume tokens: for one topic, the next offset of
// every partition. Opaque to clients ("c1." + base64url of a PositionSet).
#ifndef CUSTOPS_PROJECTION_TOKEN_H_
#define CUSTOPS_PROJECTION_TOKEN_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "custops/internal/state.pb.h"

namespace custops::projection {

using PositionSet = internal::PositionSet;

std::string EncodeToken(const PositionSet& positions);

// INVALID_ARGUMENT naming `field` for anything that is not a token we made.
absl::StatusOr<PositionSet> DecodeToken(std::string_view token, std::string_view field);

// Widens `into` to cover `other` too: per partition the later offset (an
// empty `into` takes other's topic). Both must be of one topic.
void MergePositions(PositionSet& into, const PositionSet& other);

}  // namespace custops::projection

#endif  // CUSTOPS_PROJECTION_TOKEN_H_

// The engine's wiring (value_engine.h): the real-time deadline of a
// population evaluation, asked by the domain's PopulationBuilder::Finish.
#include "custops/value/value_engine.h"

#include <utility>

namespace custops::value {

absl::StatusOr<Population> FinishBefore(PopulationBuilder&& builder,
                                        const internal::ValueClvModel* model, absl::Time deadline) {
  return std::move(builder).Finish(model, [deadline] { return absl::Now() >= deadline; });
}

}  // namespace custops::value

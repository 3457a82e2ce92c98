// Shared by the predictive-CLV files (private to libs/domain): clv_fit.cc (the
// BG/NBD and Gamma-Gamma likelihoods and fits) and clv.cc (the predictions and
// the discounted CLV) both answer NaN outside a model's domain.
#ifndef CUSTOPS_DOMAIN_SRC_CLV_INTERNAL_H_
#define CUSTOPS_DOMAIN_SRC_CLV_INTERNAL_H_

#include <limits>

namespace custops::domain::clv_internal {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace custops::domain::clv_internal

#endif  // CUSTOPS_DOMAIN_SRC_CLV_INTERNAL_H_

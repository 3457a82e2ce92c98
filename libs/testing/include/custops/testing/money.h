// Money for tests: amounts in the reporting currency, in minor units.
//
//   *contract->mutable_amount() = custops::testing::Cny(1'200'000);  // ¥12,000.00
#ifndef CUSTOPS_TESTING_MONEY_H_
#define CUSTOPS_TESTING_MONEY_H_

#include <cstdint>

#include "custops/v1/common.pb.h"

namespace custops::testing {

// `units` fen (分, 1/100 yuan) of CNY, the default reporting currency: what
// the tests' local Cny helpers build (units as given, currency "CNY").
inline v1::Money Cny(int64_t units) {
  v1::Money money;
  money.set_units(units);
  money.set_currency("CNY");
  return money;
}

}  // namespace custops::testing

#endif  // CUSTOPS_TESTING_MONEY_H_

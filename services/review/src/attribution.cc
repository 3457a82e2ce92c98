// Attribution: which dimension values an event counts under (attribution.h).
#include "attribution.h"

#include <string>
#include <vector>

#include "custops/review/review_projection.h"
#include "custops/store/keys.h"

namespace custops::review {

const internal::ReviewProfileAt* ProfileAt(const internal::ReviewCustomer& c, int64_t t) {
  const internal::ReviewProfileAt* found = nullptr;
  for (const auto& p : c.profile()) {
    if (p.at_micros() <= t || found == nullptr) found = &p;
  }
  return found;
}

Dims BaseDims(const internal::ReviewCustomer& c, int64_t t) {
  Dims d;
  d.customer = c.customer_id();
  if (const auto* p = ProfileAt(c, t)) {
    d.region = p->region();
    d.industry = p->industry();
    d.owner = p->owner_id();
    d.channel = p->channel();
  }
  return d;
}

Dims DealDims(const internal::ReviewCustomer& c, int64_t t, const std::string& actor,
              const std::string& product) {
  Dims d = BaseDims(c, t);
  if (!actor.empty()) d.owner = actor;
  d.product = product;
  return d;
}

Dims OpportunityDims(const internal::ReviewOpportunity& o) {
  return Dims{.region = o.region(),
              .industry = o.industry(),
              .owner = o.owner_id(),
              .channel = o.channel(),
              .product = o.product(),
              .customer = o.customer_id()};
}

std::vector<DimKey> DimKeys(const Dims& d, bool per_customer) {
  std::vector<DimKey> out;
  static const std::string kEmpty;
  auto add = [&](v1::Dimension dim, const std::string& value) {
    DimKey& k = out.emplace_back(DimKey{dim, {}});
    store::AppendU32(k.token, static_cast<uint32_t>(dim));
    store::AppendId(k.token, value);
  };
  out.reserve(7);
  add(v1::DIMENSION_ALL, kEmpty);
  if (!d.region.empty()) add(v1::DIMENSION_REGION, d.region);
  if (!d.industry.empty()) add(v1::DIMENSION_INDUSTRY, d.industry);
  if (!d.owner.empty()) add(v1::DIMENSION_OWNER, d.owner);
  if (!d.channel.empty()) add(v1::DIMENSION_CHANNEL, d.channel);
  if (!d.product.empty()) add(v1::DIMENSION_PRODUCT, d.product);
  if (per_customer && !d.customer.empty()) add(kDimensionCustomer, d.customer);
  return out;
}

}  // namespace custops::review

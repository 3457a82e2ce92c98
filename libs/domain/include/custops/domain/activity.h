// Which customer events are activity (engagement): what a customer or a rep
// does with the customer, as opposed to master data. One rule for the
// lifecycle (last activity, loss by silence), value (first activity,
// engagement), review (active customers) and the demo generator
// (docs/adding-an-event.md).
#ifndef CUSTOPS_DOMAIN_ACTIVITY_H_
#define CUSTOPS_DOMAIN_ACTIVITY_H_

#include "custops/v1/events.pb.h"

namespace custops::domain {

// Every payload but the registration, profile updates and contacts (and an
// unset payload). Its switch lists every payload type and has no default, so
// a new one fails the build (-Wswitch, warnings are errors) until it is
// classified here.
bool IsActivity(v1::Event::PayloadCase payload);
inline bool IsActivity(const v1::Event& event) { return IsActivity(event.payload_case()); }

}  // namespace custops::domain

#endif  // CUSTOPS_DOMAIN_ACTIVITY_H_

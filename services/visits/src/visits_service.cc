#include "custops/visits/visits_service.h"

#include "custops/command/requests.h"

namespace custops::visits {

void VisitsService::Register(rpc::MethodTable& table) {
  command::AddCommand<v1::LogVisitRequest>(table, core_, kSource, "custops.v1.Visits/LogVisit");
}

}  // namespace custops::visits

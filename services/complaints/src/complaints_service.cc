#include "custops/complaints/complaints_service.h"

#include "custops/command/requests.h"

namespace custops::complaints {

void ComplaintsService::Register(rpc::MethodTable& table) {
  command::AddCommand<v1::FileComplaintRequest>(table, core_, kSource,
                                                "custops.v1.Complaints/FileComplaint");
  command::AddCommand<v1::RespondComplaintRequest>(table, core_, kSource,
                                                   "custops.v1.Complaints/RespondComplaint");
  command::AddCommand<v1::ResolveComplaintRequest>(table, core_, kSource,
                                                   "custops.v1.Complaints/ResolveComplaint");
  command::AddCommand<v1::ReopenComplaintRequest>(table, core_, kSource,
                                                  "custops.v1.Complaints/ReopenComplaint");
}

}  // namespace custops::complaints

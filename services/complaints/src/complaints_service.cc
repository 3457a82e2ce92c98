#include "custops/complaints/complaints_service.h"

#include "custops/command/requests.h"

namespace custops::complaints {

grpc::ServerUnaryReactor* ComplaintsService::FileComplaint(grpc::CallbackServerContext* context,
                                                           const v1::FileComplaintRequest* request,
                                                           v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* ComplaintsService::RespondComplaint(
    grpc::CallbackServerContext* context, const v1::RespondComplaintRequest* request,
    v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* ComplaintsService::ResolveComplaint(
    grpc::CallbackServerContext* context, const v1::ResolveComplaintRequest* request,
    v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* ComplaintsService::ReopenComplaint(
    grpc::CallbackServerContext* context, const v1::ReopenComplaintRequest* request,
    v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

}  // namespace custops::complaints

#include "custops/customers/customers_service.h"

#include "custops/command/requests.h"

namespace custops::customers {

grpc::ServerUnaryReactor* CustomersService::RegisterCustomer(
    grpc::CallbackServerContext* context, const v1::RegisterCustomerRequest* request,
    v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* CustomersService::UpdateProfile(grpc::CallbackServerContext* context,
                                                          const v1::UpdateProfileRequest* request,
                                                          v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* CustomersService::AddContact(grpc::CallbackServerContext* context,
                                                       const v1::AddContactRequest* request,
                                                       v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* CustomersService::RecordSurvey(grpc::CallbackServerContext* context,
                                                         const v1::RecordSurveyRequest* request,
                                                         v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* CustomersService::RecordReferral(grpc::CallbackServerContext* context,
                                                           const v1::RecordReferralRequest* request,
                                                           v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* CustomersService::MarkLost(grpc::CallbackServerContext* context,
                                                     const v1::MarkLostRequest* request,
                                                     v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

}  // namespace custops::customers

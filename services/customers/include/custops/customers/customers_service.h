// The `Customers` command service (DESIGN.md §5): registering customers and keeping their profile,
// contacts, surveys, referrals and losses. Each RPC maps its request to a domain command and runs
// it through the shared CommandCore (docs/commands.md); the rules are libs/domain's.
#ifndef CUSTOPS_CUSTOMERS_CUSTOMERS_SERVICE_H_
#define CUSTOPS_CUSTOMERS_CUSTOMERS_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "custops/command/command_core.h"
#include "custops/v1/commands.grpc.pb.h"

namespace custops::customers {

// The `source` of the events this service emits.
inline constexpr char kSource[] = "customers";

class CustomersService final : public v1::Customers::CallbackService {
 public:
  // `core` must outlive the service.
  explicit CustomersService(command::CommandCore& core) : core_(core) {}

  grpc::ServerUnaryReactor* RegisterCustomer(grpc::CallbackServerContext* context,
                                             const v1::RegisterCustomerRequest* request,
                                             v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* UpdateProfile(grpc::CallbackServerContext* context,
                                          const v1::UpdateProfileRequest* request,
                                          v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* AddContact(grpc::CallbackServerContext* context,
                                       const v1::AddContactRequest* request,
                                       v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* RecordSurvey(grpc::CallbackServerContext* context,
                                         const v1::RecordSurveyRequest* request,
                                         v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* RecordReferral(grpc::CallbackServerContext* context,
                                           const v1::RecordReferralRequest* request,
                                           v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* MarkLost(grpc::CallbackServerContext* context,
                                     const v1::MarkLostRequest* request,
                                     v1::CommandResponse* response) override;

 private:
  command::CommandCore& core_;
};

}  // namespace custops::customers

#endif  // CUSTOPS_CUSTOMERS_CUSTOMERS_SERVICE_H_

#include "custops/customers/customers_service.h"

#include "custops/command/requests.h"

namespace custops::customers {

void CustomersService::Register(rpc::MethodTable& table) {
  command::AddCommand<v1::RegisterCustomerRequest>(table, core_, kSource,
                                                   "custops.v1.Customers/RegisterCustomer");
  command::AddCommand<v1::UpdateProfileRequest>(table, core_, kSource,
                                                "custops.v1.Customers/UpdateProfile");
  command::AddCommand<v1::AddContactRequest>(table, core_, kSource,
                                             "custops.v1.Customers/AddContact");
  command::AddCommand<v1::RecordSurveyRequest>(table, core_, kSource,
                                               "custops.v1.Customers/RecordSurvey");
  command::AddCommand<v1::RecordReferralRequest>(table, core_, kSource,
                                                 "custops.v1.Customers/RecordReferral");
  command::AddCommand<v1::MarkLostRequest>(table, core_, kSource, "custops.v1.Customers/MarkLost");
}

}  // namespace custops::customers

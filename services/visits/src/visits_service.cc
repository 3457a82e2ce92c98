#include "custops/visits/visits_service.h"

#include "custops/command/requests.h"

namespace custops::visits {

grpc::ServerUnaryReactor* VisitsService::LogVisit(grpc::CallbackServerContext* context,
                                                  const v1::LogVisitRequest* request,
                                                  v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

}  // namespace custops::visits

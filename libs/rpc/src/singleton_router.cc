#include "custops/rpc/singleton_router.h"

#include "absl/strings/str_cat.h"

namespace custops::rpc {

Router SingletonRouter(ChannelCache* channels, std::string self, SingletonRoute route) {
  return [channels, self = std::move(self), route = std::move(route)](Call& call, RawDone& done) {
    const std::string service = call.method().substr(0, call.method().find('/'));
    const auto [state, why] = route.state();
    switch (state) {
      case SingletonState::kServing:
        return false;  // the handler answers here
      case SingletonState::kRestoring:
        std::move(done)(absl::UnavailableError(why));
        return true;
      case SingletonState::kStandby:
        break;
    }
    if (call.forwarded()) {
      // The sender's directory is stale: refuse rather than bounce.
      std::move(done)(absl::UnavailableError(
          absl::StrCat(self, " is not the ", service, " leader (any more)")));
      return true;
    }
    absl::StatusOr<std::string> leader = route.leader();
    if (!leader.ok() || leader->empty() || *leader == self) {
      if (route.invalidate) route.invalidate();
      std::move(done)(absl::UnavailableError(
          absl::StrCat("no ", service, " leader now",
                       leader.ok() ? "" : absl::StrCat(": ", leader.status().ToString()))));
      return true;
    }
    ForwardRaw(*channels, call, *leader, {},
               [done = std::move(done),
                invalidate = route.invalidate](absl::StatusOr<std::string> bytes) mutable {
                 if (!bytes.ok() && bytes.status().code() == absl::StatusCode::kUnavailable &&
                     invalidate) {
                   invalidate();
                 }
                 std::move(done)(std::move(bytes));
               });
    return true;
  };
}

}  // namespace custops::rpc

#include "custops/client/bulk.h"

#include <atomic>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "custops/projection/token.h"

namespace custops::client {
namespace {

constexpr size_t kMaxExamples = 5;

bool IsRefusal(absl::StatusCode code) {
  return code == absl::StatusCode::kInvalidArgument ||
         code == absl::StatusCode::kFailedPrecondition || code == absl::StatusCode::kNotFound ||
         code == absl::StatusCode::kAlreadyExists;
}

}  // namespace

SubmitReport SubmitAll(Client& client, const std::vector<v1::Event>& events, int parallelism) {
  // Customers in order of first appearance, each with its events in order.
  std::vector<std::vector<const v1::Event*>> customers;
  absl::flat_hash_map<std::string, size_t> index;
  for (const v1::Event& e : events) {
    auto [it, inserted] = index.try_emplace(e.customer_id(), customers.size());
    if (inserted) customers.emplace_back();
    customers[it->second].push_back(&e);
  }

  SubmitReport report;
  projection::PositionSet positions;  // merged tokens, under mu
  absl::Mutex mu;
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto worker = [&] {
    for (size_t c = next++; c < customers.size() && !failed; c = next++) {
      for (const v1::Event* e : customers[c]) {
        absl::StatusOr<v1::CommandResponse> r = client.Submit(*e);
        absl::MutexLock lock(&mu);
        if (r.ok()) {
          (r->duplicate() ? report.duplicates : report.accepted)++;
          if (absl::StatusOr<projection::PositionSet> t =
                  projection::DecodeToken(r->consistency_token(), "consistency_token");
              t.ok()) {
            projection::MergePositions(positions, *t);
          }
        } else if (IsRefusal(r.status().code())) {
          report.refused++;
          report.refused_by_code[absl::StatusCodeToString(r.status().code())]++;
          if (report.examples.size() < kMaxExamples) {
            report.examples.push_back(absl::StrCat(e->event_id(), ": ", r.status().message()));
          }
        } else {
          if (report.error.ok()) report.error = r.status();
          failed = true;
          return;
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < std::max(1, parallelism); ++i) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  if (!positions.topic().empty()) report.consistency_token = projection::EncodeToken(positions);
  return report;
}

absl::Status RefitAfterImport(Client& client, const std::string& consistency_token,
                              std::ostream& out) {
  absl::StatusOr<v1::ClvModel> model = client.RefitClv(consistency_token);
  if (!model.ok()) {
    out << "clv_refit skipped: " << model.status()
        << " (run `custopsctl value refit` against the value instance)\n";
    return model.status();
  }
  out << "clv_refit customers " << model->customers() << ", repeat buyers "
      << model->repeat_buyers() << "\n";
  return absl::OkStatus();
}

}  // namespace custops::client

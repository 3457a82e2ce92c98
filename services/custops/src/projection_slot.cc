#include "projection_slot.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "spdlog/spdlog.h"

namespace custops::app {

namespace fs = std::filesystem;

namespace {

// What a retired copy answers a call that was waiting on it: the slot then
// asks the new copy (Register).
constexpr absl::string_view kRetired = "projection copy retired by a rebuild";

bool IsRetired(const absl::Status& s) {
  return s.code() == absl::StatusCode::kAborted && s.message() == kRetired;
}

std::string GenerationFile(const SlotOptions& o) {
  return absl::StrCat(o.root, "/", o.name, ".generation");
}

absl::StatusOr<int64_t> ReadGeneration(const SlotOptions& o) {
  const std::string path = GenerationFile(o);
  if (!fs::exists(path)) return 0;
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int64_t g = -1;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &g) || g < 0) {
    return absl::DataLossError(absl::StrCat(path, ": not a generation number"));
  }
  return g;
}

// Replaces the generation file atomically and durably: the swap's point of
// no return.
absl::Status WriteGeneration(const SlotOptions& o, int64_t g) {
  const std::string path = GenerationFile(o);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << g << "\n";
    out.flush();
    if (!out.good()) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  // fsync the file, rename it over the old one, fsync the directory.
  if (FILE* f = std::fopen(tmp.c_str(), "r+"); f != nullptr) {
    (void)fsync(fileno(f));
    std::fclose(f);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("rename ", tmp, ": ", ec.message()));
  if (FILE* d = std::fopen(o.root.c_str(), "r"); d != nullptr) {
    (void)fsync(fileno(d));
    std::fclose(d);
  }
  return absl::OkStatus();
}

int64_t Sum(const std::vector<Offset>& offsets, const std::vector<Partition>& only) {
  int64_t n = 0;
  if (only.empty()) {
    for (Offset o : offsets) n += o.value();
    return n;
  }
  for (Partition p : only) {
    if (p.value() < static_cast<int>(offsets.size())) n += offsets[p.value()].value();
  }
  return n;
}

}  // namespace

std::string ProjectionSlot::PathOf(int64_t generation) const {
  if (generation == 0) return absl::StrCat(options_.root, "/", options_.name);
  return absl::StrCat(options_.root, "/", options_.name, ".g", generation);
}

absl::StatusOr<std::unique_ptr<ProjectionSlot>> ProjectionSlot::Open(SlotOptions options) {
  std::unique_ptr<ProjectionSlot> slot(new ProjectionSlot(std::move(options)));
  std::error_code ec;
  fs::create_directories(slot->options_.root, ec);
  ASSIGN_OR_RETURN(const int64_t g, ReadGeneration(slot->options_));
  // Copies a finished swap left behind (a crash before they were dropped).
  const std::string next = slot->PathOf(g + 1);
  for (const fs::directory_entry& e : fs::directory_iterator(slot->options_.root, ec)) {
    const std::string path = e.path().string();
    const std::string file = e.path().filename().string();
    int64_t k = -1;
    const bool copy =
        file == slot->options_.name ||
        (absl::StartsWith(file, slot->options_.name + ".g") &&
         absl::SimpleAtoi(absl::string_view(file).substr(slot->options_.name.size() + 2), &k));
    if (!copy || path == slot->PathOf(g) || path == next || !e.is_directory()) continue;
    spdlog::info("projection {}: dropping {}, replaced by generation {}", slot->options_.name, path,
                 g);
    fs::remove_all(path, ec);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<ProjectionCopy> copy,
                   slot->options_.open(slot->PathOf(g), /*bulk=*/false));
  absl::MutexLock lock(&slot->mu_);
  slot->current_ = std::move(copy);
  slot->generation_ = g;
  slot->progress_.set_generation(g);
  slot->progress_.set_eta_seconds(-1);
  slot->resume_ = fs::exists(next);
  if (slot->current_->runtime().state_outdated()) {
    // State of an earlier layout: rebuilt beside the serving copy from the
    // start on, as Admin.Rebuild would (docs/operations.md "Rebuild").
    spdlog::info(
        "projection {}: the stored state is of layout {}, this build writes {}: "
        "rebuilding it",
        slot->options_.name, slot->current_->runtime().stored_state_version(),
        slot->current_->runtime().projection().StateVersion());
    slot->resume_ = true;
  }
  return slot;
}

ProjectionSlot::~ProjectionSlot() { (void)Stop(); }

std::shared_ptr<ProjectionCopy> ProjectionSlot::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

std::shared_ptr<projection::ProjectionRuntime> ProjectionSlot::Runtime() const {
  std::shared_ptr<ProjectionCopy> copy = Current();
  if (copy == nullptr) return nullptr;
  projection::ProjectionRuntime* rt = &copy->runtime();
  return std::shared_ptr<projection::ProjectionRuntime>(std::move(copy), rt);
}

void ProjectionSlot::Register(rpc::MethodTable& table) {
  const std::shared_ptr<ProjectionCopy> model = Current();
  for (const std::string& name : model->methods().Names()) {
    rpc::MethodEntry entry = *model->methods().Find(name);
    if (entry.unary) {
      // Each call holds the copy that answers it until it is done.
      struct Dispatch {
        const ProjectionSlot* slot;
        std::string name;
        void operator()(rpc::Call& call, const google::protobuf::Message& request,
                        google::protobuf::Message* response, rpc::Done done, int tries) const {
          std::shared_ptr<ProjectionCopy> copy = slot->Current();
          const rpc::MethodEntry* e = copy->methods().Find(name);
          e->unary(call, request, response,
                   [self = *this, copy, &call, &request, response, tries,
                    done = std::move(done)](absl::Status s) mutable {
                     if (IsRetired(s) && tries < 3 && self.slot->Current() != copy) {
                       copy.reset();
                       self(call, request, response, std::move(done), tries + 1);
                       return;
                     }
                     std::move(done)(std::move(s));
                   });
        }
      };
      entry.unary = [d = Dispatch{this, name}](
                        rpc::Call& call, const google::protobuf::Message& request,
                        google::protobuf::Message* response,
                        rpc::Done done) { d(call, request, response, std::move(done), 0); };
    } else {
      entry.stream = [this, name](rpc::Call& call, const google::protobuf::Message& request,
                                  std::shared_ptr<rpc::StreamSink> sink) {
        std::shared_ptr<ProjectionCopy> copy = Current();
        copy->methods().Find(name)->stream(call, request, std::move(sink));
      };
    }
    table.Insert(std::move(entry));
  }
}

absl::Status ProjectionSlot::Start() {
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("already started");
  RETURN_IF_ERROR(current_->Start());
  started_ = true;
  if (resume_) {
    resume_ = false;
    spdlog::info(
        "projection {}: starting the rebuild of generation {} (left unfinished, or the "
        "stored layout is older)",
        options_.name, generation_ + 1);
    StartRebuildThread();
  }
  return absl::OkStatus();
}

absl::Status ProjectionSlot::Stop() {
  cancel_ = true;
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  started_ = false;
  if (current_ == nullptr) return absl::OkStatus();
  return current_->Stop();
}

void ProjectionSlot::AbandonWaits() {
  if (std::shared_ptr<ProjectionCopy> copy = Current()) {
    copy->AbandonWaits(absl::UnavailableError("shutting down: consistency-token wait abandoned"));
  }
}

absl::Status ProjectionSlot::Assign(const std::vector<Partition>& partitions) {
  // A runtime's Assign may read the log (its end, published changes): under
  // the ownership lock only, so that calls (Current) never wait on it.
  absl::MutexLock ownership(&ownership_mu_);
  std::shared_ptr<ProjectionCopy> serving;
  std::shared_ptr<ProjectionCopy> building;
  {
    absl::MutexLock lock(&mu_);
    for (Partition p : partitions) {
      if (std::find(assigned_.begin(), assigned_.end(), p) == assigned_.end()) {
        assigned_.push_back(p);
      }
    }
    serving = current_;
    building = building_;
  }
  absl::Status status = serving->runtime().Assign(partitions);
  if (building != nullptr) status.Update(building->runtime().Assign(partitions));
  return status;
}

void ProjectionSlot::Revoke(const std::vector<Partition>& partitions) {
  absl::MutexLock ownership(&ownership_mu_);
  std::shared_ptr<ProjectionCopy> serving;
  std::shared_ptr<ProjectionCopy> building;
  {
    absl::MutexLock lock(&mu_);
    for (Partition p : partitions) {
      assigned_.erase(std::remove(assigned_.begin(), assigned_.end(), p), assigned_.end());
    }
    serving = current_;
    building = building_;
  }
  serving->runtime().Revoke(partitions);
  if (building != nullptr) building->runtime().Revoke(partitions);
}

absl::Status ProjectionSlot::Rebuild() {
  absl::MutexLock lock(&mu_);
  if (!started_) return absl::FailedPreconditionError("projection is not serving yet");
  if (running_) return absl::OkStatus();
  if (!options_.own_all && assigned_.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "projection ", options_.name,
        ": this instance owns none of its partitions; call the instance that does (Admin.Status "
        "names the owners)"));
  }
  StartRebuildThread();
  return absl::OkStatus();
}

void ProjectionSlot::StartRebuildThread() {
  if (thread_.joinable()) thread_.join();  // the last rebuild's, finished
  running_ = true;
  cancel_ = false;
  progress_.set_running(true);
  progress_.set_applied(0);
  progress_.set_target(0);
  progress_.set_percent(0);
  progress_.set_records_per_second(0);
  progress_.set_eta_seconds(-1);
  progress_.clear_error();
  progress_.clear_finished_at();
  *progress_.mutable_started_at() = event::ToProto(absl::Now());
  progress_since_ = absl::Now();
  progress_from_ = 0;
  thread_ = std::thread([this] { RunRebuild(); });
}

void ProjectionSlot::RunRebuild() {
  absl::Status s = BuildAndSwap();
  if (!s.ok() && !cancel_) {
    spdlog::error("projection {}: rebuild stopped: {}", options_.name, s.ToString());
  }
  absl::MutexLock lock(&mu_);
  running_ = false;
  building_.reset();
  progress_.set_running(false);
  if (!s.ok()) progress_.set_error(std::string(s.message()));
  *progress_.mutable_finished_at() = event::ToProto(absl::Now());
}

v1::RebuildProgress ProjectionSlot::Progress() const {
  absl::MutexLock lock(&mu_);
  return progress_;
}

void ProjectionSlot::Measure(projection::ProjectionRuntime& building,
                             projection::ProjectionRuntime& serving) {
  const std::vector<Offset> built = building.AppliedOffsets();
  const std::vector<Offset> served = serving.AppliedOffsets();
  absl::MutexLock lock(&mu_);
  const int64_t applied = Sum(built, assigned_);
  const int64_t target = std::max(applied, Sum(served, assigned_));
  const absl::Duration took = absl::Now() - progress_since_;
  const double rate =
      static_cast<double>(applied - progress_from_) / std::max(absl::ToDoubleSeconds(took), 1e-3);
  progress_.set_applied(applied);
  progress_.set_target(target);
  progress_.set_percent(target == 0 ? 100 : static_cast<int32_t>(applied * 100 / target));
  progress_.set_records_per_second(static_cast<int64_t>(rate));
  progress_.set_eta_seconds(rate >= 1 ? static_cast<int64_t>((target - applied) / rate) : -1);
}

absl::Status ProjectionSlot::BuildAndSwap() {
  int64_t g;
  std::vector<Partition> assigned;
  {
    absl::MutexLock lock(&mu_);
    g = generation_;
    assigned = assigned_;
  }
  const std::string path = PathOf(g + 1);
  spdlog::info("projection {}: rebuilding into {}", options_.name, path);
  ASSIGN_OR_RETURN(std::shared_ptr<ProjectionCopy> copy, options_.open(path, /*bulk=*/true));
  if (copy->runtime().state_outdated()) {
    // A rebuild an earlier build began: its layout is not this build's.
    spdlog::info("projection {}: {} is of layout {}: starting it again", options_.name, path,
                 copy->runtime().stored_state_version());
    copy.reset();
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("remove ", path, ": ", ec.message()));
    ASSIGN_OR_RETURN(copy, options_.open(path, /*bulk=*/true));
  }
  // What replays discarded stays discarded in the new copy.
  RETURN_IF_ERROR(copy->runtime().ImportDiscarded(Runtime()->Discarded()));
  {
    absl::MutexLock ownership(&ownership_mu_);
    {
      absl::MutexLock lock(&mu_);
      building_ = copy;
      assigned = assigned_;
      progress_from_ = Sum(copy->runtime().AppliedOffsets(), assigned);  // a resumed rebuild
    }
    if (!assigned.empty()) RETURN_IF_ERROR(copy->runtime().Assign(assigned));
  }
  // Bulk: from offset 0 (or where a crash left it) to the log end.
  while (true) {
    ASSIGN_OR_RETURN(const int64_t n, copy->runtime().BulkPass([&] {
      Measure(copy->runtime(), *Runtime());
      return !cancel_;
    }));
    if (cancel_) {
      // What was built so far is kept for the next start to resume.
      (void)copy->runtime().mutable_store().Flush();
      return absl::CancelledError("stopped");
    }
    if (n == 0) break;
  }
  // Durable from here on; what follows is committed with the WAL.
  RETURN_IF_ERROR(copy->runtime().FinishBulk());

  std::shared_ptr<ProjectionCopy> old;
  {
    // No ownership change meanwhile. Calls keep going to the serving copy
    // (Current takes only mu_) until the pointer changes below.
    absl::MutexLock ownership(&ownership_mu_);
    if (cancel_) return absl::CancelledError("stopped");
    std::shared_ptr<ProjectionCopy> serving;
    std::vector<Partition> owned;
    {
      absl::MutexLock lock(&mu_);
      serving = current_;
      owned = assigned_;
    }
    // The old copy stops applying (it answers from what it has); the new one
    // takes what arrived since, and the old one's outbox is published.
    RETURN_IF_ERROR(serving->Stop());
    auto give_back = [&](absl::Status why) {
      (void)serving->Start();
      return why;
    };
    while (true) {
      absl::StatusOr<int64_t> n = copy->runtime().BulkPass();
      if (!n.ok()) return give_back(n.status());
      if (*n == 0) break;
    }
    const std::vector<Offset> served = serving->runtime().AppliedOffsets();
    const std::vector<Offset> built = copy->runtime().AppliedOffsets();
    for (size_t i = 0; i < served.size() && i < built.size(); ++i) {
      const bool mine = owned.empty() || std::find(owned.begin(), owned.end(),
                                                   Partition(static_cast<int>(i))) != owned.end();
      if (mine && built[i].value() < served[i].value()) {
        return give_back(absl::InternalError(absl::StrCat("partition ", i, ": the new copy is at ",
                                                          built[i].value(), ", the serving one at ",
                                                          served[i].value())));
      }
    }
    absl::Status ready = copy->CatchUpHelpers();
    // A projection whose changes continue the published ids takes up where
    // the old copy's publications stopped.
    if (ready.ok()) ready = copy->runtime().ReseedOwned();
    if (ready.ok()) ready = WriteGeneration(options_, g + 1);
    if (!ready.ok()) return give_back(ready);
    // Swapped: the new copy serves from here.
    {
      absl::MutexLock lock(&mu_);
      old = std::move(current_);
      current_ = copy;
      building_.reset();
      generation_ = g + 1;
      progress_.set_generation(generation_);
    }
    if (absl::Status s = copy->Start(); !s.ok()) {
      spdlog::error("projection {}: starting the new copy: {}", options_.name, s.ToString());
    }
  }
  Measure(copy->runtime(), copy->runtime());
  copy.reset();
  // Calls waiting on the old copy are answered again by the new one.
  old->AbandonWaits(absl::AbortedError(kRetired));
  spdlog::info("projection {}: generation {} serves; dropping {}", options_.name, g + 1, PathOf(g));
  // Calls still reading the old copy finish first (each holds it).
  const absl::Time deadline = absl::Now() + absl::Minutes(1);
  while (old.use_count() > 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  if (old.use_count() > 1) {
    spdlog::warn(
        "projection {}: the old copy is still in use; its directory is dropped at the "
        "next start",
        options_.name);
    return absl::OkStatus();
  }
  old.reset();
  std::error_code ec;
  fs::remove_all(PathOf(g), ec);
  if (ec) spdlog::warn("projection {}: dropping {}: {}", options_.name, PathOf(g), ec.message());
  return absl::OkStatus();
}

}  // namespace custops::app

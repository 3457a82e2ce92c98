// A directory of static files (the ops console's build output) held in
// memory and served from it: loaded once at start, so a request touches no
// disk, and a path can only name a file that was loaded (no traversal).
//
//   ASSIGN_OR_RETURN(StaticFiles files, StaticFiles::Load("build/console"));
//   if (const StaticFiles::File* f = files.Find(request.path)) ...
//   // or: files.Serve(request, exchange) answers GET/HEAD of its files.
//
// Content types come from the extension; `name.gz` beside `name` is its
// gzip encoding, sent to clients that accept gzip. Files under `assets/`
// carry a content hash in their names (Vite's output) and are cached for a
// year; everything else must be revalidated.
#ifndef CUSTOPS_RPC_STATIC_FILES_H_
#define CUSTOPS_RPC_STATIC_FILES_H_

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "custops/rpc/http_server.h"

namespace custops::rpc {

class StaticFiles {
 public:
  struct File {
    std::string content_type;
    std::string body;
    std::string gzip;  // the .gz beside it; "" when none
  };

  // Loads every regular file under `dir` (recursively; at most `max_bytes`
  // in all). NOT_FOUND when `dir` does not exist or holds no index.html;
  // RESOURCE_EXHAUSTED past `max_bytes`.
  static absl::StatusOr<StaticFiles> Load(const std::string& dir,
                                          size_t max_bytes = size_t{64} << 20);

  // The file at URL path `path` ("/" is "/index.html"); nullptr when none.
  const File* Find(const std::string& path) const;

  // Answers a GET or HEAD of one of the files (200, or 304 for a matching
  // If-None-Match) and returns true; false when `request` names no file.
  bool Serve(const HttpRequest& request, HttpExchange& exchange) const;

  size_t file_count() const { return files_.size(); }

 private:
  std::map<std::string, File, std::less<>> files_;  // by URL path: "/assets/x.js"
  std::string etag_;                                // of the whole set
};

}  // namespace custops::rpc

#endif  // CUSTOPS_RPC_STATIC_FILES_H_

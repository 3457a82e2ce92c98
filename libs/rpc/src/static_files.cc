#include "custops/rpc/static_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace custops::rpc {
namespace {

namespace fs = std::filesystem;

std::string ContentTypeOf(const std::string& path) {
  static const std::map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
  };
  auto it = kTypes.find(fs::path(path).extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

bool AcceptsGzip(const HttpRequest& request) {
  return absl::StrContains(request.Header("accept-encoding"), "gzip");
}

}  // namespace

absl::StatusOr<StaticFiles> StaticFiles::Load(const std::string& dir, size_t max_bytes) {
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(dir) / "index.html", ec)) {
    return absl::NotFoundError(absl::StrCat(dir, " holds no index.html"));
  }
  StaticFiles out;
  size_t total = 0;
  size_t hash = 0;
  std::map<std::string, std::string> gzipped;  // URL path of the plain file -> .gz bytes
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in.good() && !in.eof()) {
      return absl::UnavailableError(absl::StrCat("cannot read ", it->path().string()));
    }
    total += static_cast<size_t>(it->file_size(ec));
    if (total > max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat(dir, " holds more than ", max_bytes, " bytes of files"));
    }
    std::string url = "/" + fs::relative(it->path(), dir, ec).generic_string();
    hash = absl::HashOf(hash, url, body.str());
    if (absl::EndsWith(url, ".gz")) {
      gzipped[url.substr(0, url.size() - 3)] = body.str();
      continue;
    }
    out.files_[url] = File{.content_type = ContentTypeOf(url), .body = body.str()};
  }
  if (ec) return absl::UnavailableError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  for (auto& [url, gz] : gzipped) {
    auto it = out.files_.find(url);
    if (it != out.files_.end()) it->second.gzip = std::move(gz);
  }
  out.etag_ = absl::StrCat("\"", absl::Hex(hash), "\"");
  return out;
}

const StaticFiles::File* StaticFiles::Find(const std::string& path) const {
  auto it = files_.find(path == "/" ? "/index.html" : path);
  return it == files_.end() ? nullptr : &it->second;
}

bool StaticFiles::Serve(const HttpRequest& request, HttpExchange& exchange) const {
  if (request.method != "GET" && request.method != "HEAD") return false;
  const File* file = Find(request.path);
  if (file == nullptr) return false;
  HttpResponse response{.content_type = file->content_type};
  const bool immutable = absl::StartsWith(request.path, "/assets/");
  response.headers.emplace_back("Cache-Control",
                                immutable ? "public, max-age=31536000, immutable" : "no-cache");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (absl::StartsWith(file->content_type, "text/html")) {
    // The console talks only to this server and is never framed.
    response.headers.emplace_back("Content-Security-Policy",
                                  "default-src 'self'; img-src 'self' data:; style-src 'self' "
                                  "'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'");
    response.headers.emplace_back("X-Frame-Options", "DENY");
  }
  if (!immutable) {
    response.headers.emplace_back("ETag", etag_);
    if (request.Header("if-none-match") == etag_) {
      response.status = 304;
      response.content_type.clear();
      exchange.Respond(std::move(response));
      return true;
    }
  }
  if (!file->gzip.empty()) {
    response.headers.emplace_back("Vary", "Accept-Encoding");
    if (AcceptsGzip(request)) response.headers.emplace_back("Content-Encoding", "gzip");
  }
  // For HEAD too: MHD sends the length and leaves the body out.
  response.body = !file->gzip.empty() && AcceptsGzip(request) ? file->gzip : file->body;
  exchange.Respond(std::move(response));
  return true;
}

}  // namespace custops::rpc

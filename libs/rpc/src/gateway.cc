// The Gateway's dispatch, whatever the transport (custops/rpc/gateway.h):
// admission (credentials and roles, the audit log, per-method size limits
// and prechecks), then a unary call's routing, parse and Timestamp checks
// and its handler; and the wire helpers the parse uses (UTF-8, the
// description of a parse error, counting a field on the wire). The gRPC
// adapter, including the Gateway's constructor, is in grpc_transport.cc;
// Call and the MethodTable are in method_table.cc.
#include "custops/rpc/gateway.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <spdlog/spdlog.h>

#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/rpc/log_limiter.h"
#include "gateway_internal.h"

namespace custops::rpc {
namespace {

namespace pb = google::protobuf;
using gateway_internal::TimestampProblem;
using WireType = int;
constexpr WireType kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kStartGroup = 3, kEndGroup = 4,
                   kFixed32 = 5;

}  // namespace

// ---- wire helpers ----

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (int k = 1; k <= n; ++k) {
      if (i + k >= s.size() || (p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

namespace {

// Walks `raw` as a message of `type` (nullptr: unknown, only the framing
// is checked) and reports the first string field holding invalid UTF-8 or
// the first framing error. Empty when the walk finds nothing.
std::string Walk(const pb::Descriptor* type, std::string_view raw, const std::string& path,
                 int depth) {
  if (depth > 64) return absl::StrCat(path.empty() ? "request" : path, ": nested too deeply");
  pb::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(raw.data()),
                              static_cast<int>(raw.size()));
  std::map<int, int> seen;  // field number -> occurrences so far (for [i])
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      if (in.CurrentPosition() < static_cast<int>(raw.size())) {
        return absl::StrCat("malformed field tag at byte ", in.CurrentPosition());
      }
      return "";
    }
    const int number = static_cast<int>(tag >> 3);
    const WireType wire = static_cast<WireType>(tag & 7);
    const pb::FieldDescriptor* field = type ? type->FindFieldByNumber(number) : nullptr;
    std::string name = field ? field->name() : absl::StrCat("field ", number);
    const int index = seen[number]++;
    if (field && field->is_repeated()) absl::StrAppend(&name, "[", index, "]");
    const std::string here = path.empty() ? name : absl::StrCat(path, ".", name);
    switch (wire) {
      case kVarint: {
        uint64_t v;
        if (!in.ReadVarint64(&v)) return absl::StrCat(here, ": truncated varint");
        break;
      }
      case kFixed64: {
        uint64_t v;
        if (!in.ReadLittleEndian64(&v)) return absl::StrCat(here, ": truncated");
        break;
      }
      case kFixed32: {
        uint32_t v;
        if (!in.ReadLittleEndian32(&v)) return absl::StrCat(here, ": truncated");
        break;
      }
      case kLengthDelimited: {
        uint32_t length;
        if (!in.ReadVarint32(&length)) return absl::StrCat(here, ": truncated length");
        const int at = in.CurrentPosition();
        if (length > raw.size() - static_cast<size_t>(at)) {
          return absl::StrCat(here, ": length ", length, " runs past the end of the message");
        }
        const std::string_view bytes = raw.substr(at, length);
        if (!in.Skip(static_cast<int>(length))) return absl::StrCat(here, ": truncated");
        if (field == nullptr) break;
        if (field->type() == pb::FieldDescriptor::TYPE_STRING && !ValidUtf8(bytes)) {
          return absl::StrCat(here, ": invalid UTF-8");
        }
        if (field->type() == pb::FieldDescriptor::TYPE_MESSAGE) {
          std::string inner = Walk(field->message_type(), bytes, here, depth + 1);
          if (!inner.empty()) return inner;
        }
        break;
      }
      case kStartGroup:
      case kEndGroup:
        return absl::StrCat(here, ": groups are not used by this API");
      default:
        return absl::StrCat(here, ": unknown wire type ", wire);
    }
  }
}

// Equal without a timing side channel.
bool SameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

absl::StatusOr<int64_t> CountField(std::string_view raw, int field_number) {
  pb::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(raw.data()),
                              static_cast<int>(raw.size()));
  int64_t count = 0;
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    if (static_cast<int>(tag >> 3) == field_number) ++count;
    if (!pb::internal::WireFormatLite::SkipField(&in, tag)) {
      return absl::InvalidArgumentError("request is not a valid message (truncated)");
    }
  }
  if (in.CurrentPosition() < static_cast<int>(raw.size())) {
    return absl::InvalidArgumentError("request is not a valid message (malformed tag)");
  }
  return count;
}

std::string DescribeParseError(const pb::Descriptor& type, std::string_view raw) {
  std::string why = Walk(&type, raw, "", 0);
  if (why.empty()) return absl::StrCat("request is not a valid ", type.full_name());
  return absl::StrCat("request is not a valid ", type.full_name(), ": ", why);
}

// ---- admission ----

bool Allows(const Identity& identity, Access access) {
  switch (access) {
    case Access::kEmitter:
      return identity.Has(Role::kEmitter);
    case Access::kReader:
      return identity.Has(Role::kReader);
    case Access::kAdmin:
      return identity.Has(Role::kAdmin);
    case Access::kPublic:
      return true;
  }
  return false;
}

bool Audited(const MethodEntry& entry) {
  return entry.access == Access::kAdmin || absl::StartsWith(entry.name, "custops.v1.Admin/");
}

size_t Gateway::max_request_bytes() const {
  size_t m = options_.max_request_bytes;
  for (const auto& [name, limit] : options_.max_request_bytes_by_method) m = std::max(m, limit);
  return m;
}

absl::Status Gateway::TooLarge(const MethodEntry& entry, size_t size) const {
  return absl::ResourceExhaustedError(absl::StrCat("request of ", size, " bytes exceeds the ",
                                                   LimitOf(entry), "-byte limit of ", entry.name,
                                                   " (server.max_request_bytes)"));
}

size_t Gateway::LimitOf(const MethodEntry& entry) const {
  auto it = options_.max_request_bytes_by_method.find(entry.name);
  return it == options_.max_request_bytes_by_method.end() ? options_.max_request_bytes : it->second;
}

void Gateway::Audit(const Identity& identity, const std::string& method, const absl::Status& s,
                    std::string_view peer) {
  static LogLimiter limiter(absl::Seconds(1), 50);
  if (!limiter.Allow()) return;
  spdlog::info("audit: sub={} method={} outcome={} peer={}", identity.subject, method,
               s.ok() ? "OK" : absl::StatusCodeToString(s.code()), peer);
}

absl::StatusOr<Identity> Gateway::Authorize(const MethodEntry& entry,
                                            std::string_view authorization,
                                            std::string_view peer) const {
  if (verifier_ == nullptr) return Identity::Anonymous();
  // No token needed (health): a caller without roles, counted by address.
  if (entry.access == Access::kPublic) return Identity{};
  if (!options_.internal_token.empty() &&
      SameSecret(authorization, absl::StrCat("Bearer ", options_.internal_token))) {
    Identity self = Identity::Anonymous();
    self.subject = "custops (this process)";
    return self;
  }
  absl::StatusOr<Identity> identity = verifier_->Verify(authorization);
  if (!identity.ok()) {
    Identity unknown;
    unknown.subject = "-";
    Audit(unknown, entry.name, identity.status(), peer);
    return identity.status();
  }
  if (!Allows(*identity, entry.access)) {
    const absl::Status denied =
        absl::PermissionDeniedError(absl::StrCat(entry.name, " needs the ",
                                                 entry.access == Access::kEmitter  ? "emitter"
                                                 : entry.access == Access::kReader ? "reader"
                                                                                   : "admin",
                                                 " role"));
    Audit(*identity, entry.name, denied, peer);
    return denied;
  }
  return identity;
}

absl::StatusOr<Identity> Gateway::Admit(const MethodEntry& entry, std::string_view authorization,
                                        std::string_view peer, std::string_view raw) const {
  ASSIGN_OR_RETURN(Identity identity, Authorize(entry, authorization, peer));
  RETURN_IF_ERROR(Check(entry, raw));
  return identity;
}

absl::Status Gateway::Check(const MethodEntry& entry, std::string_view raw) const {
  if (raw.size() > LimitOf(entry)) return TooLarge(entry, raw.size());
  if (entry.precheck) RETURN_IF_ERROR(entry.precheck(raw));
  return absl::OkStatus();
}

std::string Gateway::ClientOf(const Identity& identity, std::string_view peer) const {
  return verifier_ && !identity.subject.empty() ? identity.subject : std::string(peer);
}

// ---- dispatch ----

void Gateway::Dispatch(const MethodEntry& entry, std::unique_ptr<UnaryCall> owned,
                       absl::Time started) {
  UnaryCall* call = owned.release();  // Finish deletes it
  call->stats_ = stats_.get();
  call->started_ = started;
  if (entry.router) {
    RawDone raw_done = [call](absl::StatusOr<std::string> bytes) {
      call->Finish(std::move(bytes));
    };
    if (entry.router(*call, raw_done)) return;
  }
  pb::MessageFactory* factory = pb::MessageFactory::generated_factory();
  call->request.reset(factory->GetPrototype(entry.descriptor->input_type())->New());
  if (!call->request->ParseFromString(call->raw_request())) {
    call->Finish(absl::InvalidArgumentError(
        DescribeParseError(*entry.descriptor->input_type(), call->raw_request())));
    return;
  }
  if (std::string bad = TimestampProblem(*call->request, timestamp_types_); !bad.empty()) {
    call->Finish(absl::InvalidArgumentError(bad));
    return;
  }
  call->response.reset(factory->GetPrototype(entry.descriptor->output_type())->New());
  entry.unary(*call, *call->request, call->response.get(), [this, call](absl::Status s) {
    if (!s.ok()) {
      call->Finish(std::move(s));
      return;
    }
    if (std::string bad = TimestampProblem(*call->response, timestamp_types_); !bad.empty()) {
      // An answer that cannot be written as a valid Timestamp: the request
      // reaches past the range (a period at year 1 or 9999).
      call->Finish(absl::InvalidArgumentError(
          absl::StrCat("the answer would hold a time outside 0001-01-01..9999-12-31 (", bad,
                       "): ask for an instant further from the range's ends")));
      return;
    }
    call->Finish(call->response->SerializeAsString());
  });
}

}  // namespace custops::rpc

#include "custops/rpc/metrics.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace custops::rpc {
namespace {

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 9e15) return absl::StrCat(static_cast<int64_t>(v));
  return absl::StrCat(v);
}

std::string EscapeLabel(const std::string& v) {
  return absl::StrReplaceAll(v, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

}  // namespace

void MetricsWriter::Counter(const std::string& name, const std::string& help, const Labels& labels,
                            double value) {
  Sample(name, help, "counter", labels, value);
}

void MetricsWriter::Gauge(const std::string& name, const std::string& help, const Labels& labels,
                          double value) {
  Sample(name, help, "gauge", labels, value);
}

void MetricsWriter::Sample(const std::string& name, const std::string& help, const char* type,
                           const Labels& labels, double value) {
  if (std::find(declared_.begin(), declared_.end(), name) == declared_.end()) {
    declared_.push_back(name);
    absl::StrAppend(&out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  }
  out_ += name;
  if (!labels.empty()) {
    out_ += "{";
    for (size_t i = 0; i < labels.size(); ++i) {
      absl::StrAppend(&out_, i ? "," : "", labels[i].first, "=\"", EscapeLabel(labels[i].second),
                      "\"");
    }
    out_ += "}";
  }
  absl::StrAppend(&out_, " ", FormatValue(value), "\n");
}

void MetricsRegistry::AddCollector(Collector collector) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::Render() const {
  MetricsWriter writer;
  absl::MutexLock lock(&mu_);
  for (const Collector& c : collectors_) c(writer);
  return writer.Take();
}

}  // namespace custops::rpc

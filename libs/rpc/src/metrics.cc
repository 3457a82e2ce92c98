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

void MetricsWriter::Histogram(const std::string& name, const std::string& help,
                              const Labels& labels,
                              const std::vector<std::pair<double, int64_t>>& buckets, int64_t count,
                              double sum) {
  Declare(name, help, "histogram");
  for (const auto& [le, n] : buckets) {
    Labels with_le = labels;
    with_le.emplace_back("le", absl::StrCat(le));
    Line(name + "_bucket", with_le, static_cast<double>(n));
  }
  Labels inf = labels;
  inf.emplace_back("le", "+Inf");
  Line(name + "_bucket", inf, static_cast<double>(count));
  Line(name + "_sum", labels, sum);
  Line(name + "_count", labels, static_cast<double>(count));
}

void MetricsWriter::Declare(const std::string& name, const std::string& help, const char* type) {
  if (std::find(declared_.begin(), declared_.end(), name) != declared_.end()) return;
  declared_.push_back(name);
  absl::StrAppend(&out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

void MetricsWriter::Line(const std::string& name, const Labels& labels, double value) {
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

void MetricsWriter::Sample(const std::string& name, const std::string& help, const char* type,
                           const Labels& labels, double value) {
  Declare(name, help, type);
  Line(name, labels, value);
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

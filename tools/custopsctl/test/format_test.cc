#include "custops/ctl/format.h"

#include <string>

#include "custops/v1/admin.pb.h"
#include "custops/v1/lifecycle.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(DisplayWidthTest, WideCharactersTakeTwoCells) {
  EXPECT_EQ(DisplayWidth(""), 0u);
  EXPECT_EQ(DisplayWidth("rep-01"), 6u);
  EXPECT_EQ(DisplayWidth("华东"), 4u);
  EXPECT_EQ(DisplayWidth("CRM专业版"), 9u);
  EXPECT_EQ(DisplayWidth("（北京）"), 8u);  // full-width parentheses
  EXPECT_EQ(DisplayWidth("é"), 1u);
  EXPECT_EQ(DisplayWidth("\xff\xfe"), 2u);  // invalid bytes: one cell each
  EXPECT_EQ(DisplayWidth("\xe5\x8d"), 2u);  // truncated sequence
}

TEST(TableTest, AlignsByDisplayWidthNumbersRight) {
  Table t({"REGION", "COUNT"});
  t.AddRow({"华东", "120"});
  t.AddRow({"西南", "7"});
  t.AddRow({"north", ""});
  EXPECT_EQ(t.Render(),
            "REGION  COUNT\n"
            "华东      120\n"
            "西南        7\n"
            "north\n");
}

TEST(TableTest, MissingCellsAreBlank) {
  Table t({"A", "B", "C"});
  t.AddRow({"x"});
  EXPECT_EQ(t.Render(), "A  B  C\nx\n");
}

v1::StageCount Count(const std::string& value, v1::LifecycleStage stage, v1::SubStage sub,
                     int64_t n) {
  v1::StageCount c;
  c.set_dimension_value(value);
  c.set_stage(stage);
  c.set_sub_stage(sub);
  c.set_count(n);
  return c;
}

TEST(FormatStageSummaryTest, PivotsByDimensionValue) {
  v1::StageSummaryResponse r;
  r.set_dimension(v1::DIMENSION_REGION);
  r.mutable_as_of()->set_seconds(1751299200);
  *r.add_counts() = Count("华东", v1::LIFECYCLE_STAGE_PROSPECT, v1::SUB_STAGE_UNSPECIFIED, 10);
  *r.add_counts() = Count("华东", v1::LIFECYCLE_STAGE_CUSTOMER, v1::SUB_STAGE_NEW, 3);
  *r.add_counts() = Count("华东", v1::LIFECYCLE_STAGE_CUSTOMER, v1::SUB_STAGE_STABLE, 4);
  *r.add_counts() = Count("华南", v1::LIFECYCLE_STAGE_INTENT, v1::SUB_STAGE_UNSPECIFIED, 5);
  *r.add_counts() = Count("华南", v1::LIFECYCLE_STAGE_LOST, v1::SUB_STAGE_UNSPECIFIED, 1);
  r.set_total(23);
  EXPECT_EQ(FormatStageSummary(r),
            "stage summary by REGION as of 2025-06-30T16:00:00Z\n"
            "\n"
            "REGION  PROSPECT  INTENT  CUSTOMER  NEW  GROWING  STABLE  DECLINING  LOST  TOTAL\n"
            "华东          10       0         7    3        0       4          0     0     17\n"
            "华南           0       5         0    0        0       0          0     1      6\n"
            "TOTAL         10       5         7    3        0       4          0     1     23\n"
            "\n"
            "total: 23\n");
}

TEST(FormatStageSummaryTest, AllDimensionHasOneRow) {
  v1::StageSummaryResponse r;
  r.set_dimension(v1::DIMENSION_ALL);
  *r.add_counts() = Count("", v1::LIFECYCLE_STAGE_INTENT, v1::SUB_STAGE_UNSPECIFIED, 2);
  *r.add_counts() = Count("", v1::LIFECYCLE_STAGE_UNSPECIFIED, v1::SUB_STAGE_UNSPECIFIED, 1);
  r.set_total(3);
  const std::string out = FormatStageSummary(r);
  EXPECT_THAT(out, HasSubstr("ALL    PROSPECT  INTENT"));
  EXPECT_THAT(out, HasSubstr("OTHER  TOTAL\n(all)"));
  EXPECT_THAT(out, Not(HasSubstr("\nTOTAL")));
  EXPECT_THAT(out, HasSubstr("total: 3\n"));
}

TEST(FormatStatusTest, ShowsTopicsProjectionsPartitionsAndReasons) {
  v1::StatusResponse s;
  s.set_mode("embedded");
  s.set_version("0.1.0");
  s.set_dead_letters(2);
  v1::TopicStatus* topic = s.add_topics();
  topic->set_topic("custops.customer-events.v1");
  v1::PartitionStatus* tp = topic->add_partitions();
  tp->set_partition(0);
  tp->set_log_end(100);
  v1::ProjectionStatus* p = s.add_projections();
  p->set_name("lifecycle");
  p->set_topic("custops.customer-events.v1");
  p->set_events_applied(98);
  p->set_noops(3);
  p->set_dead_letters(2);
  v1::PartitionStatus* pp = p->add_partitions();
  pp->set_partition(0);
  pp->set_applied_offset(98);
  pp->set_log_end(100);
  pp->set_lag(2);
  v1::ReasonCount* reason = p->add_noops_by_reason();
  reason->set_reason("unknown_complaint");
  reason->set_count(3);
  const std::string out = FormatStatus(s);
  EXPECT_THAT(out, HasSubstr("mode: embedded\nversion: 0.1.0\ndead letters: 2\n"));
  EXPECT_THAT(out, HasSubstr("TOPIC                       PARTITION  LOG START  LOG END\n"
                             "custops.customer-events.v1          0          0      100\n"));
  EXPECT_THAT(out, HasSubstr("PROJECTION  TOPIC                       APPLIED  LAG  NOOPS  "
                             "DEAD LETTERS  CHANGES  OUTBOX\n"
                             "lifecycle   custops.customer-events.v1       98    2      3"));
  EXPECT_THAT(out, HasSubstr("PROJECTION  PARTITION  APPLIED OFFSET  LOG END  LAG\n"
                             "lifecycle           0              98      100    2\n"));
  EXPECT_THAT(out, HasSubstr("PROJECTION  NOOP REASON        COUNT\n"
                             "lifecycle   unknown_complaint      3\n"));
}

}  // namespace
}  // namespace custops::ctl

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

TEST(TableTest, AlignsCjkCombiningAndFullwidthText) {
  Table t({"名称", "营收"});
  t.AddRow({"Cafe\u0301", "¥1,234.50"});  // e + combining acute: 4 cells
  t.AddRow({"（北京）", "—"});            // null cells do not make a column text
  t.AddRow({"华东", "-¥5.00"});
  EXPECT_EQ(t.Render(),
            "名称           营收\n"
            "Cafe\u0301      ¥1,234.50\n"
            "（北京）          —\n"
            "华东         -¥5.00\n");
}

TEST(TableTest, ExplicitAlignment) {
  Table t({"K", "V"});
  t.AddRow({"a", "1"});
  t.AddRow({"bb", "22"});
  t.SetAlign(0, Table::Align::kRight);
  t.SetAlign(1, Table::Align::kLeft);
  EXPECT_EQ(t.Render(), " K  V\n a  1\nbb  22\n");
  EXPECT_EQ(t.rows(), 2u);
}

TEST(LooksNumericTest, NumbersWithUnits) {
  for (const char* cell :
       {"0", "1,234", "-42", "¥1,234,567.89", "-¥0.05", "75.0%", "↑12.5%", "↓3.0%", "+2", "90.5 天",
        "90.5 days", "8.2 小时", "8.2 h", "66.3‰", "1,234.50 USD"}) {
    EXPECT_TRUE(LooksNumeric(cell)) << cell;
  }
  for (const char* cell : {"", "—", "华东", "rep-01", "1.2.3", "1,2", ",12", "12.", "¥", "%",
                           "R4 F5 M5", "9 / 93", "2024-03", "1.00 usd"}) {
    EXPECT_FALSE(LooksNumeric(cell)) << cell;
  }
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

TEST(FormatDeadLettersTest, OneRowPerDeadLetterWithItsSourceAndReason) {
  v1::ListDeadLettersResponse page;
  v1::DeadLetterEntry* e = page.add_dead_letters();
  e->set_partition(3);
  e->set_offset(17);
  v1::DeadLetter* d = e->mutable_dead_letter();
  d->set_projection("review");
  d->set_reason("invalid_event: event.contract_signed.amount.currency: must be CNY");
  d->set_source_topic("custops.customer-events.v1");
  d->set_source_partition(5);
  d->set_source_offset(42);
  d->set_key("C1");
  d->mutable_recorded_at()->set_seconds(1'795'392'000);
  const std::string out = FormatDeadLetters(page);
  EXPECT_THAT(out, HasSubstr("PARTITION"));
  EXPECT_THAT(out, HasSubstr("custops.customer-events.v1/5@42"));
  EXPECT_THAT(out, HasSubstr("2026-11-23T00:00:00Z"));
  EXPECT_THAT(out, HasSubstr("must be CNY"));
  EXPECT_THAT(out, HasSubstr("1 dead letters"));
}

TEST(FormatReplayTest, SaysWhatWasReleasedAndWhatStillWaits) {
  v1::ReplayDeadLettersResponse r;
  r.set_customers_released(2);
  r.set_events_replayed(9);
  r.set_customers_parked(1);
  r.set_events_parked(4);
  v1::ParkedCustomer* c = r.add_parked();
  c->set_customer_id("C7");
  c->set_partition(2);
  c->set_parked_events(4);
  c->set_head_offset(1234);
  c->set_reason("apply_error: exploded");
  r.add_partitions_not_owned(5);
  r.add_partitions_not_owned(6);
  const std::string out = FormatReplay(r);
  EXPECT_THAT(out, HasSubstr("released: 2 customers, 9 records\n"));
  EXPECT_THAT(out, HasSubstr("still parked: 1 customers, 4 records\n"));
  EXPECT_THAT(out, HasSubstr("CUSTOMER  PARTITION  PARKED  HEAD OFFSET  REASON"));
  EXPECT_THAT(out, HasSubstr("C7                2       4         1234  apply_error: exploded"));
  EXPECT_THAT(out, HasSubstr("(replay there): 5, 6"));
  EXPECT_THAT(out, Not(HasSubstr("more to replay")));
}

TEST(FormatRebuildTest, RunningSwappedAndFailed) {
  v1::RebuildProgress p;
  p.set_running(true);
  p.set_generation(1);
  p.set_percent(45);
  p.set_applied(13500);
  p.set_target(30000);
  p.set_records_per_second(21000);
  p.set_eta_seconds(1);
  EXPECT_EQ(FormatRebuild("lifecycle", p),
            "lifecycle: rebuilding generation 2: [#########...........]  45% 13500 of 30000 "
            "records, 21000 records/s, ETA 1 s");
  p.set_eta_seconds(-1);
  EXPECT_THAT(FormatRebuild("lifecycle", p), HasSubstr("ETA ?"));
  p.set_running(false);
  p.set_generation(2);
  p.mutable_started_at()->set_seconds(100);
  p.mutable_finished_at()->set_seconds(112);
  EXPECT_EQ(FormatRebuild("lifecycle", p), "lifecycle: generation 2 serves (rebuilt in 12 s)");
  p.set_error("cannot write");
  EXPECT_EQ(FormatRebuild("lifecycle", p), "lifecycle: rebuild failed: cannot write");
  EXPECT_EQ(ProgressBar(0, 4), "[....]   0%");
  EXPECT_EQ(ProgressBar(100, 4), "[####] 100%");
  EXPECT_EQ(ProgressBar(150, 4), "[####] 100%");
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
  p->set_parked_customers(1);
  p->set_parked_events(5);
  p->set_state(v1::PROJECTION_STATE_REBUILDING);
  p->mutable_rebuild()->set_running(true);
  p->mutable_rebuild()->set_percent(45);
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
  EXPECT_THAT(out, HasSubstr("PROJECTION  STATE           TOPIC                       APPLIED  "
                             "LAG  NOOPS  DEAD LETTERS  PARKED  CHANGES  OUTBOX\n"
                             "lifecycle   REBUILDING 45%  custops.customer-events.v1       98  "
                             "  2      3             2  1 (5)         0       0\n"));
  EXPECT_THAT(out, HasSubstr("PROJECTION  PARTITION  APPLIED OFFSET  LOG END  LAG\n"
                             "lifecycle           0              98      100    2\n"));
  EXPECT_THAT(out, HasSubstr("PROJECTION  NOOP REASON        COUNT\n"
                             "lifecycle   unknown_complaint      3\n"));
}

TEST(FormatCustomerListTest, OneRowPerCustomer) {
  v1::ListCustomersResponse list;
  v1::CustomerSummary* c = list.add_customers();
  c->set_customer_id("C000002");
  c->set_name("南京凯旋咨询有限公司");
  c->set_kind(v1::CUSTOMER_KIND_CUSTOMER);
  c->set_stage(v1::LIFECYCLE_STAGE_CUSTOMER);
  c->set_sub_stage(v1::SUB_STAGE_STABLE);
  c->set_region("华东");
  c->set_owner_id("rep-11");
  c->mutable_last_activity_at()->set_seconds(1751299200);
  EXPECT_EQ(
      FormatCustomerList(list, Lang::kZh),
      "客户     名称                  类型      阶段         区域  行业  负责人  MAN  最近活动\n"
      "C000002  南京凯旋咨询有限公司  CUSTOMER  成交 / 稳定  华东  —     rep-11  —    "
      "2025-06-30T16:00:00Z\n"
      "\n"
      "客户数: 1\n");
}

TEST(FormatTimelineTest, OneRowPerEvent) {
  v1::TimelineResponse t;
  v1::TimelineEntry* e = t.add_entries();
  e->mutable_position()->set_partition(3);
  e->mutable_position()->set_offset(17);
  e->mutable_event()->set_event_id("e1");
  e->mutable_event()->mutable_occurred_at()->set_seconds(1751299200);
  e->mutable_event()->set_actor_id("rep-01");
  e->mutable_event()->mutable_contract_signed()->set_contract_id("K1");
  EXPECT_EQ(FormatTimeline(t, Lang::kEn),
            "OCCURRED AT           TYPE             EVENT ID  ACTOR   POSITION\n"
            "2025-06-30T16:00:00Z  contract_signed  e1        rep-01  3:17\n"
            "\n"
            "events: 1\n");
}

TEST(FormatCustomerViewTest, ProfileHistoryAndOpportunities) {
  v1::CustomerView v;
  v.set_customer_id("C1");
  v.mutable_profile()->set_name("Acme");
  v.mutable_profile()->set_region("华东");
  v.mutable_profile()->mutable_budget()->set_units(187100000);
  v.set_stage(v1::LIFECYCLE_STAGE_INTENT);
  v.set_purchase_count(3);
  v1::StageTransition* t = v.add_stage_history();
  t->mutable_at()->set_seconds(1751299200);
  t->set_from(v1::LIFECYCLE_STAGE_PROSPECT);
  t->set_to(v1::LIFECYCLE_STAGE_INTENT);
  t->set_reason("visit_interested");
  v1::OpenOpportunity* o = v.add_open_opportunities();
  o->set_opportunity_id("O1");
  o->set_stage(v1::FUNNEL_STAGE_NEED_CONFIRMED);
  o->set_probability(30);
  o->mutable_amount()->set_units(5000000);
  const std::string out = FormatCustomerView(v, Lang::kZh);
  EXPECT_THAT(out, HasSubstr("客户 C1 Acme\n\n"));
  EXPECT_THAT(out, HasSubstr("阶段         stage                  意向\n"));
  EXPECT_THAT(out, HasSubstr("区域         profile.region         华东\n"));
  EXPECT_THAT(out, HasSubstr("预算         profile.budget         ¥1,871,000.00\n"));
  EXPECT_THAT(out, HasSubstr("购买次数     purchase_count         3\n"));
  EXPECT_THAT(out, HasSubstr("阶段历史\n"
                             "时间                  从    到    原因\n"
                             "2025-06-30T16:00:00Z  潜在  意向  visit_interested\n"));
  EXPECT_THAT(out, HasSubstr("在途商机\n"
                             "商机  阶段      概率        金额  产品  开始\n"
                             "O1    需求确认   30%  ¥50,000.00  —     —\n"));
}

}  // namespace
}  // namespace custops::ctl

// Complaint SLA clocks (docs/review.md "Complaint SLA"): due times per
// severity, the breach edge at exactly the due instant, reopen episodes,
// urgency.
#include "custops/domain/complaint_sla.h"

#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace custops::domain {
namespace {

const absl::Time kFiled =
    absl::FromCivil(absl::CivilSecond(2025, 3, 3, 9, 30, 0), absl::UTCTimeZone());
constexpr absl::Duration kTick = absl::Microseconds(1);

using Steps = std::vector<ComplaintStepAt>;

ComplaintStepAt Responded(absl::Time t) { return {ComplaintStep::kResponded, t}; }
ComplaintStepAt Resolved(absl::Time t) { return {ComplaintStep::kResolved, t}; }
ComplaintStepAt Reopened(absl::Time t) { return {ComplaintStep::kReopened, t}; }

struct SeverityCase {
  v1::Severity severity;
  absl::Duration response;
  absl::Duration resolution;
};

const SeverityCase kSeverities[] = {
    {v1::SEVERITY_CRITICAL, absl::Hours(1), absl::Hours(24)},
    {v1::SEVERITY_HIGH, absl::Hours(4), absl::Hours(72)},
    {v1::SEVERITY_MEDIUM, absl::Hours(24), absl::Hours(24 * 7)},
    {v1::SEVERITY_LOW, absl::Hours(72), absl::Hours(24 * 14)},
    {v1::SEVERITY_UNSPECIFIED, absl::Hours(72), absl::Hours(24 * 14)},  // as LOW
};

TEST(ComplaintSlaTest, DueTimesPerSeverity) {
  for (const SeverityCase& c : kSeverities) {
    const ComplaintSla sla = EvaluateComplaintSla(c.severity, kFiled, {}, kFiled, SlaRules{});
    ASSERT_EQ(sla.episodes.size(), 1u);
    EXPECT_EQ(sla.current().response.due, kFiled + c.response) << c.severity;
    EXPECT_EQ(sla.current().resolution.due, kFiled + c.resolution) << c.severity;
    EXPECT_EQ(sla.current().response.state, SlaState::kPending);
    EXPECT_TRUE(sla.open);
    EXPECT_EQ(sla.breaches, 0);
    // 25% of the target before due.
    EXPECT_EQ(sla.current().response.near_at, kFiled + c.response * 3 / 4) << c.severity;
  }
}

// Half-open clocks: an action strictly before due meets it; an action at due,
// or no action when now reaches due, breaches it.
TEST(ComplaintSlaTest, BreachAtExactlyTheDueInstantPerSeverity) {
  for (const SeverityCase& c : kSeverities) {
    const absl::Time r_due = kFiled + c.response;
    const absl::Time x_due = kFiled + c.resolution;
    const absl::Time late = x_due + absl::Hours(1);
    struct Case {
      const char* name;
      Steps steps;
      absl::Time now;
      SlaState response, resolution;
    };
    const Case cases[] = {
        {"silent, just before response due",
         {},
         r_due - kTick,
         SlaState::kPending,
         SlaState::kPending},
        {"silent, at response due", {}, r_due, SlaState::kBreached, SlaState::kPending},
        {"silent, just before resolution due",
         {},
         x_due - kTick,
         SlaState::kBreached,
         SlaState::kPending},
        {"silent, at resolution due", {}, x_due, SlaState::kBreached, SlaState::kBreached},
        {"responded just in time",
         {Responded(r_due - kTick)},
         late,
         SlaState::kMet,
         SlaState::kBreached},
        {"responded at due", {Responded(r_due)}, r_due, SlaState::kBreached, SlaState::kPending},
        {"resolved just in time",
         {Responded(kFiled), Resolved(x_due - kTick)},
         late,
         SlaState::kMet,
         SlaState::kMet},
        {"resolved at due",
         {Responded(kFiled), Resolved(x_due)},
         late,
         SlaState::kMet,
         SlaState::kBreached},
        {"resolved on first contact",
         {Resolved(r_due - kTick)},
         late,
         SlaState::kMet,
         SlaState::kMet},
        {"resolved late with no response",
         {Resolved(x_due + kTick)},
         late,
         SlaState::kBreached,
         SlaState::kBreached},
        {"response in the future is ignored",
         {Responded(kFiled + absl::Minutes(1))},
         kFiled + absl::Seconds(30),
         SlaState::kPending,
         SlaState::kPending},
    };
    for (const Case& k : cases) {
      const ComplaintSla sla = EvaluateComplaintSla(c.severity, kFiled, k.steps, k.now, SlaRules{});
      EXPECT_EQ(SlaStateName(sla.current().response.state), SlaStateName(k.response))
          << c.severity << ": " << k.name;
      EXPECT_EQ(SlaStateName(sla.current().resolution.state), SlaStateName(k.resolution))
          << c.severity << ": " << k.name;
      const int64_t breaches =
          (k.response == SlaState::kBreached) + (k.resolution == SlaState::kBreached);
      EXPECT_EQ(sla.breaches, breaches) << c.severity << ": " << k.name;
    }
  }
}

TEST(ComplaintSlaTest, ReopenStartsANewEpisodeAndKeepsOldBreaches) {
  const absl::Time resolved = kFiled + absl::Hours(30);  // CRITICAL: both clocks breached
  const absl::Time reopened = resolved + absl::Hours(5);
  const Steps steps = {Reopened(reopened), Resolved(resolved)};  // any order
  ComplaintSla sla =
      EvaluateComplaintSla(v1::SEVERITY_CRITICAL, kFiled, steps, reopened, SlaRules{});
  ASSERT_EQ(sla.episodes.size(), 2u);
  EXPECT_FALSE(sla.episodes[0].reopened);
  EXPECT_EQ(sla.episodes[0].resolution.done_at, resolved);
  EXPECT_TRUE(sla.current().reopened);
  EXPECT_EQ(sla.current().started_at, reopened);
  EXPECT_EQ(sla.current().response.due, reopened + absl::Hours(1));
  EXPECT_EQ(sla.current().resolution.due, reopened + absl::Hours(24));
  EXPECT_TRUE(sla.open);
  EXPECT_EQ(sla.breaches, 2);  // episode 1's two
  // Before the reopen the complaint was closed.
  sla = EvaluateComplaintSla(v1::SEVERITY_CRITICAL, kFiled, steps, reopened - kTick, SlaRules{});
  EXPECT_EQ(sla.episodes.size(), 1u);
  EXPECT_FALSE(sla.open);
  EXPECT_EQ(sla.urgency, SlaUrgency::kNone);
  EXPECT_FALSE(sla.next_change_at.has_value());
  // The second episode answered in time: no new breach.
  sla = EvaluateComplaintSla(
      v1::SEVERITY_CRITICAL, kFiled,
      {Resolved(resolved), Reopened(reopened), Resolved(reopened + absl::Minutes(30))},
      reopened + absl::Hours(24 * 10), SlaRules{});
  EXPECT_EQ(sla.episodes.size(), 2u);
  EXPECT_EQ(sla.current().response.state, SlaState::kMet);
  EXPECT_EQ(sla.current().resolution.state, SlaState::kMet);
  EXPECT_EQ(sla.breaches, 2);
  EXPECT_FALSE(sla.open);
}

TEST(ComplaintSlaTest, StepsTheStateMachineRefusesChangeNothing) {
  const absl::Time t1 = kFiled + absl::Minutes(10);
  // Reopen while open, respond and resolve again while resolved.
  const ComplaintSla sla =
      EvaluateComplaintSla(v1::SEVERITY_HIGH, kFiled,
                           {Reopened(t1), Resolved(t1 + absl::Minutes(1)),
                            Responded(t1 + absl::Minutes(2)), Resolved(t1 + absl::Minutes(3))},
                           kFiled + absl::Hours(24 * 30), SlaRules{});
  ASSERT_EQ(sla.episodes.size(), 1u);
  EXPECT_EQ(sla.current().response.done_at, t1 + absl::Minutes(1));
  EXPECT_EQ(sla.current().resolution.done_at, t1 + absl::Minutes(1));
  EXPECT_EQ(sla.breaches, 0);
  // The first response counts, later follow-ups do not move it.
  const ComplaintSla follow = EvaluateComplaintSla(v1::SEVERITY_HIGH, kFiled,
                                                   {Responded(t1 + absl::Hours(5)), Responded(t1)},
                                                   t1 + absl::Hours(6), SlaRules{});
  EXPECT_EQ(follow.current().response.done_at, t1);
  EXPECT_EQ(follow.current().response.state, SlaState::kMet);
}

TEST(ComplaintSlaTest, UrgencyAndNextChange) {
  // HIGH: response due +4h (near from +3h), resolution due +72h (near from +54h).
  const absl::Time r_near = kFiled + absl::Hours(3);
  const absl::Time r_due = kFiled + absl::Hours(4);
  const absl::Time x_near = kFiled + absl::Hours(54);
  struct Case {
    const char* name;
    Steps steps;
    absl::Time now;
    SlaUrgency urgency;
    std::optional<absl::Time> next;
  };
  const Case cases[] = {
      {"fresh", {}, kFiled, SlaUrgency::kNone, r_near},
      {"just before near", {}, r_near - kTick, SlaUrgency::kNone, r_near},
      {"at near", {}, r_near, SlaUrgency::kNear, r_due},
      {"at due", {}, r_due, SlaUrgency::kPast, x_near},
      {"responded in time, resolution far",
       {Responded(kFiled + absl::Hours(1))},
       kFiled + absl::Hours(2),
       SlaUrgency::kNone,
       x_near},
      {"responded late stays past while open",
       {Responded(r_due + absl::Hours(1))},
       kFiled + absl::Hours(6),
       SlaUrgency::kPast,
       x_near},
      {"resolved",
       {Resolved(kFiled + absl::Hours(1))},
       kFiled + absl::Hours(100),
       SlaUrgency::kNone,
       std::nullopt},
  };
  for (const Case& c : cases) {
    const ComplaintSla sla = EvaluateComplaintSla(v1::SEVERITY_HIGH, kFiled, c.steps, c.now, {});
    EXPECT_EQ(SlaUrgencyName(sla.urgency), SlaUrgencyName(c.urgency)) << c.name;
    EXPECT_EQ(sla.next_change_at, c.next) << c.name;
  }
  SlaRules wide;
  wide.near_percent = 50;
  EXPECT_EQ(
      EvaluateComplaintSla(v1::SEVERITY_HIGH, kFiled, {}, kFiled + absl::Hours(2), wide).urgency,
      SlaUrgency::kNear);
}

}  // namespace
}  // namespace custops::domain

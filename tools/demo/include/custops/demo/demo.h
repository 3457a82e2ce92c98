// A deterministic demo population: the customer-interaction events of a B2B
// software company selling in China over the last 18 months — registrations,
// contacts, visits, a sales funnel with quotes and competitors, contracts,
// renewals, payments (some overdue), complaints, surveys, referrals and
// churn. docs/demo-data.md describes what it contains and how to load it.
//
// The output depends only on the options: the same options give
// byte-identical events on every platform (a seeded std::mt19937_64, integer
// arithmetic only). The generator reads no clock: the caller says when the
// history ends.
//
//   std::vector<v1::Event> events = custops::demo::GenerateDemo(
//       {.seed = 7, .customers = 500, .end = absl::FromUnixSeconds(1735660800)});
//
// Every event passes custops::event::ValidateEvent with default options
// (when `currency` is "CNY"); events are ordered by occurred_at, then
// event_id. Thread-safe: GenerateDemo has no shared state.
#ifndef CUSTOPS_DEMO_DEMO_H_
#define CUSTOPS_DEMO_DEMO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "custops/v1/events.pb.h"

namespace custops::demo {

struct DemoOptions {
  // Seeds the generator; also part of every event id ("demo-<seed>-<n>").
  // Default: 42
  uint64_t seed = 42;
  // Registered parties (ids "C000001", "C000002", ... in registration
  // order), of every kind; most are CUSTOMER. Must be >= 0. Default: 3000
  int customers = 3000;
  // The end of the history (required): no event occurs after it. Dates
  // inside events (contract ends, payment due dates, quote validity) may lie
  // after it. end - span must not be before 1970, end not after 2190.
  absl::Time end;
  // Length of the history: every event occurs in [end - span, end]. At
  // least 7 days. Default: 548 days (18 months)
  absl::Duration span = absl::Hours(24 * 548);
  // Currency of every Money. Default: "CNY"
  std::string currency = "CNY";
  // Sales reps "rep-01" ... "rep-<owners>", spread over the regions. Must be
  // >= 1. Default: 40
  int owners = 40;
};

// Generates the demo events, ordered by occurred_at then event_id, with
// event ids "demo-<seed>-<n>" (n zero-padded to at least 7 digits, rising in
// output order), source "demo" and actor_id the customer's owner at the
// time. Options outside their documented range are a programming error
// (CHECK-fails).
std::vector<v1::Event> GenerateDemo(const DemoOptions& options);

// The organisation events that go with a demo population (docs/demo-data.md,
// "Organisation events"): monthly revenue targets per region, per sales rep
// and for the whole company (quarters and years as sums of their months),
// monthly marketing spend per channel (national channels) and per region
// (trade shows and industry events), yearly and quarterly market sizes per
// region, per industry and in total, and review actions (复盘行动项)
// planned against the attainment_below and marketing_roi_below findings the
// review raises on these figures, some of them closed.
//
// `events` must be GenerateDemo(options)'s result: the plan is drawn from
// the revenue the population books, the way a sales plan is drawn from last
// year's figures, so some targets are met and some missed. It starts with
// the first whole month in which the CRM holds the business; a history
// without such a month (a week, no customers) has no org events. Periods
// are the reporting periods of `zone` (the review's domain.time_zone,
// normally Asia/Shanghai): a Period.start is the first instant of its first
// month there.
//
// Deterministic like GenerateDemo (and without changing its events): the
// same options, events and zone give byte-identical org events. Ordered by
// occurred_at then event_id; ids "demo-<seed>-org-<n>" (n zero-padded to at
// least 6 digits, rising in output order); every occurred_at lies in
// [end - span, end] (target and market-size periods and due dates may lie
// after end); source "demo"; scope "org", "region:<region>",
// "owner:<rep>", "channel:<channel>" or "industry:<industry>" — a target set
// again later (a leaving rep's, handed over) and an action's closing keep
// the scope of the first event, so they follow it on the same partition of
// the org topic. Every event passes custops::event::ValidateOrgEvent (with
// `currency` set to options.currency). Append them with EventIngest.AppendOrg
// in this order. Options as for GenerateDemo.
std::vector<v1::OrgEvent> GenerateDemoOrg(const DemoOptions& options,
                                          const std::vector<v1::Event>& events,
                                          absl::TimeZone zone);

// The ids of the sales reps GenerateDemo uses: "rep-01" ... for `owners` reps
// (at least two digits).
std::string OwnerId(int index_from_one, int owners);

}  // namespace custops::demo

#endif  // CUSTOPS_DEMO_DEMO_H_

// custopsctl: the operator's command line for a custops server (docs/custopsctl.md).
// Flags are parsed here; requests are built and sent by custops::ctl.
// Exit codes: 0 ok, 1 usage or connection error, 2 the server rejected the
// request ("error: <CODE>: <message>" on stderr).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "custops/base/clock.h"
#include "custops/ctl/client.h"
#include "custops/ctl/json_lines.h"
#include "custops/ctl/labels.h"
#include "custops/ctl/parse.h"
#include "custops/ctl/requests.h"
#include "custops/ctl/review_format.h"
#include "custops/ctl/token.h"
#include "custops/demo/demo.h"

namespace custops::ctl {
namespace {

int Fail(const absl::Status& status) {
  std::cerr << ErrorLine(status) << std::endl;
  return ExitCode(status);
}

// Runs `fn` with the named file, or stdin for "" and "-".
template <typename Fn>
absl::Status WithInput(const std::string& path, Fn fn) {
  if (path.empty() || path == "-") return fn(std::cin);
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  return fn(in);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct DemoArgs {
  int customers = 3000;
  uint64_t seed = 42;
  std::string end;  // RFC 3339; empty = now
  int span_days = 548;
  int owners = 40;
  std::string currency = "CNY";
  std::string output;                  // write JSON lines here instead of appending
  bool org = true;                     // also append the organisation events
  std::string zone = "Asia/Shanghai";  // reporting zone of the org events' periods
};

absl::Status RunDemo(const DemoArgs& args, const AppendOptions& append, Client* client) {
  demo::DemoOptions options;
  options.seed = args.seed;
  options.customers = args.customers;
  options.owners = args.owners;
  options.currency = args.currency;
  options.span = absl::Hours(24) * args.span_days;
  if (args.end.empty()) {
    // The CLI, not the generator, reads the clock: whole seconds of now.
    options.end = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  } else {
    absl::StatusOr<absl::Time> end = ParseRfc3339(args.end);
    if (!end.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--end: ", std::string(end.status().message())));
    }
    options.end = *end;
  }
  if (args.customers < 0 || args.owners < 1 || args.span_days < 7 || args.currency.empty()) {
    return absl::InvalidArgumentError(
        "--customers must be >= 0, --owners >= 1, --span-days >= 7, --currency not empty");
  }
  if (options.end - options.span < absl::UnixEpoch() ||
      options.end > absl::FromCivil(absl::CivilSecond(2190, 1, 1, 0, 0, 0), absl::UTCTimeZone())) {
    return absl::InvalidArgumentError("--end minus --span-days must lie between 1970 and 2190");
  }
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(args.zone, &zone)) {
    return absl::InvalidArgumentError(absl::StrCat("--zone: unknown time zone '", args.zone, "'"));
  }
  const std::vector<v1::Event> events = demo::GenerateDemo(options);
  std::cerr << "generated " << events.size() << " events for " << args.customers
            << " customers, ending " << FormatRfc3339(options.end) << std::endl;
  if (!args.output.empty()) {
    std::ofstream file;
    std::ostream* out = &std::cout;
    if (args.output != "-") {
      file.open(args.output, std::ios::binary | std::ios::trunc);
      if (!file) return absl::NotFoundError(absl::StrCat("cannot write ", args.output));
      out = &file;
    }
    for (const v1::Event& e : events) *out << ToJsonLine(e) << '\n';
    out->flush();
    if (!*out) return absl::DataLossError(absl::StrCat("write to ", args.output, " failed"));
    return absl::OkStatus();
  }
  AppendTotals totals;
  absl::Status status = client->AppendEvents(events, {}, append, totals);
  if (!status.ok()) return status;
  std::cout << FormatAppendTotals(totals);
  if (!args.org) return absl::OkStatus();
  const std::vector<v1::OrgEvent> org = demo::GenerateDemoOrg(options, events, zone);
  AppendTotals org_totals;
  status = client->AppendOrgEvents(org, append, org_totals);
  if (!status.ok()) return status;
  std::cout << "org_appended: " << org_totals.appended
            << "\norg_duplicates: " << org_totals.duplicates
            << "\norg_consistency_token: " << org_totals.consistency_token << "\n";
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  CLI::App app{"custopsctl: append events to and query a custops server"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may also follow the subcommand
  app.set_help_all_flag("--help-all", "Help for every subcommand");

  ConnectionOptions connection;
  double timeout_seconds = 30;
  std::string ca_cert_file;
  app.add_option("--server", connection.server, "host:port of the server")
      ->envname("CUSTOPS_SERVER")
      ->capture_default_str();
  CLI::Option* timeout_option =
      app.add_option("--timeout", timeout_seconds,
                     "Seconds per call (tail/changes: stop after this long; default: no limit)")
          ->check(CLI::PositiveNumber)
          ->capture_default_str();
  app.add_option("--bearer-token", connection.bearer_token, "Sent as 'authorization: Bearer ...'")
      ->envname("CUSTOPS_TOKEN");
  app.add_flag("--tls", connection.tls, "Connect with TLS");
  app.add_option("--ca-cert", ca_cert_file, "PEM file of roots to trust with --tls")
      ->check(CLI::ExistingFile);
  std::string output_name;
  std::string lang_name = "zh";
  app.add_option("-o,--output", output_name,
                 "Queries: table, json (the response, one object) or jsonl (default: table; "
                 "get: json; list, timeline: jsonl)");
  app.add_option("--lang", lang_name, "Table labels: zh or en")
      ->envname("CUSTOPS_LANG")
      ->capture_default_str();

  AppendOptions append_options;
  auto add_batch = [&](CLI::App* sub) {
    sub->add_option("--batch", append_options.batch, "Events per Append request")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
  };

  std::string input = "-";
  CLI::App* append = app.add_subcommand("append", "Append customer events (JSON lines)");
  append->add_option("file", input, "JSON lines of custops.v1.Event; '-' = stdin")
      ->capture_default_str();
  add_batch(append);

  CLI::App* append_org = app.add_subcommand("append-org", "Append organisation events");
  append_org->add_option("file", input, "JSON lines of custops.v1.OrgEvent; '-' = stdin")
      ->capture_default_str();
  add_batch(append_org);

  DemoArgs demo_args;
  CLI::App* demo =
      app.add_subcommand("demo", "Generate the demo population and its org events, append them");
  demo->add_option("--customers", demo_args.customers, "Registered parties")->capture_default_str();
  demo->add_option("--seed", demo_args.seed, "Random seed (part of every event id)")
      ->capture_default_str();
  demo->add_option("--end", demo_args.end, "End of the history, RFC 3339 (default: now)");
  demo->add_option("--span-days", demo_args.span_days, "Days of history")->capture_default_str();
  demo->add_option("--owners", demo_args.owners, "Sales reps")->capture_default_str();
  demo->add_option("--currency", demo_args.currency, "Currency of every amount")
      ->capture_default_str();
  demo->add_option("--output", demo_args.output,
                   "Write JSON lines to this file ('-' = stdout) instead of appending");
  demo->add_option("--org", demo_args.org,
                   "Also append the organisation events (targets, spend, market sizes, actions)")
      ->capture_default_str();
  demo->add_option("--zone", demo_args.zone, "Reporting time zone of the organisation events")
      ->capture_default_str();
  add_batch(demo);

  std::string customer_id;
  QueryArgs query;
  auto add_query = [&](CLI::App* sub) {
    sub->add_option("--as-of", query.as_of, "Evaluate at this RFC 3339 time (default: now)");
    sub->add_option("--token", query.consistency_token,
                    "Consistency token of an append to wait for");
  };

  CLI::App* get = app.add_subcommand("get", "One customer's 360° view (JSON)");
  get->add_option("customer_id", customer_id, "Customer id")->required();
  add_query(get);

  ListArgs list_args;
  PageOptions page;
  CLI::App* list = app.add_subcommand("list", "Customers by stage, region, owner ... (JSON lines)");
  list->add_option("--stage", list_args.stage, "PROSPECT, INTENT, CUSTOMER or LOST");
  list->add_option("--sub-stage", list_args.sub_stage, "NEW, GROWING, STABLE or DECLINING");
  list->add_option("--region", list_args.region, "Region, e.g. 华东");
  list->add_option("--owner", list_args.owner, "Owner id, e.g. rep-01");
  list->add_option("--industry", list_args.industry, "Industry");
  list->add_option("--kind", list_args.kind, "CUSTOMER, AGENT, SUPPLIER, PARTNER or COMPETITOR");
  list->add_option("--page-size", list_args.page_size, "Customers per page (server default 100)");
  list->add_option("--page-token", list_args.page_token, "Continue from this page token");
  list->add_flag("--all", page.all, "Follow page tokens to the end");
  add_query(list);

  std::string dimension;
  CLI::App* summary = app.add_subcommand("summary", "Customers per lifecycle stage (table)");
  summary->add_option("--dimension", dimension, "ALL, REGION, INDUSTRY, OWNER, CHANNEL, KIND ...");
  add_query(summary);

  int timeline_page_size = 0;
  std::string timeline_page_token;
  CLI::App* timeline = app.add_subcommand("timeline", "One customer's events (JSON lines)");
  timeline->add_option("customer_id", customer_id, "Customer id")->required();
  timeline->add_option("--page-size", timeline_page_size, "Entries per page (server default 100)");
  timeline->add_option("--page-token", timeline_page_token, "Continue from this page token");
  timeline->add_option("--token", query.consistency_token,
                       "Consistency token of an append to wait for");
  timeline->add_flag("--all", page.all, "Follow page tokens to the end");

  std::string from = "latest";
  std::vector<std::string> types;
  std::vector<std::string> customers;
  StreamOptions stream;
  auto add_stream = [&](CLI::App* sub, const char* type_help, const char* only_flag,
                        const char* only_help) {
    sub->add_option("--from", from, "earliest, latest or a resume token")->capture_default_str();
    sub->add_option("--type", types, type_help);
    sub->add_option("--customer", customers, "Only these customers (repeatable)");
    sub->add_option("--limit", stream.limit, "Stop after this many records (0 = never)")
        ->check(CLI::NonNegativeNumber);
    sub->add_flag(only_flag, stream.events_only, only_help);
  };
  CLI::App* tail = app.add_subcommand("tail", "Follow customer events (JSON lines)");
  add_stream(tail, "Only these event types, e.g. contract_signed (repeatable)", "--events-only",
             "Print the event alone, not the record (output fit for `append`)");
  CLI::App* changes = app.add_subcommand("changes", "Follow derived state changes (JSON lines)");
  add_stream(changes, "Only these change types, e.g. stage_changed (repeatable)", "--changes-only",
             "Print the change alone, not the record");

  CLI::App* status = app.add_subcommand("status", "Log, projection and dead-letter status");
  v1::ListDeadLettersRequest dead_letters_request;
  int dead_letters_page_size = 0;
  std::string dead_letters_page_token;
  CLI::App* dead_letters = app.add_subcommand(
      "dead-letters", "Records a projection could not apply, with the reason (admin role)");
  dead_letters->add_option("--projection", *dead_letters_request.mutable_projection(),
                           "Only this projection's (lifecycle, value, review)");
  dead_letters->add_option("--customer", *dead_letters_request.mutable_customer_id(),
                           "Only this customer's");
  dead_letters->add_option("--page-size", dead_letters_page_size, "1-1000 (default 100)");
  dead_letters->add_option("--page-token", dead_letters_page_token,
                           "Continue from this page token");
  dead_letters->add_flag("--all", page.all, "Follow page tokens to the end");
  v1::ReplayDeadLettersRequest replay_request;
  bool replay_once = false;
  int replay_max_events = 0;
  CLI::App* replay = dead_letters->add_subcommand(
      "replay", "Re-apply a projection's parked records after a fix, in log order (admin role)");
  replay
      ->add_option("projection", *replay_request.mutable_projection(), "lifecycle, value or review")
      ->required();
  replay->add_option("--customer", *replay_request.mutable_customer_id(),
                     "Only this customer's (default: every parked customer)");
  replay->add_option("--max-events", replay_max_events,
                     "Records per call, at most 100000 (server default 20000)");
  bool replay_discard_heads = false;
  replay->add_flag("--discard-heads", replay_discard_heads,
                   "Drop each dead-lettered head unapplied and re-apply what waits behind it");
  replay->add_flag("--once", replay_once, "One call, even when the server says there is more");

  std::string rebuild_projection;
  bool rebuild_wait = false;
  CLI::App* rebuild = app.add_subcommand(
      "rebuild",
      "Build a fresh copy of a projection from offset 0 beside the serving one and swap it in "
      "when caught up (admin role)");
  rebuild->add_option("projection", rebuild_projection, "lifecycle, value or review")->required();
  rebuild->add_flag("--wait", rebuild_wait,
                    "Follow the rebuild with a progress bar until the new copy serves");

  // --- value ---------------------------------------------------------------
  CLI::App* value = app.add_subcommand("value", "Customer value (客户价值): tiers, RFM, CLV");
  value->require_subcommand(1);
  CLI::App* value_get = value->add_subcommand("get", "One customer's value view");
  value_get->add_option("customer_id", customer_id, "Customer id")->required();
  add_query(value_get);

  ValueListArgs value_list_args;
  CLI::App* value_list = value->add_subcommand("list", "Customers by tier, segment, ABC ...");
  value_list->add_option("--tier", value_list_args.tier,
                         "DIAMOND, PLATINUM, GOLD, SILVER, IRON, BIG or SMALL");
  value_list->add_option("--segment", value_list_args.segment, "RFM segment, e.g. 'At Risk'");
  value_list->add_option("--abc", value_list_args.abc_class, "ABC class: A, B or C");
  value_list->add_flag("--negative-only", value_list_args.negative_asset_only,
                       "Only negative assets (负资产)");
  value_list->add_flag("--vip", value_list_args.vip_only, "Only DIAMOND, PLATINUM and GOLD");
  value_list->add_option("--region", value_list_args.region, "Region, e.g. 华东");
  value_list->add_option("--industry", value_list_args.industry, "Industry");
  value_list->add_option("--owner", value_list_args.owner, "Owner id, e.g. rep-01");
  value_list->add_option("--page-size", value_list_args.page_size,
                         "Customers per page (server default 100)");
  value_list->add_option("--page-token", value_list_args.page_token,
                         "Continue from this page token");
  value_list->add_flag("--all", page.all, "Follow page tokens to the end");
  add_query(value_list);

  CLI::App* value_tiers = value->add_subcommand("tiers", "Customers, margin and revenue per tier");
  value_tiers->add_option("--dimension", dimension, "ALL, REGION, INDUSTRY or OWNER");
  add_query(value_tiers);
  CLI::App* value_pareto = value->add_subcommand("pareto", "Revenue concentration (二八, ABC)");
  value_pareto->add_option("--dimension", dimension, "ALL, REGION, INDUSTRY or OWNER");
  add_query(value_pareto);
  CLI::App* value_refit =
      value->add_subcommand("refit", "Refit the CLV model now (needs the admin role)");
  value_refit->add_option("--as-of", query.as_of, "Fit on the population at this RFC 3339 time");
  value_refit->add_option("--token", query.consistency_token,
                          "Fit once value has applied what this consistency token covers "
                          "(an import's token)");
  CLI::App* value_model = value->add_subcommand("model", "The CLV model answers use now");

  // --- review --------------------------------------------------------------
  CLI::App* review = app.add_subcommand("review", "The review (复盘): report, funnel, worklist");
  review->require_subcommand(1);
  ReviewArgs review_args;
  auto add_period = [&](CLI::App* sub) {
    sub->add_option("--period", review_args.period.period,
                    "2024, 2024-Q1, 2024-03, 2024-W09, 2024-03-15 or an RFC 3339 instant "
                    "(default: now)");
    sub->add_option("--granularity", review_args.period.granularity,
                    "DAY, WEEK, MONTH, QUARTER or YEAR (default: the key's; MONTH)");
    sub->add_option("--zone", review_args.period.zone, "Reporting time zone of a --period key")
        ->capture_default_str();
    sub->add_option("--token", review_args.consistency_token,
                    "Consistency token of an append to wait for");
  };
  auto add_slice = [&](CLI::App* sub) {
    sub->add_option("--dimension", review_args.dimension,
                    "ALL, REGION, INDUSTRY, OWNER, CHANNEL, PRODUCT or TIER");
    sub->add_option("--value", review_args.value, "One value of the dimension, e.g. 华东");
  };
  auto add_review_pages = [&](CLI::App* sub, const char* what) {
    sub->add_option("--page-size", review_args.page_size, what);
    sub->add_option("--page-token", review_args.page_token, "Continue from this page token");
    sub->add_flag("--all", page.all, "Follow page tokens to the end");
  };
  CLI::App* review_report = review->add_subcommand("report", "Metrics with 环比/同比, findings");
  add_period(review_report);
  add_slice(review_report);
  review_report->add_option("--history", review_args.history,
                            "Also show a trend over this many periods (0-24)");
  CLI::App* review_funnel = review->add_subcommand("funnel", "The sales funnel of a period");
  add_period(review_funnel);
  add_slice(review_funnel);
  add_review_pages(review_funnel, "Slices per page (server default 100)");
  WorklistArgs worklist_args;
  CLI::App* review_worklist =
      review->add_subcommand("worklist", "Who to contact (该联系却没联系) and why");
  review_worklist->add_option("--owner", worklist_args.owner, "The customers' owner, e.g. rep-01");
  review_worklist->add_option("--region", worklist_args.region, "The customers' region, e.g. 华东");
  review_worklist->add_option("--page-size", worklist_args.page_size,
                              "Customers per page (server default 100)");
  review_worklist->add_option("--page-token", worklist_args.page_token,
                              "Continue from this page token");
  review_worklist->add_flag("--all", page.all, "Follow page tokens to the end");
  add_query(review_worklist);
  std::string compare_metrics;
  CompareFormatOptions compare_options;
  CLI::App* review_compare =
      review->add_subcommand("compare", "Every value of a dimension side by side");
  add_period(review_compare);
  add_slice(review_compare);
  add_review_pages(review_compare, "Rows per page (server default 100)");
  review_compare->add_option("--metrics", compare_metrics,
                             "Columns, e.g. revenue,gross_margin,win_rate (default: all)");
  review_compare->add_flag("--changes", compare_options.changes, "Show each value's 环比");

  TokenArgs token_args;
  std::vector<std::string> token_regions;
  CLI::App* token = app.add_subcommand("token", "Mint an HS256 JWT for local use (no server)");
  token->add_option("--secret-file", token_args.secret_file, "File with the HS256 shared secret")
      ->required();
  token->add_option("--sub", token_args.subject, "Subject (who the token is for)")->required();
  token->add_option("--roles", token_args.roles, "Roles: emitter, reader, admin (comma-separated)")
      ->delimiter(',');
  CLI::Option* regions_option =
      token
          ->add_option("--regions", token_regions,
                       "Regions the holder may see, e.g. 华东,华北 (default: every region)")
          ->delimiter(',');
  token->add_option("--ttl", token_args.ttl, "Lifetime, e.g. 24h, 90m")->capture_default_str();
  token->add_option("--issuer", token_args.issuer, "iss claim");
  token->add_option("--audience", token_args.audience, "aud claim");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }

  if (token->parsed()) {
    if (regions_option->count() > 0) token_args.regions = token_regions;
    // The CLI reads the clock; MintToken is given "now".
    absl::StatusOr<std::string> jwt = MintToken(token_args, base::SystemClock::Instance().Now());
    if (!jwt.ok()) return Fail(jwt.status());
    std::cout << *jwt << std::endl;
    return 0;
  }

  OutputOptions output;
  if (!output_name.empty()) {
    absl::StatusOr<Output> parsed = ParseOutput(output_name);
    if (!parsed.ok()) return Fail(parsed.status());
    output.output = *parsed;
  }
  absl::StatusOr<Lang> lang = ParseLang(lang_name);
  if (!lang.ok()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("--lang: ", lang.status().message())));
  }
  output.lang = *lang;

  connection.timeout = absl::Seconds(timeout_seconds);
  if (timeout_option->count() > 0) connection.stream_timeout = connection.timeout;
  if (!ca_cert_file.empty()) {
    absl::StatusOr<std::string> pem = ReadFile(ca_cert_file);
    if (!pem.ok()) return Fail(pem.status());
    connection.ca_cert_pem = *pem;
  }
  std::unique_ptr<Client> client = Client::Connect(connection);

  absl::Status result;
  if (append->parsed()) {
    result = WithInput(
        input, [&](std::istream& in) { return client->Append(in, append_options, std::cout); });
  } else if (append_org->parsed()) {
    result = WithInput(
        input, [&](std::istream& in) { return client->AppendOrg(in, append_options, std::cout); });
  } else if (demo->parsed()) {
    result = RunDemo(demo_args, append_options, client.get());
  } else if (get->parsed()) {
    absl::StatusOr<v1::GetCustomerRequest> request = MakeGetCustomerRequest(customer_id, query);
    result = request.ok() ? client->GetCustomer(*request, std::cout, output) : request.status();
  } else if (list->parsed()) {
    list_args.query = query;
    absl::StatusOr<v1::ListCustomersRequest> request = MakeListCustomersRequest(list_args);
    result = request.ok() ? client->ListCustomers(*request, page, std::cout, std::cerr, output)
                          : request.status();
  } else if (summary->parsed()) {
    absl::StatusOr<v1::StageSummaryRequest> request = MakeStageSummaryRequest(dimension, query);
    result = request.ok() ? client->StageSummary(*request, std::cout, output) : request.status();
  } else if (timeline->parsed()) {
    absl::StatusOr<v1::TimelineRequest> request = MakeTimelineRequest(
        customer_id, timeline_page_size, timeline_page_token, query.consistency_token);
    result = request.ok() ? client->Timeline(*request, page, std::cout, std::cerr, output)
                          : request.status();
  } else if (tail->parsed()) {
    absl::StatusOr<v1::SubscribeRequest> request = MakeSubscribeRequest(from, types, customers);
    result = request.ok() ? client->Tail(*request, stream, std::cout) : request.status();
  } else if (changes->parsed()) {
    absl::StatusOr<v1::SubscribeChangesRequest> request =
        MakeSubscribeChangesRequest(from, types, customers);
    result = request.ok() ? client->Changes(*request, stream, std::cout) : request.status();
  } else if (status->parsed()) {
    result = client->ServerStatus(std::cout, output);
  } else if (rebuild->parsed()) {
    result = client->Rebuild(rebuild_projection, rebuild_wait, std::cout, std::cerr,
                             ::isatty(STDERR_FILENO) != 0, output);
  } else if (replay->parsed()) {
    replay_request.set_max_events(replay_max_events);
    replay_request.set_discard_heads(replay_discard_heads);
    result = client->ReplayDeadLetters(replay_request, replay_once, std::cout, output);
  } else if (dead_letters->parsed()) {
    dead_letters_request.set_page_size(dead_letters_page_size);
    dead_letters_request.set_page_token(dead_letters_page_token);
    result = client->ListDeadLetters(dead_letters_request, page, std::cout, std::cerr, output);
  } else if (value_get->parsed()) {
    absl::StatusOr<v1::GetValueRequest> request = MakeGetValueRequest(customer_id, query);
    result = request.ok() ? client->GetValue(*request, std::cout, output) : request.status();
  } else if (value_list->parsed()) {
    value_list_args.query = query;
    absl::StatusOr<v1::ListValueCustomersRequest> request =
        MakeListValueCustomersRequest(value_list_args);
    result = request.ok() ? client->ListValueCustomers(*request, page, std::cout, std::cerr, output)
                          : request.status();
  } else if (value_tiers->parsed()) {
    absl::StatusOr<v1::TierSummaryRequest> request = MakeTierSummaryRequest(dimension, query);
    result = request.ok() ? client->TierSummary(*request, std::cout, output) : request.status();
  } else if (value_pareto->parsed()) {
    absl::StatusOr<v1::ParetoRequest> request = MakeParetoRequest(dimension, query);
    result = request.ok() ? client->Pareto(*request, std::cout, output) : request.status();
  } else if (value_refit->parsed()) {
    absl::StatusOr<v1::RefitClvRequest> request = MakeRefitClvRequest(query);
    result = request.ok() ? client->RefitClv(*request, std::cout, output) : request.status();
  } else if (value_model->parsed()) {
    result = client->GetClvModel(std::cout, output);
  } else if (review_report->parsed()) {
    absl::StatusOr<v1::GetReviewRequest> request = MakeGetReviewRequest(review_args, absl::Now());
    result = request.ok() ? client->GetReview(*request, std::cout, output) : request.status();
  } else if (review_funnel->parsed()) {
    absl::StatusOr<v1::FunnelRequest> request = MakeFunnelRequest(review_args, absl::Now());
    result = request.ok() ? client->Funnel(*request, page, std::cout, std::cerr, output)
                          : request.status();
  } else if (review_worklist->parsed()) {
    worklist_args.query = query;
    absl::StatusOr<v1::WorklistRequest> request = MakeWorklistRequest(worklist_args);
    result = request.ok() ? client->Worklist(*request, page, std::cout, std::cerr, output)
                          : request.status();
  } else if (review_compare->parsed()) {
    absl::StatusOr<std::vector<std::string>> metrics = ParseMetricList(compare_metrics);
    absl::StatusOr<v1::CompareReviewRequest> request =
        MakeCompareReviewRequest(review_args, absl::Now());
    if (!metrics.ok()) {
      result = metrics.status();
    } else if (!request.ok()) {
      result = request.status();
    } else {
      compare_options.metrics = *metrics;
      result = client->CompareReview(*request, page, compare_options, std::cout, std::cerr, output);
    }
  }
  std::cout.flush();
  if (!result.ok()) return Fail(result);
  return 0;
}

}  // namespace
}  // namespace custops::ctl

int main(int argc, char** argv) { return custops::ctl::Main(argc, argv); }

#include "custops/demo/demo.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "custops/base/check.h"
#include "custops/domain/activity.h"
#include "custops/v1/events.pb.h"
#include "rng.h"

// How the population is built (docs/demo-data.md has the business view):
//  1. The world: reps spread over regions, a few reps who leave the company
//     during the history, and every party's registration day (ids follow
//     registration order).
//  2. One independent simulation per party with its own random stream: a
//     prospecting phase, deals through the funnel, and for won customers an
//     account phase (service visits, complaints, surveys, payments,
//     renewals, upsells) that ends by the party's fate (growing, stable,
//     declining, silent, churned, sometimes won back). A simulation runs
//     freely past the end and its late events are dropped afterwards: every
//     event depends only on earlier ones, so the cut is always consistent.
//  3. Referrals: a customer acquired through 转介绍 is credited to an
//     earlier, still engaged customer.
//  4. Everything is sorted by time and numbered.
// Times are whole seconds; days are counted in China Standard Time (UTC+8,
// no daylight saving) so that visits happen in office hours.

namespace custops::demo {
namespace {

using internal::Rng;
using internal::SplitMix64;

constexpr int64_t kMinute = 60;
constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 86400;
constexpr int64_t kUtcOffset = 8 * kHour;  // Asia/Shanghai
constexpr int64_t kNever = INT64_MAX;

// ---- the business's vocabulary ----------------------------------------

struct Region {
  const char* name;
  int weight;
  const char* cities[4];
};
constexpr Region kRegions[] = {
    {"华东", 30, {"上海", "杭州", "南京", "苏州"}},
    {"华南", 20, {"广州", "深圳", "厦门", "佛山"}},
    {"华北", 17, {"北京", "天津", "石家庄", "太原"}},
    {"华中", 12, {"武汉", "长沙", "郑州", "南昌"}},
    {"西南", 10, {"成都", "重庆", "昆明", "贵阳"}},
    {"西北", 6, {"西安", "兰州", "银川", "乌鲁木齐"}},
    {"东北", 5, {"沈阳", "大连", "哈尔滨", "长春"}},
};
constexpr int kRegionCount = sizeof(kRegions) / sizeof(kRegions[0]);

struct Industry {
  const char* name;
  int weight;
  const char* name_word;  // as it appears in a company name
};
constexpr Industry kIndustries[] = {
    {"制造业", 22, "机械制造"}, {"零售", 13, "商贸"},        {"互联网", 12, "网络科技"},
    {"金融", 9, "金融服务"},    {"医疗健康", 9, "医疗科技"}, {"物流", 9, "供应链"},
    {"教育", 7, "教育科技"},    {"建筑地产", 7, "建设"},     {"能源", 6, "能源"},
    {"专业服务", 6, "咨询"},
};

constexpr const char* kTradeNames[] = {
    "恒达", "华信", "鼎盛", "瑞丰", "远航", "嘉禾", "新源", "卓越", "天成", "宏图",
    "金桥", "博远", "安和", "明德", "汇通", "聚鑫", "凯旋", "永安", "润泽", "广和",
    "启明", "天宇", "盛世", "华瑞", "德信", "佳和", "弘毅", "同创", "致远", "万合",
};

// Fictitious competitors.
constexpr const char* kCompetitors[] = {"云启软件", "北辰智联", "海纳数据",
                                        "星图CRM",  "易客云",   "锐达信息"};

struct Weighted {
  const char* name;
  int weight;
};
constexpr Weighted kChannels[] = {
    {"官网注册", 18}, {"线上广告", 15}, {"展会", 14},  {"电话营销", 14},
    {"代理商", 12},   {"行业活动", 10}, {"转介绍", 9}, {"商务拓展", 8},
};
constexpr const char* kReferralChannel = "转介绍";
constexpr const char* kAgentChannel = "代理商";

struct Size {
  const char* name;
  int weight;
  int64_t min_budget_yuan;
  int64_t max_budget_yuan;
  int min_cadence_days;  // between service visits
  int max_cadence_days;
};
constexpr Size kSizes[] = {
    {"1-49", 30, 20'000, 150'000, 60, 120},
    {"50-199", 35, 60'000, 400'000, 45, 90},
    {"200-999", 25, 150'000, 1'200'000, 30, 60},
    {"1000+", 10, 500'000, 4'000'000, 20, 40},
};

constexpr Weighted kProducts[] = {
    {"CRM标准版", 30},    {"CRM专业版", 25},    {"营销自动化", 15},
    {"客服工单系统", 15}, {"数据分析平台", 10}, {"实施与培训服务", 5},
};

constexpr const char* kSurnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                                     "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "高", "罗"};
constexpr const char* kGivenNames[] = {"伟", "芳",   "娜", "敏", "静",   "磊", "洋",   "勇",
                                       "艳", "杰",   "军", "涛", "明",   "超", "秀英", "丽",
                                       "强", "志鹏", "婷", "晨", "浩然", "宇", "欣怡", "佳"};

constexpr const char* kNeutralNotes[] = {"例行回访，了解使用情况", "电话沟通近况",
                                         "发送产品资料与案例", "节日问候"};
constexpr const char* kInterestedNotes[] = {"客户对产品演示感兴趣", "约定下次详细交流",
                                            "客户询问报价与实施周期", "客户希望试用"};
constexpr const char* kNeedNotes[] = {"确认需求：需要移动端与报表", "确认采购预算与时间表",
                                      "需求调研完成，客户认可方案方向", "确认需对接现有ERP"};
constexpr const char* kNotInterestedNotes[] = {"客户暂无需求", "客户已有系统，暂不更换",
                                               "联系人表示今年不考虑"};
constexpr const char* kLossReasons[] = {"价格高于预算", "功能不满足需求", "客户选择了竞品",
                                        "项目预算取消", "决策延期，项目搁置"};
constexpr const char* kQuoteRejectReasons[] = {"价格高于预算", "竞品报价更低", "付款条件不接受"};
constexpr const char* kChurnReasons[] = {"预算削减", "转用竞品", "公司业务调整", "对服务不满意",
                                         "公司被并购"};
constexpr const char* kTerminationReasons[] = {"客户提前解约", "双方协商终止", "客户经营困难"};
constexpr const char* kComplaintChannels[] = {"电话", "邮件", "微信", "工单系统"};
constexpr const char* kComplaintDescriptions[] = {
    "",                          // unspecified category
    "系统响应慢，报表加载超时",  // PRODUCT
    "实施顾问响应不及时",        // SERVICE
    "上线时间比约定延误",        // DELIVERY
    "发票金额与合同不符",        // BILLING
    "客服沟通态度差",            // ATTITUDE
};
constexpr const char* kResolutions[] = {"已修复并回访确认", "已补偿一个月服务期", "已更换实施顾问",
                                        "已重开发票", "已道歉并加强培训"};
constexpr const char* kReopenReasons[] = {"问题复现", "客户不认可处理结果"};
constexpr const char* kResponseNotes[] = {"已受理，正在排查", "已联系客户了解情况"};

// ---- the world ---------------------------------------------------------

// What a customer's account does after its first contract.
enum class Fate { kGrower, kStable, kDecliner, kSilent, kChurner };
// How a customer pays its invoices.
enum class Payer { kPrompt, kInstallments, kLate, kPartial };
// Why a deal is being worked.
enum class DealKind { kFirst, kRetry, kUpsell, kWinBack };
enum class DealResult { kWon, kLost, kOpen };

struct Party {
  std::string id;
  v1::CustomerKind kind = v1::CUSTOMER_KIND_CUSTOMER;
  int region = 0;
  int owner = 0;                 // rep index at registration
  int64_t handover_at = kNever;  // when the customer passes to new_owner
  int new_owner = -1;
  int64_t registered_at = 0;
  bool referred = false;     // acquired through 转介绍
  bool established = false;  // the existing book, entered when the CRM went live
  // Found by the simulation (events up to the end only).
  int64_t first_purchase_at = kNever;
  int64_t last_activity_at = kNever;
  int64_t churned_at = kNever;

  int OwnerAt(int64_t t) const { return t >= handover_at ? new_owner : owner; }
};

struct World {
  std::string currency;
  int64_t end = 0;   // Unix seconds
  int64_t base = 0;  // the first local midnight at or after end - span
  int64_t days = 0;  // whole days from base to end
  std::vector<std::string> rep_ids;
  std::vector<int> rep_region;
  std::vector<std::vector<int>> reps_by_region;
  std::vector<int64_t> rep_left_at;  // kNever unless the rep leaves
  std::vector<int> rep_successor;
};

// One event before it is numbered.
struct Draft {
  int64_t at;
  int64_t seq;  // generation order within the party
  int party;
  v1::Event event;
};

struct Contact {
  std::string id;
  int64_t added_at;
  v1::ContactRole role;
};

struct Contract {
  std::string id;
  int64_t amount = 0;  // fen, of the last signature or renewal
  int64_t start = 0;
  int64_t end = 0;
  int term_days = 365;
};

// ---- one party's history -----------------------------------------------

class PartySim {
 public:
  PartySim(const World& world, Party& party, int index, uint64_t seed)
      : world_(world), party_(party), index_(index), rng_(seed) {}

  void Run(std::vector<Draft>& out) {
    out_ = &out;
    t_ = party_.registered_at;
    const Size& size = kSizes[rng_.PickWeightedIndex(kSizes)];
    size_ = &size;
    Register();
    if (party_.handover_at != kNever) {
      v1::Event& e = Emit(party_.handover_at);
      e.mutable_customer_profile_updated()->set_owner_id(world_.rep_ids[party_.new_owner]);
    }
    switch (party_.kind) {
      case v1::CUSTOMER_KIND_COMPETITOR:
        if (rng_.Chance(40)) AddContact(t_ + rng_.Between(10, 600) * kMinute, false);
        return;
      case v1::CUSTOMER_KIND_SUPPLIER:
      case v1::CUSTOMER_KIND_PARTNER:
        RunRelationship();
        return;
      default:
        RunProspect();
        return;
    }
  }

  int64_t next_seq() const { return seq_; }

 private:
  // ---- time ----

  int64_t DayOf(int64_t t) const { return (t - world_.base) / kDay; }
  int64_t Midnight(int64_t day) const { return world_.base + day * kDay; }
  // Somewhere in office hours (09:00-18:00 local) on `day`.
  int64_t WorkTime(int64_t day) {
    return Midnight(day) + 9 * kHour + rng_.Between(0, 9 * 60 - 1) * kMinute;
  }
  // Moves the cursor on by min..max days (same day: a little later).
  void Wait(int min_days, int max_days) {
    const int64_t d = rng_.Between(min_days, max_days);
    if (d == 0) {
      t_ += rng_.Between(15, 120) * kMinute;
    } else {
      t_ = WorkTime(DayOf(t_) + d);
    }
  }
  void Later(int min_minutes, int max_minutes) {
    t_ += rng_.Between(min_minutes, max_minutes) * kMinute;
  }
  bool Over() const { return t_ > world_.end; }

  // ---- emitting ----

  // The returned reference is valid until the next Emit.
  v1::Event& Emit(int64_t at) {
    out_->push_back(Draft{.at = at, .seq = seq_++, .party = index_, .event = {}});
    v1::Event& e = out_->back().event;
    e.set_customer_id(party_.id);
    e.mutable_occurred_at()->set_seconds(at);
    e.set_source("demo");
    e.set_actor_id(world_.rep_ids[party_.OwnerAt(at)]);
    return e;
  }

  void SetMoney(v1::Money* money, int64_t fen) const {
    money->set_units(fen);
    money->set_currency(world_.currency);
  }

  static void SetTime(google::protobuf::Timestamp* ts, int64_t seconds) {
    ts->set_seconds(seconds);
  }

  std::string NextId(const char* what, int& counter) {
    return absl::StrCat(party_.id, "-", what, "-", ++counter);
  }

  // ---- the party ----

  void Register() {
    const Region& region = kRegions[party_.region];
    const char* city = rng_.Pick(region.cities);
    const bool agent = party_.kind == v1::CUSTOMER_KIND_AGENT;
    std::string name;
    std::string industry;
    std::string channel;
    switch (party_.kind) {
      case v1::CUSTOMER_KIND_AGENT:
        name = absl::StrCat(city, rng_.Pick(kTradeNames), "信息技术有限公司");
        industry = "IT服务";
        channel = "渠道招募";
        break;
      case v1::CUSTOMER_KIND_SUPPLIER:
        name = absl::StrCat(city, rng_.Pick(kTradeNames), rng_.Chance(50) ? "云计算" : "数据中心",
                            "有限公司");
        industry = "云服务";
        channel = "采购";
        break;
      case v1::CUSTOMER_KIND_PARTNER:
        name = absl::StrCat(city, rng_.Pick(kTradeNames), "系统集成有限公司");
        industry = "系统集成";
        channel = "战略合作";
        break;
      case v1::CUSTOMER_KIND_COMPETITOR:
        name = absl::StrCat(rng_.Pick(kCompetitors), "（", city, "分公司）");
        industry = "企业软件";
        channel = "市场情报";
        break;
      default: {
        const Industry& ind = kIndustries[rng_.PickWeightedIndex(kIndustries)];
        name = absl::StrCat(city, rng_.Pick(kTradeNames), ind.name_word, "有限公司");
        industry = ind.name;
        channel = party_.referred ? kReferralChannel : kChannels[PickChannel()].name;
        break;
      }
    }
    channel_ = channel;
    budget_yuan_ = rng_.Between(size_->min_budget_yuan, size_->max_budget_yuan) / 1000 * 1000;
    if (agent) budget_yuan_ *= 2;

    v1::Event& e = Emit(t_);
    v1::CustomerRegistered* r = e.mutable_customer_registered();
    r->set_name(name);
    r->set_kind(party_.kind);
    r->set_industry(industry);
    r->set_region(region.name);
    r->set_owner_id(world_.rep_ids[party_.owner]);
    r->set_channel(channel);
    r->set_size(size_->name);
    if (party_.kind == v1::CUSTOMER_KIND_CUSTOMER || agent) {
      SetMoney(r->mutable_budget(), budget_yuan_ * 100);
      static constexpr v1::Need kNeeds[] = {v1::NEED_UNSPECIFIED, v1::NEED_NONE, v1::NEED_LOW,
                                            v1::NEED_HIGH};
      r->set_need(kNeeds[rng_.Weighted({30, 15, 35, 20})]);
    }

    // The first contacts arrive with the registration or soon after.
    AddContact(t_ + rng_.Between(5, 120) * kMinute, true);
    const int more = static_cast<int>(rng_.Weighted({45, 35, 20}));
    for (int i = 0; i < more; ++i) {
      AddContact(WorkTime(DayOf(t_) + rng_.Between(1, 14)), false);
    }
  }

  // The acquisition channel, never 转介绍: referred customers are chosen by
  // the world so that each has a referrer.
  size_t PickChannel() {
    while (true) {
      const size_t i = rng_.PickWeightedIndex(kChannels);
      if (std::string(kChannels[i].name) != kReferralChannel) return i;
    }
  }

  void AddContact(int64_t at, bool first) {
    Contact c;
    c.id = NextId("contact", contacts_count_);
    c.added_at = at;
    static constexpr v1::ContactRole kRoles[] = {
        v1::CONTACT_ROLE_DECISION_MAKER, v1::CONTACT_ROLE_INFLUENCER, v1::CONTACT_ROLE_SUPPORTER,
        v1::CONTACT_ROLE_USER, v1::CONTACT_ROLE_OPPONENT};
    c.role = first && rng_.Chance(50) ? v1::CONTACT_ROLE_DECISION_MAKER
                                      : kRoles[rng_.Weighted({25, 25, 20, 22, 8})];
    v1::Event& e = Emit(at);
    v1::ContactAdded* a = e.mutable_contact_added();
    a->set_contact_id(c.id);
    a->set_name(absl::StrCat(rng_.Pick(kSurnames), rng_.Pick(kGivenNames)));
    a->set_role(c.role);
    if (rng_.Chance(40)) {
      v1::Date* b = a->mutable_birthday();
      b->set_year(static_cast<int32_t>(rng_.Between(1962, 1996)));
      b->set_month(static_cast<int32_t>(rng_.Between(1, 12)));
      b->set_day(static_cast<int32_t>(rng_.Between(1, 28)));
    }
    contacts_.push_back(std::move(c));
  }

  // A contact known at `at`, a decision maker when asked and one exists;
  // empty sometimes (a visit to the front desk).
  std::string ContactFor(int64_t at, bool decision_maker) {
    std::vector<const Contact*> known;
    for (const Contact& c : contacts_) {
      if (c.added_at < at) known.push_back(&c);
    }
    if (known.empty() || rng_.Chance(10)) return "";
    if (decision_maker) {
      for (const Contact* c : known) {
        if (c->role == v1::CONTACT_ROLE_DECISION_MAKER) return c->id;
      }
    }
    return known[rng_.Below(static_cast<int64_t>(known.size()))]->id;
  }

  void Visit(int64_t at, v1::VisitOutcome outcome, bool decision_maker = false,
             v1::VisitChannel channel = v1::VISIT_CHANNEL_UNSPECIFIED) {
    if (channel == v1::VISIT_CHANNEL_UNSPECIFIED) {
      static constexpr v1::VisitChannel kChannelsByWeight[] = {
          v1::VISIT_CHANNEL_PHONE, v1::VISIT_CHANNEL_ONSITE, v1::VISIT_CHANNEL_MEETING,
          v1::VISIT_CHANNEL_ONLINE, v1::VISIT_CHANNEL_EVENT};
      channel = kChannelsByWeight[rng_.Weighted({35, 30, 15, 15, 5})];
    }
    const std::string contact = ContactFor(at, decision_maker);
    const char* note = "";
    switch (outcome) {
      case v1::VISIT_OUTCOME_INTERESTED:
        note = rng_.Pick(kInterestedNotes);
        break;
      case v1::VISIT_OUTCOME_NEED_CONFIRMED:
        note = rng_.Pick(kNeedNotes);
        break;
      case v1::VISIT_OUTCOME_NOT_INTERESTED:
        note = rng_.Pick(kNotInterestedNotes);
        break;
      default:
        note = rng_.Pick(kNeutralNotes);
        break;
    }
    v1::Event& e = Emit(at);
    v1::VisitLogged* v = e.mutable_visit_logged();
    v->set_visit_id(NextId("visit", visits_count_));
    v->set_channel(channel);
    v->set_contact_id(contact);
    v->set_outcome(outcome);
    v->set_note(note);
  }

  // Suppliers and partners: regular meetings, no deals.
  void RunRelationship() {
    Wait(3, 30);
    while (!Over()) {
      Visit(t_, v1::VISIT_OUTCOME_NEUTRAL, false, v1::VISIT_CHANNEL_MEETING);
      Wait(45, 150);
    }
  }

  // ---- prospects and deals ----

  void RunProspect() {
    fate_ = static_cast<Fate>(rng_.Weighted({24, 36, 14, 13, 13}));
    payer_ = fate_ == Fate::kChurner  ? static_cast<Payer>(rng_.Weighted({40, 20, 25, 15}))
             : fate_ == Fate::kSilent ? Payer::kPrompt
                                      : static_cast<Payer>(rng_.Weighted({65, 20, 10, 5}));
    // Referred customers and the existing book come warm.
    const bool warm = party_.referred || party_.established;
    const int cold = warm ? 5 : 20;
    const int dormant = warm ? 5 : 12;
    const size_t archetype = rng_.Weighted({cold, dormant, 100 - cold - dormant});
    Wait(1, 20);
    if (archetype == 0) {  // cold: never warms up
      const int visits = static_cast<int>(rng_.Between(0, 2));
      for (int i = 0; i < visits && !Over(); ++i) {
        Visit(t_, rng_.Chance(50) ? v1::VISIT_OUTCOME_NEUTRAL : v1::VISIT_OUTCOME_NOT_INTERESTED);
        Wait(10, 60);
      }
      return;
    }
    if (archetype == 1) {  // dormant lead: interested once, then silence
      if (rng_.Chance(50)) {
        Visit(t_, v1::VISIT_OUTCOME_NEUTRAL);
        Wait(5, 30);
      }
      Visit(t_, v1::VISIT_OUTCOME_INTERESTED);
      return;
    }
    Visit(t_, rng_.Chance(60) ? v1::VISIT_OUTCOME_INTERESTED : v1::VISIT_OUTCOME_NEUTRAL);
    DealKind kind = DealKind::kFirst;
    for (int attempt = 0; attempt < 3 && !Over(); ++attempt) {
      Contract contract;
      const DealResult result = RunDeal(kind, kNever, contract);
      if (result == DealResult::kWon) {
        RunAccount(contract);
        return;
      }
      if (result == DealResult::kOpen || !rng_.Chance(35)) return;
      // Lost, but the rep tries again later.
      Wait(60, 200);
      Visit(t_, rng_.Chance(70) ? v1::VISIT_OUTCOME_INTERESTED : v1::VISIT_OUTCOME_NEUTRAL);
      kind = DealKind::kRetry;
    }
  }

  int64_t DealAmountFen(DealKind kind) {
    int64_t yuan = budget_yuan_ * rng_.Between(30, 110) / 100;
    if (kind == DealKind::kUpsell) yuan = yuan * rng_.Between(20, 50) / 100;
    yuan = std::max<int64_t>(yuan / 100 * 100, 5'000);
    return yuan * 100;
  }

  void StageChanged(const std::string& opportunity, v1::FunnelStage stage,
                    const std::string& competitor = "", const std::string& reason = "") {
    v1::Event& e = Emit(t_);
    v1::OpportunityStageChanged* s = e.mutable_opportunity_stage_changed();
    s->set_opportunity_id(opportunity);
    s->set_stage(stage);
    s->set_competitor(competitor);
    s->set_reason(reason);
  }

  void Lose(const std::string& opportunity, int stage) {
    const char* reason = rng_.Pick(kLossReasons);
    const std::string competitor = rng_.Chance(stage >= 4 ? 80 : 55) ? rng_.Pick(kCompetitors) : "";
    Wait(5, 30);
    StageChanged(opportunity, v1::FUNNEL_STAGE_LOST, competitor,
                 competitor.empty() ? reason : "客户选择了竞品");
  }

  struct Quote {
    std::string id;
    int64_t amount = 0;
    int64_t cost = 0;
  };

  Quote IssueQuote(const std::string& opportunity, int64_t amount) {
    Quote q;
    q.id = NextId("quote", quotes_count_);
    q.amount = amount;
    q.cost = amount * rng_.Between(30, 60) / 100;
    const int64_t discount = rng_.Between(0, 30);  // percent
    const int64_t list = (amount * 100 / (100 - discount) + 9'999) / 10'000 * 10'000;
    v1::Event& e = Emit(t_);
    v1::QuoteIssued* qi = e.mutable_quote_issued();
    qi->set_quote_id(q.id);
    qi->set_opportunity_id(opportunity);
    SetMoney(qi->mutable_amount(), q.amount);
    SetMoney(qi->mutable_list_amount(), std::max(list, amount));
    SetMoney(qi->mutable_cost(), q.cost);
    SetTime(qi->mutable_valid_until(), Midnight(DayOf(t_) + 31));
    return q;
  }

  void RejectQuote(const Quote& q, const char* reason, const std::string& competitor) {
    v1::Event& e = Emit(t_);
    v1::QuoteRejected* r = e.mutable_quote_rejected();
    r->set_quote_id(q.id);
    r->set_reason(reason);
    r->set_competitor(competitor);
  }

  // Works one opportunity through the funnel from the cursor. On a win,
  // `contract` is the signed contract; a contract co-terminates with
  // `co_term_end` when that is set (add-ons to a running contract).
  DealResult RunDeal(DealKind kind, int64_t co_term_end, Contract& contract) {
    Wait(3, 20);
    const std::string opp = NextId("opp", opps_count_);
    const int64_t amount = DealAmountFen(kind);
    const char* product = kind == DealKind::kUpsell
                              ? (rng_.Chance(50) ? "实施与培训服务" : "营销自动化")
                              : kProducts[rng_.PickWeightedIndex(kProducts)].name;
    {
      v1::Event& e = Emit(t_);
      v1::OpportunityOpened* o = e.mutable_opportunity_opened();
      o->set_opportunity_id(opp);
      SetMoney(o->mutable_amount(), amount);
      o->set_product(product);
      SetTime(o->mutable_expected_close(), Midnight(DayOf(t_) + rng_.Between(30, 120)));
    }
    size_t fate = 0;  // 0 won, 1 lost, 2 stalled
    switch (kind) {
      case DealKind::kFirst:
        fate = party_.established ? rng_.Weighted({75, 15, 10}) : rng_.Weighted({50, 30, 20});
        break;
      case DealKind::kRetry:
        fate = rng_.Weighted({45, 35, 20});
        break;
      case DealKind::kUpsell:
        fate = rng_.Weighted({60, 20, 20});
        break;
      case DealKind::kWinBack:
        fate = rng_.Weighted({70, 20, 10});
        break;
    }
    // The stage where a lost deal is lost, or the last one a stalled deal
    // reaches.
    const int stop = fate == 1   ? static_cast<int>(2 + rng_.Weighted({15, 20, 15, 50}))
                     : fate == 2 ? static_cast<int>(1 + rng_.Weighted({25, 30, 20, 15, 10}))
                                 : 7;
    auto stalled = [&](int stage) {
      if (fate != 2 || stage <= stop) return false;
      // Half of the stale opportunities are closed by the rep in a clean-up.
      if (rng_.Chance(50)) {
        Wait(60, 150);
        StageChanged(opp, v1::FUNNEL_STAGE_LOST, "", "长期无进展，关闭商机");
        return true;
      }
      return true;
    };

    if (stalled(2)) return DealResult::kOpen;
    Wait(3, 15);
    Visit(t_, v1::VISIT_OUTCOME_INTERESTED, true,
          rng_.Chance(60) ? v1::VISIT_CHANNEL_ONSITE : v1::VISIT_CHANNEL_MEETING);
    Later(30, 240);
    StageChanged(opp, v1::FUNNEL_STAGE_FIRST_VISIT);
    if (fate == 1 && stop == 2) {
      Lose(opp, 2);
      return DealResult::kLost;
    }

    if (stalled(3)) return DealResult::kOpen;
    Wait(5, 20);
    Visit(t_, v1::VISIT_OUTCOME_NEED_CONFIRMED, rng_.Chance(75));
    if (kind != DealKind::kUpsell && rng_.Chance(25)) {
      Later(30, 180);
      v1::Event& e = Emit(t_);
      v1::CustomerProfileUpdated* u = e.mutable_customer_profile_updated();
      u->set_need(v1::NEED_HIGH);
      budget_yuan_ = budget_yuan_ * rng_.Between(110, 150) / 100 / 1000 * 1000;
      SetMoney(u->mutable_budget(), budget_yuan_ * 100);
    }
    Later(30, 240);
    StageChanged(opp, v1::FUNNEL_STAGE_NEED_CONFIRMED);
    if (fate == 1 && stop == 3) {
      Lose(opp, 3);
      return DealResult::kLost;
    }

    if (stalled(4)) return DealResult::kOpen;
    Wait(5, 25);
    if (rng_.Chance(50)) {
      Visit(t_, v1::VISIT_OUTCOME_INTERESTED, true, v1::VISIT_CHANNEL_MEETING);
      Later(60, 300);
    }
    StageChanged(opp, v1::FUNNEL_STAGE_PROPOSAL_ACCEPTED, "", "方案评审通过");
    if (fate == 1 && stop == 4) {
      Lose(opp, 4);
      return DealResult::kLost;
    }

    if (stalled(5)) return DealResult::kOpen;
    Wait(3, 15);
    Quote quote = IssueQuote(opp, amount);
    Later(10, 120);
    StageChanged(opp, v1::FUNNEL_STAGE_COMMERCIAL_TERMS);
    if (fate != 2 && rng_.Chance(25)) {  // a price objection, then a better offer
      Wait(3, 10);
      RejectQuote(quote, "价格高于预算", "");
      Wait(1, 7);
      quote = IssueQuote(opp, quote.amount * rng_.Between(88, 97) / 100 / 100 * 100);
    }
    if (fate == 1) {
      Wait(3, 20);
      const std::string competitor = rng_.Chance(70) ? rng_.Pick(kCompetitors) : "";
      const char* reason = competitor.empty() ? rng_.Pick(kQuoteRejectReasons) : "竞品报价更低";
      RejectQuote(quote, reason, competitor);
      Later(10, 240);
      StageChanged(opp, v1::FUNNEL_STAGE_LOST, competitor, reason);
      return DealResult::kLost;
    }
    if (fate == 2) {
      // The quote expires unanswered.
      stalled(6);
      return DealResult::kOpen;
    }
    Wait(2, 14);
    {
      v1::Event& e = Emit(t_);
      e.mutable_quote_accepted()->set_quote_id(quote.id);
    }

    Wait(1, 10);
    contract.id = NextId("contract", contracts_count_);
    contract.amount = quote.amount;
    contract.start = Midnight(DayOf(t_) + rng_.Between(0, 14));
    if (co_term_end != kNever && co_term_end - contract.start >= 60 * kDay) {
      contract.end = co_term_end;
      contract.term_days = static_cast<int>((co_term_end - contract.start) / kDay);
    } else {
      static constexpr int kTerms[] = {365, 730, 182};
      // Accounts that will not last mostly start on half-year trials.
      const bool short_lived = fate_ == Fate::kSilent || fate_ == Fate::kChurner;
      contract.term_days =
          short_lived ? (rng_.Chance(70) ? 182 : 365) : kTerms[rng_.Weighted({78, 10, 12})];
      contract.end = contract.start + contract.term_days * kDay;
    }
    static constexpr int kDueDays[] = {30, 15, 60};
    const int64_t due = contract.start + kDueDays[rng_.Weighted({70, 10, 20})] * kDay;
    const int64_t signed_at = t_;
    {
      v1::Event& e = Emit(t_);
      v1::ContractSigned* c = e.mutable_contract_signed();
      c->set_contract_id(contract.id);
      c->set_quote_id(quote.id);
      SetMoney(c->mutable_amount(), quote.amount);
      SetMoney(c->mutable_cost(), quote.cost);
      SetTime(c->mutable_start(), contract.start);
      SetTime(c->mutable_end(), contract.end);
      SetTime(c->mutable_payment_due(), due);
      c->set_product(product);
      c->set_channel(party_.kind == v1::CUSTOMER_KIND_AGENT || channel_ == kAgentChannel ? "代理"
                     : rng_.Chance(80)                                                   ? "直销"
                                       : "线上");
      c->set_opportunity_id(opp);
    }
    Later(5, 60);
    StageChanged(opp, v1::FUNNEL_STAGE_CONTRACT_SIGNED);
    SchedulePayments(contract.id, quote.amount, signed_at, due);
    return DealResult::kWon;
  }

  // Payments of `billed` fen on a contract invoiced at `billed_at`, due at
  // `due`, as this customer pays. They never add up to more than `billed`.
  void SchedulePayments(const std::string& contract, int64_t billed, int64_t billed_at,
                        int64_t due) {
    const int64_t first_day = DayOf(billed_at) + 1;
    const int64_t due_day = std::max(DayOf(due), first_day);
    auto pay = [&](int64_t at, int64_t fen) {
      if (fen <= 0) return;
      v1::Event& e = Emit(at);
      v1::PaymentReceived* p = e.mutable_payment_received();
      p->set_payment_id(NextId("payment", payments_count_));
      p->set_contract_id(contract);
      SetMoney(p->mutable_amount(), fen);
    };
    switch (payer_) {
      case Payer::kPrompt:
        pay(WorkTime(rng_.Between(first_day, due_day)), billed);
        break;
      case Payer::kInstallments: {
        const int64_t first = billed * rng_.Between(30, 60) / 100;
        const int64_t first_at = rng_.Between(first_day, first_day + 10);
        pay(WorkTime(first_at), first);
        pay(WorkTime(std::max(first_at + 1, due_day + rng_.Between(-5, 5))), billed - first);
        break;
      }
      case Payer::kLate:
        pay(WorkTime(due_day + rng_.Between(10, 90)), billed);
        break;
      case Payer::kPartial:
        pay(WorkTime(due_day + rng_.Between(0, 30)), billed * rng_.Between(30, 70) / 100);
        break;
    }
  }

  // ---- accounts ----

  // Life after the first contract, until the end or the fate plays out.
  void RunAccount(Contract main) {
    while (!Over()) {
      const int64_t renewal_at = WorkTime(DayOf(main.end) - rng_.Between(5, 30));
      switch (fate_) {
        case Fate::kSilent: {
          // A little service early on, then nothing: the contract runs out
          // and the customer is lost through silence.
          const int64_t quiet = WorkTime(DayOf(main.start) + rng_.Between(20, 60));
          Service(t_, std::min(quiet, renewal_at));
          MaybeWinBack(main.end);
          return;
        }
        case Fate::kChurner: {
          int64_t churn_at = renewal_at;
          if (rng_.Chance(50) && main.term_days > 150) {
            churn_at = WorkTime(DayOf(main.start) + rng_.Between(60, main.term_days - 45));
          }
          Service(t_, churn_at);
          t_ = std::max(t_, churn_at);
          if (churn_at < renewal_at) {
            v1::Event& e = Emit(t_);
            v1::ContractTerminated* x = e.mutable_contract_terminated();
            x->set_contract_id(main.id);
            x->set_reason(rng_.Pick(kTerminationReasons));
            Later(30, 300);
          }
          {
            v1::Event& e = Emit(t_);
            e.mutable_customer_churned()->set_reason(rng_.Pick(kChurnReasons));
          }
          MaybeWinBack(t_);
          return;
        }
        default:
          break;
      }
      // Growing, stable and declining accounts are served and renew.
      const int64_t period_start = t_;
      Service(period_start, renewal_at);
      const int upsell_chance = fate_ == Fate::kGrower ? 55 : fate_ == Fate::kStable ? 15 : 0;
      if (rng_.Chance(upsell_chance)) {
        const int64_t saved = t_;
        t_ = WorkTime(DayOf(period_start) + rng_.Between(60, 200));
        if (t_ < renewal_at - 45 * kDay) {
          Contract addon;
          RunDeal(DealKind::kUpsell, main.end, addon);
        }
        t_ = saved;
      }
      t_ = std::max(t_, renewal_at);
      if (Over()) return;
      int64_t percent = 100;
      switch (fate_) {
        case Fate::kGrower:
          percent = rng_.Between(115, 160);
          break;
        case Fate::kDecliner:
          percent = renewals_ == 0 ? rng_.Between(40, 65) : rng_.Between(80, 100);
          break;
        default:
          percent = rng_.Between(95, 110);
          break;
      }
      // Whole hundreds of yuan, at least 5,000 yuan.
      const int64_t amount =
          std::max<int64_t>(main.amount * percent / 100 / 10'000 * 10'000, 500'000);
      const int64_t new_end = main.end + main.term_days * kDay;
      {
        v1::Event& e = Emit(t_);
        v1::ContractRenewed* r = e.mutable_contract_renewed();
        r->set_contract_id(main.id);
        SetTime(r->mutable_new_end(), new_end);
        SetMoney(r->mutable_amount(), amount);
        SetMoney(r->mutable_cost(), amount * rng_.Between(30, 55) / 100);
      }
      ++renewals_;
      SchedulePayments(main.id, amount, t_, main.end + 30 * kDay);
      main.amount = amount;
      main.start = main.end;
      main.end = new_end;
    }
  }

  // Service visits, complaints, surveys and new contacts in [from, until).
  void Service(int64_t from, int64_t until) {
    if (until <= from) return;
    const int64_t last_day = std::min(DayOf(until), DayOf(world_.end) + 1);
    // Visits at the account's cadence.
    for (int64_t day = DayOf(from) + rng_.Between(size_->min_cadence_days, size_->max_cadence_days);
         day < last_day; day += rng_.Between(size_->min_cadence_days, size_->max_cadence_days)) {
      const int64_t at = WorkTime(day);
      if (at >= until) break;
      static constexpr v1::VisitOutcome kOutcomes[] = {v1::VISIT_OUTCOME_NEUTRAL,
                                                       v1::VISIT_OUTCOME_INTERESTED,
                                                       v1::VISIT_OUTCOME_NEED_CONFIRMED};
      Visit(at, kOutcomes[rng_.Weighted({70, 25, 5})]);
    }
    // Month by month: complaints and the odd new contact.
    const int complaint_rate = fate_ == Fate::kChurner || fate_ == Fate::kDecliner ? 12 : 5;
    for (int64_t day = DayOf(from); day < last_day; day += 30) {
      if (rng_.Chance(complaint_rate)) {
        const int64_t at = WorkTime(day + rng_.Between(0, 29));
        if (at < until) Complaint(at);
      }
      if (rng_.Chance(4)) {
        const int64_t at = WorkTime(day + rng_.Between(0, 29));
        if (at < until) AddContact(at, false);
      }
    }
    // A satisfaction survey per year of service.
    for (int64_t day = DayOf(from) + rng_.Between(60, 150); day < last_day; day += 365) {
      const int64_t at = WorkTime(day);
      if (at >= until || !rng_.Chance(75)) continue;
      int csat = 0;
      switch (fate_) {
        case Fate::kGrower:
          csat = static_cast<int>(rng_.Between(4, 5));
          break;
        case Fate::kDecliner:
          csat = static_cast<int>(rng_.Between(2, 4));
          break;
        case Fate::kChurner:
          csat = static_cast<int>(rng_.Between(1, 3));
          break;
        default:
          csat = static_cast<int>(rng_.Between(3, 5));
          break;
      }
      csat = std::max(1, csat - std::min(complaints_count_, 2) / 2);
      v1::Event& e = Emit(at);
      v1::SatisfactionSurveyed* s = e.mutable_satisfaction_surveyed();
      s->set_survey_id(NextId("survey", surveys_count_));
      s->set_csat(csat);
      if (rng_.Chance(60)) {
        static constexpr int kNpsLow[] = {0, 0, 2, 5, 7, 9};
        static constexpr int kNpsHigh[] = {0, 3, 5, 7, 9, 10};
        s->set_nps(static_cast<int32_t>(rng_.Between(kNpsLow[csat], kNpsHigh[csat])));
      }
    }
  }

  // A complaint filed at `at`, answered and resolved as its severity's SLA
  // asks (mostly), sometimes reopened.
  void Complaint(int64_t at) {
    static constexpr v1::Severity kSeverities[] = {v1::SEVERITY_LOW, v1::SEVERITY_MEDIUM,
                                                   v1::SEVERITY_HIGH, v1::SEVERITY_CRITICAL};
    const size_t s = rng_.Weighted({35, 35, 22, 8});
    // Minutes to respond and to resolve: {ok lo, ok hi, breach lo, breach hi}
    // per severity (SLA: LOW 72 h / 14 d, MEDIUM 24 h / 7 d, HIGH 4 h / 72 h,
    // CRITICAL 1 h / 24 h).
    static constexpr int64_t kRespond[4][4] = {{120, 4'200, 4'400, 7'200},
                                               {60, 1'380, 1'500, 2'880},
                                               {20, 230, 300, 600},
                                               {5, 55, 70, 240}};
    static constexpr int64_t kResolve[4][4] = {{2'880, 18'720, 20'400, 28'800},
                                               {1'440, 9'360, 10'200, 15'600},
                                               {360, 4'200, 4'500, 7'200},
                                               {120, 1'320, 1'560, 3'600}};
    const bool respond_late = rng_.Chance(12);
    const bool resolve_late = rng_.Chance(12);
    const int64_t respond =
        rng_.Between(kRespond[s][respond_late ? 2 : 0], kRespond[s][respond_late ? 3 : 1]) *
        kMinute;
    const int64_t resolve = std::max(
        rng_.Between(kResolve[s][resolve_late ? 2 : 0], kResolve[s][resolve_late ? 3 : 1]) *
            kMinute,
        respond + 30 * kMinute);
    static constexpr v1::ComplaintCategory kCategories[] = {
        v1::COMPLAINT_CATEGORY_PRODUCT, v1::COMPLAINT_CATEGORY_SERVICE,
        v1::COMPLAINT_CATEGORY_DELIVERY, v1::COMPLAINT_CATEGORY_BILLING,
        v1::COMPLAINT_CATEGORY_ATTITUDE};
    const v1::ComplaintCategory category = kCategories[rng_.Weighted({35, 25, 15, 15, 10})];
    const std::string id = NextId("complaint", complaints_count_);
    {
      v1::Event& e = Emit(at);
      v1::ComplaintFiled* f = e.mutable_complaint_filed();
      f->set_complaint_id(id);
      f->set_category(category);
      f->set_severity(kSeverities[s]);
      f->set_channel(rng_.Pick(kComplaintChannels));
      f->set_description(kComplaintDescriptions[category]);
    }
    {
      v1::Event& e = Emit(at + respond);
      v1::ComplaintResponded* r = e.mutable_complaint_responded();
      r->set_complaint_id(id);
      r->set_note(rng_.Pick(kResponseNotes));
    }
    const bool satisfied = rng_.Chance(respond_late || resolve_late ? 55 : 85);
    int64_t resolved_at = at + resolve;
    {
      v1::Event& e = Emit(resolved_at);
      v1::ComplaintResolved* r = e.mutable_complaint_resolved();
      r->set_complaint_id(id);
      r->set_resolution(rng_.Pick(kResolutions));
      r->set_satisfied(satisfied);
    }
    if (rng_.Chance(satisfied ? 4 : 25)) {
      const int64_t reopened_at = resolved_at + rng_.Between(1, 5) * kDay;
      {
        v1::Event& e = Emit(reopened_at);
        v1::ComplaintReopened* r = e.mutable_complaint_reopened();
        r->set_complaint_id(id);
        r->set_reason(rng_.Pick(kReopenReasons));
      }
      v1::Event& e = Emit(reopened_at + rng_.Between(1, 4) * kDay);
      v1::ComplaintResolved* r = e.mutable_complaint_resolved();
      r->set_complaint_id(id);
      r->set_resolution(rng_.Pick(kResolutions));
      r->set_satisfied(rng_.Chance(70));
    }
  }

  // Some lapsed customers are won back (挽回) months later: those who left
  // explicitly sooner and more often than those who drifted away.
  void MaybeWinBack(int64_t lapsed_at) {
    const bool churned = fate_ == Fate::kChurner;
    if (won_back_ || !rng_.Chance(churned ? 40 : 20)) return;
    won_back_ = true;
    t_ = WorkTime(DayOf(std::max(t_, lapsed_at)) +
                  (churned ? rng_.Between(45, 150) : rng_.Between(120, 320)));
    if (Over()) return;
    Visit(t_, v1::VISIT_OUTCOME_INTERESTED, true);
    Contract contract;
    if (RunDeal(DealKind::kWinBack, kNever, contract) != DealResult::kWon) return;
    fate_ = rng_.Chance(60) ? Fate::kStable : Fate::kGrower;
    renewals_ = 0;
    RunAccount(contract);
  }

  const World& world_;
  Party& party_;
  const int index_;
  Rng rng_;
  std::vector<Draft>* out_ = nullptr;
  int64_t t_ = 0;  // the cursor: when the next step of a flow happens
  int64_t seq_ = 0;
  const Size* size_ = nullptr;
  std::string channel_;
  int64_t budget_yuan_ = 0;
  Fate fate_ = Fate::kStable;
  Payer payer_ = Payer::kPrompt;
  int renewals_ = 0;
  bool won_back_ = false;
  std::vector<Contact> contacts_;
  int contacts_count_ = 0;
  int visits_count_ = 0;
  int opps_count_ = 0;
  int quotes_count_ = 0;
  int contracts_count_ = 0;
  int payments_count_ = 0;
  int complaints_count_ = 0;
  int surveys_count_ = 0;
};

// ---- the world ---------------------------------------------------------

World MakeWorld(const DemoOptions& options, Rng& rng) {
  World w;
  w.currency = options.currency;
  w.end = absl::ToUnixSeconds(options.end);
  const int64_t start = absl::ToUnixSeconds(options.end - options.span);
  // The first local midnight at or after start.
  const int64_t local = start + kUtcOffset;
  const int64_t midnight = (local + kDay - 1) / kDay * kDay;  // start >= 0
  w.base = midnight - kUtcOffset;
  w.days = (w.end - w.base) / kDay;

  const int owners = options.owners;
  int total_weight = 0;
  for (const Region& r : kRegions) total_weight += r.weight;
  w.reps_by_region.resize(kRegionCount);
  for (int i = 0; i < owners; ++i) {
    w.rep_ids.push_back(OwnerId(i + 1, owners));
    // Reps spread over the regions in proportion to their weight.
    const int64_t position = (2 * int64_t{i} + 1) * total_weight / (2 * int64_t{owners});
    int region = 0;
    int64_t cumulative = kRegions[0].weight;
    while (position >= cumulative && region + 1 < kRegionCount) {
      ++region;
      cumulative += kRegions[region].weight;
    }
    w.rep_region.push_back(region);
    w.reps_by_region[region].push_back(i);
  }
  w.rep_left_at.assign(owners, kNever);
  w.rep_successor.assign(owners, -1);
  // One rep in twenty leaves in the middle of the history; a colleague who
  // stays, from the same region when there is one, takes the customers over.
  if (owners >= 2) {
    const int leaving = std::max(1, owners / 20);
    for (int k = 0; k < leaving; ++k) {
      const int rep = static_cast<int>(rng.Below(owners));
      const int64_t day = w.days * rng.Between(35, 80) / 100;
      w.rep_left_at[rep] = std::min(w.rep_left_at[rep], w.base + day * kDay + 18 * kHour);
    }
    for (int rep = 0; rep < owners; ++rep) {
      if (w.rep_left_at[rep] == kNever) continue;
      for (int other : w.reps_by_region[w.rep_region[rep]]) {
        if (w.rep_left_at[other] == kNever) {
          w.rep_successor[rep] = other;
          break;
        }
      }
      for (int other = 0; other < owners && w.rep_successor[rep] < 0; ++other) {
        if (w.rep_left_at[other] == kNever) w.rep_successor[rep] = other;
      }
      CHECK(w.rep_successor[rep] >= 0);
    }
  }
  return w;
}

std::vector<Party> MakeParties(const DemoOptions& options, const World& w, Rng& rng) {
  const int n = options.customers;
  // Registration days: one party in seven is the existing book, entered in
  // the first weeks after the CRM went live; the rest arrive uniformly, with
  // a tilt towards recent months (the company grows). Ids follow
  // registration order.
  const int64_t go_live_days = std::min<int64_t>(45, w.days);
  std::vector<std::pair<int64_t, bool>> days(n);
  for (auto& [day, established] : days) {
    established = rng.Chance(15);
    if (established) {
      day = rng.Below(go_live_days);
    } else {
      day = rng.Below(w.days);
      if (rng.Chance(30)) day = std::max(day, rng.Below(w.days));
    }
  }
  std::sort(days.begin(), days.end());
  const int width = std::max(6, static_cast<int>(absl::StrCat(n).size()));
  std::vector<Party> parties(n);
  for (int i = 0; i < n; ++i) {
    Party& p = parties[i];
    p.id = absl::StrFormat("C%0*d", width, i + 1);
    static constexpr v1::CustomerKind kKinds[] = {
        v1::CUSTOMER_KIND_CUSTOMER, v1::CUSTOMER_KIND_AGENT, v1::CUSTOMER_KIND_SUPPLIER,
        v1::CUSTOMER_KIND_PARTNER, v1::CUSTOMER_KIND_COMPETITOR};
    p.kind = kKinds[rng.Weighted({85, 7, 3, 3, 2})];
    p.region = static_cast<int>(rng.PickWeightedIndex(kRegions));
    p.established = days[i].second;
    p.registered_at = std::min(
        w.base + days[i].first * kDay + 9 * kHour + rng.Between(0, 9 * 60 - 1) * kMinute, w.end);
    const std::vector<int>& local = w.reps_by_region[p.region];
    int owner = local.empty() ? static_cast<int>(rng.Below(static_cast<int64_t>(w.rep_ids.size())))
                              : local[rng.Below(static_cast<int64_t>(local.size()))];
    if (w.rep_left_at[owner] <= p.registered_at) owner = w.rep_successor[owner];
    p.owner = owner;
    if (w.rep_left_at[owner] != kNever) {
      p.new_owner = w.rep_successor[owner];
      p.handover_at = w.rep_left_at[owner] + rng.Between(15, 60 * 24 * 3) * kMinute;
    }
    // Referred customers: an earlier customer is found for each below.
    p.referred = p.kind == v1::CUSTOMER_KIND_CUSTOMER && i > 20 && rng.Chance(8);
  }
  return parties;
}

}  // namespace

std::string OwnerId(int index_from_one, int owners) {
  const int width = std::max(2, static_cast<int>(absl::StrCat(owners).size()));
  return absl::StrFormat("rep-%0*d", width, index_from_one);
}

std::vector<v1::Event> GenerateDemo(const DemoOptions& options) {
  CHECK(options.customers >= 0) << "customers must be >= 0, got " << options.customers;
  CHECK(options.owners >= 1) << "owners must be >= 1, got " << options.owners;
  CHECK(options.span >= absl::Hours(24 * 7)) << "span must be at least 7 days";
  CHECK(options.end - options.span >= absl::FromUnixSeconds(0) &&
        options.end <= absl::FromCivil(absl::CivilSecond(2190, 1, 1, 0, 0, 0), absl::UTCTimeZone()))
      << "end must lie within 1971..2190 and end - span after 1970";
  CHECK(!options.currency.empty()) << "currency is required";

  Rng world_rng(SplitMix64(options.seed));
  const World world = MakeWorld(options, world_rng);
  std::vector<Party> parties = MakeParties(options, world, world_rng);

  std::vector<Draft> drafts;
  std::vector<int64_t> next_seq(parties.size(), 0);
  for (size_t i = 0; i < parties.size(); ++i) {
    const size_t first = drafts.size();
    PartySim sim(world, parties[i], static_cast<int>(i),
                 SplitMix64(options.seed ^ SplitMix64(0xC057095ULL + i)));
    sim.Run(drafts);
    next_seq[i] = sim.next_seq();
    // Drop what lies past the end; learn what referrals need to know.
    Party& p = parties[i];
    size_t kept = first;
    for (size_t j = first; j < drafts.size(); ++j) {
      if (drafts[j].at > world.end) continue;
      const v1::Event& e = drafts[j].event;
      if (domain::IsActivity(e)) {
        p.last_activity_at = p.last_activity_at == kNever
                                 ? drafts[j].at
                                 : std::max(p.last_activity_at, drafts[j].at);
      }
      if (e.has_contract_signed())
        p.first_purchase_at = std::min(p.first_purchase_at, drafts[j].at);
      if (e.has_customer_churned()) p.churned_at = std::min(p.churned_at, drafts[j].at);
      if (kept != j) drafts[kept] = std::move(drafts[j]);
      ++kept;
    }
    drafts.resize(kept);
  }

  // Referrals: each referred customer is credited to an earlier customer
  // who had bought before it registered and was still engaged.
  Rng referral_rng(SplitMix64(options.seed ^ 0x5EFE55A1ULL));
  for (size_t b = 0; b < parties.size(); ++b) {
    const Party& referred = parties[b];
    if (!referred.referred) continue;
    const int64_t day = (referred.registered_at - world.base) / kDay + referral_rng.Between(1, 5);
    const int64_t at =
        world.base + day * kDay + 9 * kHour + referral_rng.Between(0, 9 * 60 - 1) * kMinute;
    for (int probe = 0; probe < 40 && at <= world.end; ++probe) {
      const size_t a = static_cast<size_t>(referral_rng.Below(static_cast<int64_t>(b)));
      const Party& referrer = parties[a];
      const bool engaged = referrer.first_purchase_at < referred.registered_at &&
                           referrer.last_activity_at != kNever &&
                           referrer.last_activity_at + 90 * kDay >= at && referrer.churned_at > at;
      if (!engaged) continue;
      Draft d{.at = at, .seq = next_seq[a]++, .party = static_cast<int>(a), .event = {}};
      d.event.set_customer_id(referrer.id);
      d.event.mutable_occurred_at()->set_seconds(at);
      d.event.set_source("demo");
      d.event.set_actor_id(world.rep_ids[referrer.OwnerAt(at)]);
      d.event.mutable_referral_made()->set_referred_customer_id(referred.id);
      drafts.push_back(std::move(d));
      break;
    }
  }

  // Order by time, then by party and generation order: a total order, so
  // the result does not depend on the sort algorithm.
  std::vector<size_t> order(drafts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    const Draft& a = drafts[x];
    const Draft& b = drafts[y];
    if (a.at != b.at) return a.at < b.at;
    if (a.party != b.party) return a.party < b.party;
    return a.seq < b.seq;
  });
  const int width = std::max(7, static_cast<int>(absl::StrCat(drafts.size()).size()));
  const std::string prefix = absl::StrCat("demo-", options.seed, "-");
  std::vector<v1::Event> events;
  events.reserve(drafts.size());
  for (size_t n = 0; n < order.size(); ++n) {
    v1::Event& e = drafts[order[n]].event;
    e.set_event_id(absl::StrCat(prefix, absl::StrFormat("%0*d", width, n + 1)));
    events.push_back(std::move(e));
  }
  return events;
}

}  // namespace custops::demo

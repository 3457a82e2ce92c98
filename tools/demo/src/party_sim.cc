// PartySim, the party itself: the simulation's entry point (Run), the
// registration with the party's profile, its contacts, visits, and the
// meetings with suppliers and partners.

#include "party_sim.h"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/v1/events.pb.h"
#include "vocabulary.h"

namespace custops::demo::internal {

void PartySim::Run(std::vector<Draft>& out) {
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

void PartySim::Register() {
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

size_t PartySim::PickChannel() {
  while (true) {
    const size_t i = rng_.PickWeightedIndex(kChannels);
    if (std::string(kChannels[i].name) != kReferralChannel) return i;
  }
}

void PartySim::AddContact(int64_t at, bool first) {
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

std::string PartySim::ContactFor(int64_t at, bool decision_maker) {
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

void PartySim::Visit(int64_t at, v1::VisitOutcome outcome, bool decision_maker,
                     v1::VisitChannel channel) {
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

void PartySim::RunRelationship() {
  Wait(3, 30);
  while (!Over()) {
    Visit(t_, v1::VISIT_OUTCOME_NEUTRAL, false, v1::VISIT_CHANNEL_MEETING);
    Wait(45, 150);
  }
}
}  // namespace custops::demo::internal

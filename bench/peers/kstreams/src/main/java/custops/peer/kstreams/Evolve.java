package custops.peer.kstreams;

import com.google.protobuf.Timestamp;
import custops.internal.LifecycleFacts.ContactFacts;
import custops.internal.LifecycleFacts.ContactVersion;
import custops.internal.LifecycleFacts.ContractFacts;
import custops.internal.LifecycleFacts.CustomerFacts;
import custops.internal.LifecycleFacts.Milestone;
import custops.internal.LifecycleFacts.MilestoneKind;
import custops.internal.LifecycleFacts.OpportunityFacts;
import custops.internal.LifecycleFacts.OpportunityStageFact;
import custops.internal.LifecycleFacts.ProfileChange;
import custops.internal.LifecycleFacts.Renewal;
import custops.v1.Common.Money;
import custops.v1.Events.ContactAdded;
import custops.v1.Events.ContractRenewed;
import custops.v1.Events.ContractSigned;
import custops.v1.Events.ContractTerminated;
import custops.v1.Events.Event;
import custops.v1.Events.FunnelStage;
import custops.v1.Events.OpportunityOpened;
import custops.v1.Events.OpportunityStageChanged;
import custops.v1.Events.VisitLogged;
import custops.v1.Events.VisitOutcome;
import java.util.ArrayList;
import java.util.List;

/**
 * Port of custops::domain::Evolve (libs/domain/src/lifecycle_evolve.cc): folds one event into a
 * customer's facts ({@code custops.internal.CustomerFacts}, the same message custops stores), each
 * list kept in its canonical order so the same events give the same facts in any arrival order.
 */
final class Evolve {
  private Evolve() {}

  /** Outcome of one Evolve, as the C++ absl::Status: OK, a no-op reason, or an invalid event. */
  enum Outcome {
    OK,
    /** FAILED_PRECONDITION in C++: a no-op (already_registered, duplicate_event, ...). */
    NOOP,
    /** INVALID_ARGUMENT in C++: the runtime dead-letters the record. */
    INVALID
  }

  static final long INF = Long.MAX_VALUE;
  static final long NEG_INF = Long.MIN_VALUE;

  // google.protobuf.Timestamp's valid range: 0001-01-01 .. 9999-12-31.
  private static final long MIN_TIMESTAMP_SECONDS = -62_135_596_800L;
  private static final long MAX_TIMESTAMP_SECONDS = 253_402_300_799L;

  /** TimestampToMicros (lifecycle_evolve.cc): floors sub-microseconds; NEG_INF when out of range. */
  static long micros(Timestamp ts) {
    if (ts.getSeconds() < MIN_TIMESTAMP_SECONDS
        || ts.getSeconds() > MAX_TIMESTAMP_SECONDS
        || ts.getNanos() < 0
        || ts.getNanos() > 999_999_999) {
      return NEG_INF;
    }
    return ts.getSeconds() * 1_000_000L + ts.getNanos() / 1000;
  }

  /** The (at_us, event_id) order of milestones, profile changes and contact versions. */
  private static int compareEventKey(long atA, String idA, long atB, String idB) {
    if (atA != atB) return atA < atB ? -1 : 1;
    return idA.compareTo(idB);
  }

  /** EventInsertPos over milestones: the insert position, or -1 when the key is present. */
  private static int milestoneInsertPos(CustomerFacts.Builder f, long at, String id) {
    int lo = 0;
    int hi = f.getMilestonesCount();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      Milestone m = f.getMilestones(mid);
      if (compareEventKey(m.getAtUs(), m.getEventId(), at, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo < f.getMilestonesCount()) {
      Milestone m = f.getMilestones(lo);
      if (m.getAtUs() == at && m.getEventId().equals(id)) return -1;
    }
    return lo;
  }

  private static int profileInsertPos(CustomerFacts.Builder f, long at, String id) {
    int lo = 0;
    int hi = f.getProfileChangesCount();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      ProfileChange p = f.getProfileChanges(mid);
      if (compareEventKey(p.getAtUs(), p.getEventId(), at, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo < f.getProfileChangesCount()) {
      ProfileChange p = f.getProfileChanges(lo);
      if (p.getAtUs() == at && p.getEventId().equals(id)) return -1;
    }
    return lo;
  }

  private static int versionInsertPos(ContactFacts c, long at, String id) {
    int lo = 0;
    int hi = c.getVersionsCount();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      ContactVersion v = c.getVersions(mid);
      if (compareEventKey(v.getAtUs(), v.getEventId(), at, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo < c.getVersionsCount()) {
      ContactVersion v = c.getVersions(lo);
      if (v.getAtUs() == at && v.getEventId().equals(id)) return -1;
    }
    return lo;
  }

  /** Lower bound of `id` in a list ordered by id. */
  private interface IdAt {
    String idAt(int i);
  }

  private static int idLowerBound(int size, IdAt ids, String id) {
    int lo = 0;
    int hi = size;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (ids.idAt(mid).compareTo(id) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** FindOrInsertById over contacts: the index of the contact, inserted empty when missing. */
  private static int contactIndex(CustomerFacts.Builder f, String contactId) {
    int pos = idLowerBound(f.getContactsCount(), i -> f.getContacts(i).getContactId(), contactId);
    if (pos < f.getContactsCount() && f.getContacts(pos).getContactId().equals(contactId)) {
      return pos;
    }
    f.addContacts(pos, ContactFacts.newBuilder().setContactId(contactId).build());
    return pos;
  }

  private static int findContact(CustomerFacts.Builder f, String contactId) {
    int pos = idLowerBound(f.getContactsCount(), i -> f.getContacts(i).getContactId(), contactId);
    return pos < f.getContactsCount() && f.getContacts(pos).getContactId().equals(contactId)
        ? pos
        : -1;
  }

  private static int contractIndex(CustomerFacts.Builder f, String contractId) {
    int pos =
        idLowerBound(f.getContractsCount(), i -> f.getContracts(i).getContractId(), contractId);
    if (pos < f.getContractsCount() && f.getContracts(pos).getContractId().equals(contractId)) {
      return pos;
    }
    f.addContracts(pos, ContractFacts.newBuilder().setContractId(contractId).build());
    return pos;
  }

  private static int findContract(CustomerFacts.Builder f, String contractId) {
    int pos =
        idLowerBound(f.getContractsCount(), i -> f.getContracts(i).getContractId(), contractId);
    return pos < f.getContractsCount() && f.getContracts(pos).getContractId().equals(contractId)
        ? pos
        : -1;
  }

  private static int opportunityIndex(CustomerFacts.Builder f, String id) {
    int pos =
        idLowerBound(f.getOpportunitiesCount(), i -> f.getOpportunities(i).getOpportunityId(), id);
    if (pos < f.getOpportunitiesCount()
        && f.getOpportunities(pos).getOpportunityId().equals(id)) {
      return pos;
    }
    f.addOpportunities(pos, OpportunityFacts.newBuilder().setOpportunityId(id).build());
    return pos;
  }

  private static int findOpportunity(CustomerFacts.Builder f, String id) {
    int pos =
        idLowerBound(f.getOpportunitiesCount(), i -> f.getOpportunities(i).getOpportunityId(), id);
    return pos < f.getOpportunitiesCount()
            && f.getOpportunities(pos).getOpportunityId().equals(id)
        ? pos
        : -1;
  }

  /** AddActivity: inserts the instant into the sorted activity_us, each instant once. */
  private static void addActivity(CustomerFacts.Builder f, long at) {
    int n = f.getActivityUsCount();
    if (n == 0 || f.getActivityUs(n - 1) < at) { // the usual case: append at the end
      f.addActivityUs(at);
      return;
    }
    int lo = 0;
    int hi = n;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (f.getActivityUs(mid) < at) lo = mid + 1;
      else hi = mid;
    }
    if (lo < n && f.getActivityUs(lo) == at) return;
    // Repeated scalars have no insert in Java's builders: rebuild the list.
    List<Long> times = new ArrayList<>(f.getActivityUsList());
    times.add(lo, at);
    f.clearActivityUs().addAllActivityUs(times);
  }

  /** NoteCurrency: the smallest non-empty currency code seen. */
  private static void noteCurrency(CustomerFacts.Builder f, Money money) {
    String c = money.getCurrency();
    if (c.isEmpty()) return;
    if (f.getCurrency().isEmpty() || c.compareTo(f.getCurrency()) < 0) f.setCurrency(c);
  }

  /** AddMilestone: records a milestone (and its activity) at `pos` from milestoneInsertPos. */
  private static void addMilestone(
      CustomerFacts.Builder f, int pos, long at, String eventId, MilestoneKind kind, long amount) {
    f.addMilestones(
        pos,
        Milestone.newBuilder()
            .setAtUs(at)
            .setEventId(eventId)
            .setKind(kind)
            .setAmountUnits(amount)
            .build());
    addActivity(f, at);
  }

  /** custops::domain::Evolve. Checks first and mutates only once the event is accepted. */
  static Outcome evolve(CustomerFacts.Builder f, Event event) {
    if (event.getPayloadCase() == Event.PayloadCase.PAYLOAD_NOT_SET) return Outcome.INVALID;
    if (!event.hasOccurredAt()) return Outcome.INVALID;
    final long at = micros(event.getOccurredAt());
    if (at == NEG_INF) return Outcome.INVALID;
    if (!f.getCustomerId().isEmpty() && !event.getCustomerId().equals(f.getCustomerId())) {
      return Outcome.NOOP; // customer_id_mismatch
    }
    final String id = event.getEventId();

    switch (event.getPayloadCase()) {
      case CUSTOMER_REGISTERED: {
        if (f.getRegistered()) return Outcome.NOOP; // already_registered
        int pos = profileInsertPos(f, at, id);
        if (pos < 0) return Outcome.NOOP; // duplicate_event
        f.addProfileChanges(
            pos,
            ProfileChange.newBuilder()
                .setAtUs(at)
                .setEventId(id)
                .setRegistered(event.getCustomerRegistered())
                .build());
        f.setRegistered(true);
        f.setRegisteredAtUs(at);
        noteCurrency(f, event.getCustomerRegistered().getBudget());
        break;
      }
      case CUSTOMER_PROFILE_UPDATED: {
        int pos = profileInsertPos(f, at, id);
        if (pos < 0) return Outcome.NOOP;
        f.addProfileChanges(
            pos,
            ProfileChange.newBuilder()
                .setAtUs(at)
                .setEventId(id)
                .setUpdated(event.getCustomerProfileUpdated())
                .build());
        noteCurrency(f, event.getCustomerProfileUpdated().getBudget());
        break;
      }
      case CONTACT_ADDED: {
        ContactAdded ca = event.getContactAdded();
        int existing = findContact(f, ca.getContactId());
        int pos = existing < 0 ? 0 : versionInsertPos(f.getContacts(existing), at, id);
        if (pos < 0) return Outcome.NOOP;
        int ci = contactIndex(f, ca.getContactId());
        ContactVersion.Builder v =
            ContactVersion.newBuilder()
                .setAtUs(at)
                .setEventId(id)
                .setName(ca.getName())
                .setRole(ca.getRole());
        if (ca.hasBirthday()) v.setBirthday(ca.getBirthday());
        f.getContactsBuilder(ci).addVersions(pos, v.build());
        break;
      }
      case VISIT_LOGGED: {
        VisitLogged visit = event.getVisitLogged();
        MilestoneKind kind = MilestoneKind.MILESTONE_KIND_UNSPECIFIED;
        if (visit.getOutcome() == VisitOutcome.VISIT_OUTCOME_INTERESTED) {
          kind = MilestoneKind.MILESTONE_KIND_VISIT_INTERESTED;
        } else if (visit.getOutcome() == VisitOutcome.VISIT_OUTCOME_NEED_CONFIRMED) {
          kind = MilestoneKind.MILESTONE_KIND_VISIT_NEED_CONFIRMED;
        }
        if (kind != MilestoneKind.MILESTONE_KIND_UNSPECIFIED) {
          int pos = milestoneInsertPos(f, at, id);
          if (pos < 0) return Outcome.NOOP;
          addMilestone(f, pos, at, id, kind, 0);
        }
        if (!visit.getContactId().isEmpty()) {
          int ci = contactIndex(f, visit.getContactId());
          ContactFacts c = f.getContacts(ci);
          if (!c.hasFirstVisitUs() || at < c.getFirstVisitUs()) {
            f.getContactsBuilder(ci).setFirstVisitUs(at);
          }
        }
        addActivity(f, at);
        break;
      }
      case OPPORTUNITY_OPENED: {
        OpportunityOpened oo = event.getOpportunityOpened();
        int existing = findOpportunity(f, oo.getOpportunityId());
        if (existing >= 0 && f.getOpportunities(existing).hasOpenedAtUs()) {
          return Outcome.NOOP; // opportunity_already_opened
        }
        int oi = opportunityIndex(f, oo.getOpportunityId());
        f.getOpportunitiesBuilder(oi)
            .setOpenedAtUs(at)
            .setAmountUnits(oo.getAmount().getUnits())
            .setProduct(oo.getProduct());
        noteCurrency(f, oo.getAmount());
        addActivity(f, at);
        break;
      }
      case OPPORTUNITY_STAGE_CHANGED: {
        // Recorded even before its OpportunityOpened arrives.
        OpportunityStageChanged sc = event.getOpportunityStageChanged();
        int stage = sc.getStageValue();
        boolean advanced =
            stage >= FunnelStage.FUNNEL_STAGE_FIRST_VISIT_VALUE
                && stage <= FunnelStage.FUNNEL_STAGE_CONTRACT_SIGNED_VALUE;
        int pos = 0;
        if (advanced) {
          pos = milestoneInsertPos(f, at, id);
          if (pos < 0) return Outcome.NOOP;
        }
        int oi = opportunityIndex(f, sc.getOpportunityId());
        OpportunityFacts.Builder opp = f.getOpportunitiesBuilder(oi);
        // Ordered by (at_us, stage): lower bound, then insert.
        int lo = 0;
        int hi = opp.getStagesCount();
        while (lo < hi) {
          int mid = (lo + hi) >>> 1;
          OpportunityStageFact s = opp.getStages(mid);
          boolean less =
              s.getAtUs() < at || (s.getAtUs() == at && s.getStageValue() < stage);
          if (less) lo = mid + 1;
          else hi = mid;
        }
        opp.addStages(
            lo, OpportunityStageFact.newBuilder().setAtUs(at).setStageValue(stage).build());
        if (advanced) {
          addMilestone(f, pos, at, id, MilestoneKind.MILESTONE_KIND_OPPORTUNITY_ADVANCED, 0);
        }
        addActivity(f, at);
        break;
      }
      case QUOTE_ISSUED: {
        int pos = milestoneInsertPos(f, at, id);
        if (pos < 0) return Outcome.NOOP;
        addMilestone(f, pos, at, id, MilestoneKind.MILESTONE_KIND_QUOTE_ISSUED, 0);
        break;
      }
      case CONTRACT_SIGNED: {
        ContractSigned cs = event.getContractSigned();
        int existing = findContract(f, cs.getContractId());
        if (existing >= 0 && f.getContracts(existing).hasSignedAtUs()) {
          return Outcome.NOOP; // contract_already_signed
        }
        long start = at;
        if (cs.hasStart()) {
          start = micros(cs.getStart());
          if (start == NEG_INF) return Outcome.INVALID; // invalid_contract_start
        }
        long end = INF;
        if (cs.hasEnd()) {
          end = micros(cs.getEnd());
          if (end == NEG_INF) return Outcome.INVALID; // invalid_contract_end
        }
        int pos = milestoneInsertPos(f, at, id);
        if (pos < 0) return Outcome.NOOP;
        int ci = contractIndex(f, cs.getContractId());
        ContractFacts.Builder c = f.getContractsBuilder(ci);
        c.setSignedAtUs(at).setStartUs(start);
        if (cs.hasEnd()) c.setEndUs(end);
        noteCurrency(f, cs.getAmount());
        addMilestone(
            f,
            pos,
            at,
            id,
            MilestoneKind.MILESTONE_KIND_CONTRACT_SIGNED,
            cs.getAmount().getUnits());
        break;
      }
      case CONTRACT_RENEWED: {
        // Recorded even before its ContractSigned arrives.
        ContractRenewed cr = event.getContractRenewed();
        long newEnd = 0;
        if (cr.hasNewEnd()) {
          newEnd = micros(cr.getNewEnd());
          if (newEnd == NEG_INF) return Outcome.INVALID; // invalid_new_end
        }
        int pos = milestoneInsertPos(f, at, id);
        if (pos < 0) return Outcome.NOOP;
        int ci = contractIndex(f, cr.getContractId());
        if (cr.hasNewEnd()) {
          ContractFacts.Builder c = f.getContractsBuilder(ci);
          // Ordered by (at_us, new_end_us).
          int lo = 0;
          int hi = c.getRenewalsCount();
          while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            Renewal r = c.getRenewals(mid);
            boolean less =
                r.getAtUs() < at || (r.getAtUs() == at && r.getNewEndUs() < newEnd);
            if (less) lo = mid + 1;
            else hi = mid;
          }
          c.addRenewals(lo, Renewal.newBuilder().setAtUs(at).setNewEndUs(newEnd).build());
        }
        noteCurrency(f, cr.getAmount());
        addMilestone(
            f,
            pos,
            at,
            id,
            MilestoneKind.MILESTONE_KIND_CONTRACT_RENEWED,
            cr.getAmount().getUnits());
        break;
      }
      case CONTRACT_TERMINATED: {
        ContractTerminated ct = event.getContractTerminated();
        int existing = findContract(f, ct.getContractId());
        if (existing >= 0 && f.getContracts(existing).hasTerminatedAtUs()) {
          return Outcome.NOOP; // contract_already_terminated
        }
        int ci = contractIndex(f, ct.getContractId());
        f.getContractsBuilder(ci).setTerminatedAtUs(at);
        addActivity(f, at);
        break;
      }
      case CUSTOMER_CHURNED: {
        int pos = milestoneInsertPos(f, at, id);
        if (pos < 0) return Outcome.NOOP;
        addMilestone(f, pos, at, id, MilestoneKind.MILESTONE_KIND_CHURNED, 0);
        break;
      }
      default:
        // Payments, quote answers, complaints, surveys, referrals: activity only.
        addActivity(f, at);
        break;
    }
    if (f.getCustomerId().isEmpty()) f.setCustomerId(event.getCustomerId());
    return Outcome.OK;
  }
}

package custops.peer.kstreams;

import static custops.peer.kstreams.Evolve.INF;
import static custops.peer.kstreams.Evolve.NEG_INF;

import custops.internal.LifecycleFacts.ContactFacts;
import custops.internal.LifecycleFacts.ContactVersion;
import custops.internal.LifecycleFacts.ContractFacts;
import custops.internal.LifecycleFacts.CustomerFacts;
import custops.internal.LifecycleFacts.Milestone;
import custops.internal.LifecycleFacts.MilestoneKind;
import custops.internal.LifecycleFacts.ProfileChange;
import custops.internal.LifecycleFacts.Renewal;
import custops.v1.Events.ContactRole;
import custops.v1.Events.CustomerProfileUpdated;
import custops.v1.Events.CustomerRegistered;
import custops.v1.Events.Need;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Port of the lifecycle classification (libs/domain/src/lifecycle.cc, docs/lifecycle.md): the
 * Sweeper that replays a customer's facts in time order, interleaved with the instants at which a
 * time-driven rule becomes true, and Classify / Summarize on top of it; plus FoldProfile and
 * ManClassFor (lifecycle_view.cc), which Summarize uses. Stages and sub-stages are the enum numbers
 * of custops.v1.LifecycleStage / SubStage.
 */
final class Lifecycle {
  private Lifecycle() {}

  // custops.v1.LifecycleStage
  static final int UNSPECIFIED = 0;
  static final int PROSPECT = 1;
  static final int INTENT = 2;
  static final int CUSTOMER = 3;
  static final int LOST = 4;
  // custops.v1.SubStage
  static final int SUB_NONE = 0;
  static final int SUB_NEW = 1;
  static final int SUB_GROWING = 2;
  static final int SUB_STABLE = 3;
  static final int SUB_DECLINING = 4;

  private static final long MICROS_PER_SECOND = 1_000_000L;
  private static final long DAY = 86_400L * MICROS_PER_SECOND;

  /** custops::domain::LifecycleRules, in microseconds (defaults of docs/lifecycle.md). */
  static final class Rules {
    long newPeriod = 180 * DAY;
    long dormantLead = 180 * DAY;
    long lostSilence = 365 * DAY;
    long revenueWindow = 365 * DAY;
    long growthPermille = 1100;
    long declinePermille = 700;
    long minDeclineSilence = 180 * DAY;
    long defaultMedianGap = 365 * DAY;
    long manBudgetThresholdUnits = 10_000_000L;

    /** NoActivityReason: "no_activity_365d", the configured silence in its largest whole unit. */
    String noActivityReason() {
      long us = positive(lostSilence);
      long hour = 3_600L * MICROS_PER_SECOND;
      if (us % DAY == 0) return "no_activity_" + us / DAY + "d";
      if (us % hour == 0) return "no_activity_" + us / hour + "h";
      if (us % MICROS_PER_SECOND == 0) return "no_activity_" + us / MICROS_PER_SECOND + "s";
      return "no_activity_" + us + "us";
    }
  }

  /** The reasons of lifecycle.cc's Reason enum, by their names. */
  enum Reason {
    REGISTERED("registered"),
    QUOTE_ISSUED("quote_issued"),
    OPPORTUNITY_ADVANCED("opportunity_advanced"),
    VISIT_INTERESTED("visit_interested"),
    VISIT_NEED_CONFIRMED("visit_need_confirmed"),
    FIRST_PURCHASE("first_purchase"),
    WIN_BACK("win_back"),
    CHURNED("churned"),
    NO_ACTIVITY("no_activity"), // named by Rules.noActivityReason()
    DORMANT_LEAD("dormant_lead"),
    NEW_PERIOD_ENDED("new_period_ended"),
    REVENUE_GROWTH("revenue_growth"),
    REVENUE_DECLINE("revenue_decline"),
    PURCHASE_SILENCE("purchase_silence"),
    STABLE_REVENUE("stable_revenue");

    final String text;

    Reason(String text) {
      this.text = text;
    }
  }

  /** One history entry (lifecycle.cc's Entry; a v1.StageTransition once announced). */
  static final class Entry {
    final long at;
    final int from;
    final int to;
    final Reason reason;
    final int fromSub;
    final int toSub;

    Entry(long at, int from, int to, Reason reason, int fromSub, int toSub) {
      this.at = at;
      this.from = from;
      this.to = to;
      this.reason = reason;
      this.fromSub = fromSub;
      this.toSub = toSub;
    }

    String reasonText(Rules rules) {
      return reason == Reason.NO_ACTIVITY ? rules.noActivityReason() : reason.text;
    }
  }

  /** LifecycleResult: stage, sub-stage and the whole history at as_of. */
  static final class Result {
    int stage;
    int subStage;
    List<Entry> history;
    long nextChangeAt; // INF: none
  }

  /** LifecycleSummary: what the index needs at as_of, from one sweep. */
  static final class Summary {
    int stage;
    int subStage;
    Entry lastTransition; // null: none
    long nextChangeAt; // INF: none
    Profile profile;
    String manClass = "";
    long lastActivityAt = NEG_INF; // NEG_INF: none
  }

  /** The profile fields FoldProfile produces (v1.CustomerProfile, the ones used here). */
  static final class Profile {
    String name = "";
    int kind;
    String industry = "";
    String region = "";
    String city = "";
    String ownerId = "";
    String channel = "";
    String size = "";
    long budgetUnits;
    int need;
  }

  static long positive(long micros) {
    return Math.max(1, micros);
  }

  static long satAdd(long a, long b) {
    long r = a + b;
    // Overflow iff both operands have the sign opposite to the result.
    if (((a ^ r) & (b ^ r)) < 0) return b > 0 ? INF : NEG_INF;
    return r;
  }

  /** Compares a * ka with b * kb exactly (128-bit products, as lifecycle.cc's __int128). */
  private static int compareScaled(long a, long ka, long b, long kb) {
    long aHi = Math.multiplyHigh(a, ka);
    long aLo = a * ka;
    long bHi = Math.multiplyHigh(b, kb);
    long bLo = b * kb;
    if (aHi != bHi) return aHi < bHi ? -1 : 1;
    return Long.compareUnsigned(aLo, bLo);
  }

  /** ContractInterval (lifecycle_internal.h): out = [start, end) as known at `knownAt`. */
  static boolean contractInterval(ContractFacts c, long knownAt, long[] out) {
    if (!c.hasSignedAtUs() || c.getSignedAtUs() > knownAt) return false;
    long start = c.getStartUs();
    long end = c.hasEndUs() ? c.getEndUs() : INF;
    for (Renewal r : c.getRenewalsList()) {
      if (r.getAtUs() > knownAt) break;
      end = r.getNewEndUs();
    }
    if (c.hasTerminatedAtUs() && c.getTerminatedAtUs() <= knownAt) {
      end = Math.min(end, c.getTerminatedAtUs());
    }
    out[0] = start;
    out[1] = end;
    return true;
  }

  /** StartOf: the customer's earliest fact of any kind; INF when none. */
  static long startOf(CustomerFacts f) {
    long start = INF;
    if (f.getRegistered()) start = f.getRegisteredAtUs();
    if (f.getActivityUsCount() > 0) start = Math.min(start, f.getActivityUs(0));
    if (f.getMilestonesCount() > 0) start = Math.min(start, f.getMilestones(0).getAtUs());
    if (f.getProfileChangesCount() > 0) start = Math.min(start, f.getProfileChanges(0).getAtUs());
    for (ContactFacts c : f.getContactsList()) {
      if (c.getVersionsCount() > 0) start = Math.min(start, c.getVersions(0).getAtUs());
    }
    return start;
  }

  /**
   * Port of lifecycle.cc's Sweeper: replays facts in time order. runThrough(t) yields the
   * classification at t; nextChange() then continues to the first later transition.
   */
  static final class Sweeper {
    private final CustomerFacts facts;
    private final long newPeriod;
    private final long dormant;
    private final long lostSilence;
    private final long window;
    private final long minSilence;
    private final long defaultGap;
    private final long growthPermille;
    private final long declinePermille;
    private final long start;

    private boolean started;
    private int ia; // next activity_us index
    private int im; // next milestone index
    private long tState = NEG_INF; // instant of the last applied events
    private long tEval = NEG_INF; // last instant classified (>= tState)
    private long lastActivity = NEG_INF;

    private int stage = UNSPECIFIED;
    private int sub = SUB_NONE;
    private int winBacks;

    // Purchases so far, in time order, with prefix sums of their amounts (long here; C++ keeps
    // __int128 sums: exact below 9.2e18 minor units, far above any real total).
    private long[] purchaseTimes = new long[8];
    private int purchases;
    private long[] prefix = new long[9];
    private int leftLast; // purchases that have left the last window
    private int leftPrior; // purchases that have left the prior window too
    private long firstPurchase = INF;
    private long lastPurchase = NEG_INF;
    private long[] gaps = new long[8]; // sorted gaps between distinct purchase instants
    private int gapCount;
    private long threshold;

    private boolean lostAtValid;
    private long lostAt = INF;
    private final long[] interval = new long[2];

    final ArrayList<Entry> entries = new ArrayList<>(8);

    Sweeper(CustomerFacts facts, Rules rules) {
      this.facts = facts;
      this.newPeriod = positive(rules.newPeriod);
      this.dormant = positive(rules.dormantLead);
      this.lostSilence = positive(rules.lostSilence);
      this.window = positive(rules.revenueWindow);
      this.minSilence = positive(rules.minDeclineSilence);
      this.defaultGap = positive(rules.defaultMedianGap);
      this.growthPermille = rules.growthPermille;
      this.declinePermille = rules.declinePermille;
      this.start = startOf(facts);
      updateThreshold();
    }

    int stage() {
      return stage;
    }

    int subStage() {
      return sub;
    }

    /** RunThrough: applies every fact at or before `bound` and every rule due at or before it. */
    void runThrough(long bound) {
      if (!start(bound)) return;
      while (true) {
        long group = nextGroupTime();
        if (group == INF || group > bound) {
          advanceRules(bound, false);
          return;
        }
        // A rule due at exactly `group` fires before the events at `group`.
        advanceRules(group, false);
        processGroup(group);
      }
    }

    /** NextChange: the instant of the first transition after the last bound; INF when none. */
    long nextChange() {
      int seen = entries.size();
      if (!started) return start;
      while (true) {
        long group = nextGroupTime();
        if (advanceRules(group, true)) return entries.get(seen).at;
        if (group == INF) return INF;
        processGroup(group);
        if (entries.size() > seen) return entries.get(seen).at;
      }
    }

    private boolean start(long bound) {
      if (started) return true;
      if (start == INF || start > bound) return false;
      started = true;
      tEval = start;
      emit(start, PROSPECT, Reason.REGISTERED, SUB_NONE);
      return true;
    }

    private long nextGroupTime() {
      long t = INF;
      if (ia < facts.getActivityUsCount()) t = facts.getActivityUs(ia);
      if (im < facts.getMilestonesCount()) t = Math.min(t, facts.getMilestones(im).getAtUs());
      return t;
    }

    private void emit(long at, int to, Reason reason, int toSub) {
      entries.add(new Entry(at, stage, to, reason, sub, toSub));
      stage = to;
      sub = toSub;
    }

    /** ProcessGroup: applies all events at instant t, in event_id order. */
    private void processGroup(long t) {
      tState = t;
      tEval = t;
      lastActivity = t;
      lostAtValid = false;
      advanceWindows(t);
      while (ia < facts.getActivityUsCount() && facts.getActivityUs(ia) <= t) ++ia;
      while (im < facts.getMilestonesCount() && facts.getMilestones(im).getAtUs() <= t) {
        apply(facts.getMilestones(im), t);
        ++im;
      }
    }

    private void apply(Milestone m, long t) {
      switch (m.getKindValue()) {
        case MilestoneKind.MILESTONE_KIND_QUOTE_ISSUED_VALUE:
          intent(t, Reason.QUOTE_ISSUED);
          return;
        case MilestoneKind.MILESTONE_KIND_OPPORTUNITY_ADVANCED_VALUE:
          intent(t, Reason.OPPORTUNITY_ADVANCED);
          return;
        case MilestoneKind.MILESTONE_KIND_VISIT_INTERESTED_VALUE:
          intent(t, Reason.VISIT_INTERESTED);
          return;
        case MilestoneKind.MILESTONE_KIND_VISIT_NEED_CONFIRMED_VALUE:
          intent(t, Reason.VISIT_NEED_CONFIRMED);
          return;
        case MilestoneKind.MILESTONE_KIND_CONTRACT_SIGNED_VALUE:
        case MilestoneKind.MILESTONE_KIND_CONTRACT_RENEWED_VALUE:
          purchase(t, m.getAmountUnits());
          return;
        case MilestoneKind.MILESTONE_KIND_CHURNED_VALUE:
          if (stage != LOST) emit(t, LOST, Reason.CHURNED, SUB_NONE);
          return;
        default:
          return;
      }
    }

    private void intent(long t, Reason reason) {
      if (stage == PROSPECT) emit(t, INTENT, reason, SUB_NONE);
    }

    private void purchase(long t, long amount) {
      if (purchases == 0) {
        firstPurchase = t;
      } else if (t > lastPurchase) {
        long gap = t - lastPurchase;
        // Sorted insert (upper bound).
        int pos = gapCount;
        while (pos > 0 && gaps[pos - 1] > gap) --pos;
        if (gapCount == gaps.length) gaps = Arrays.copyOf(gaps, gapCount * 2);
        System.arraycopy(gaps, pos, gaps, pos + 1, gapCount - pos);
        gaps[pos] = gap;
        ++gapCount;
        updateThreshold();
      }
      lastPurchase = t;
      if (purchases == purchaseTimes.length) {
        purchaseTimes = Arrays.copyOf(purchaseTimes, purchases * 2);
        prefix = Arrays.copyOf(prefix, purchases * 2 + 1);
      }
      purchaseTimes[purchases] = t;
      prefix[purchases + 1] = prefix[purchases] + amount;
      ++purchases;

      Reason[] why = new Reason[1];
      int s = subStageAt(t, why);
      switch (stage) {
        case LOST:
          ++winBacks;
          emit(t, CUSTOMER, Reason.WIN_BACK, s);
          return;
        case CUSTOMER:
          if (s != sub) emit(t, CUSTOMER, why[0], s);
          return;
        default:
          emit(t, CUSTOMER, Reason.FIRST_PURCHASE, s);
      }
    }

    /** UpdateThreshold: max(min silence, 2 x median distinct-purchase gap). */
    private void updateThreshold() {
      long median = defaultGap;
      int n = gapCount;
      if (n > 0) {
        if (n % 2 == 1) {
          median = gaps[n / 2];
        } else {
          // Mean of the two middle gaps without overflow, truncated to whole seconds.
          long a = gaps[n / 2 - 1];
          long b = gaps[n / 2];
          long mean = (a / 2) + (b / 2) + ((a % 2 + b % 2) / 2);
          median = mean / MICROS_PER_SECOND * MICROS_PER_SECOND;
        }
      }
      long doubled = median > INF / 2 ? INF : 2 * median;
      threshold = Math.max(minSilence, doubled);
    }

    /** AdvanceWindows: moves the window pointers to instant t (monotone). */
    private void advanceWindows(long t) {
      while (leftLast < purchases && satAdd(purchaseTimes[leftLast], window) <= t) ++leftLast;
      while (leftPrior < purchases
          && satAdd(satAdd(purchaseTimes[leftPrior], window), window) <= t) {
        ++leftPrior;
      }
    }

    /** SubStageAt: the sub-stage at t (>= every purchase seen), with the reason to enter it. */
    private int subStageAt(long t, Reason[] why) {
      advanceWindows(t);
      if (t < satAdd(firstPurchase, newPeriod)) {
        why[0] = Reason.FIRST_PURCHASE;
        return SUB_NEW;
      }
      long last = prefix[purchases] - prefix[leftLast];
      long prior = prefix[leftLast] - prefix[leftPrior];
      if (prior > 0 && compareScaled(last, 1000, prior, declinePermille) <= 0) {
        why[0] = Reason.REVENUE_DECLINE;
        return SUB_DECLINING;
      }
      if (t >= satAdd(lastPurchase, threshold)) {
        why[0] = Reason.PURCHASE_SILENCE;
        return SUB_DECLINING;
      }
      if ((prior > 0 && compareScaled(last, 1000, prior, growthPermille) >= 0)
          || (prior == 0 && last > 0)) {
        why[0] = Reason.REVENUE_GROWTH;
        return SUB_GROWING;
      }
      why[0] = Reason.STABLE_REVENUE;
      return SUB_STABLE;
    }

    /** LostAt: first instant >= last activity + silence not covered by an active contract. */
    private long lostAt() {
      if (lostAtValid) return lostAt;
      long x = satAdd(lastActivity, lostSilence);
      boolean moved = true;
      while (moved && x != INF) {
        moved = false;
        for (ContractFacts c : facts.getContractsList()) {
          if (contractInterval(c, tState, interval) && interval[0] <= x && x < interval[1]) {
            x = interval[1];
            moved = true;
          }
        }
      }
      lostAt = x;
      lostAtValid = true;
      return x;
    }

    /** NextSubStageBreak: earliest instant > tEval at which the sub-stage may change. */
    private long nextSubStageBreak() {
      long newEnd = satAdd(firstPurchase, newPeriod);
      if (tEval < newEnd) return newEnd;
      long next = INF;
      if (leftLast < purchases) next = Math.min(next, satAdd(purchaseTimes[leftLast], window));
      if (leftPrior < purchases) {
        next = Math.min(next, satAdd(satAdd(purchaseTimes[leftPrior], window), window));
      }
      long silence = satAdd(lastPurchase, threshold);
      if (silence > tEval) next = Math.min(next, silence);
      return next;
    }

    /** NextBreak: the next instant a rule may fire (exact when <= bound). */
    private long nextBreak(long bound) {
      switch (stage) {
        case INTENT:
          return satAdd(lastActivity, dormant);
        case CUSTOMER: {
          long lost = satAdd(lastActivity, lostSilence); // a lower bound of lostAt()
          if (lost <= bound) lost = lostAt();
          return Math.min(lost, nextSubStageBreak());
        }
        default:
          return INF;
      }
    }

    /** AdvanceRules: fires every rule due at or before `bound`. */
    private boolean advanceRules(long bound, boolean stopOnEntry) {
      while (true) {
        long at = nextBreak(bound);
        if (at == INF || at > bound) return false;
        tEval = at;
        if (evaluateAt(at) && stopOnEntry) return true;
      }
    }

    private boolean evaluateAt(long t) {
      if (stage == INTENT) {
        if (t >= satAdd(lastActivity, dormant)) {
          emit(t, PROSPECT, Reason.DORMANT_LEAD, SUB_NONE);
          return true;
        }
        return false;
      }
      if (stage != CUSTOMER) return false;
      if (t >= satAdd(lastActivity, lostSilence) && t >= lostAt()) {
        emit(t, LOST, Reason.NO_ACTIVITY, SUB_NONE);
        return true;
      }
      Reason[] why = new Reason[1];
      int s = subStageAt(t, why);
      if (s == sub) return false;
      emit(t, CUSTOMER, sub == SUB_NEW ? Reason.NEW_PERIOD_ENDED : why[0], s);
      return true;
    }
  }

  /** custops::domain::Classify. */
  static Result classify(CustomerFacts facts, long asOf, Rules rules) {
    Sweeper sweeper = new Sweeper(facts, rules);
    sweeper.runThrough(asOf);
    Result result = new Result();
    result.stage = sweeper.stage();
    result.subStage = sweeper.subStage();
    result.history = new ArrayList<>(sweeper.entries);
    result.nextChangeAt = asOf == INF ? INF : sweeper.nextChange();
    return result;
  }

  /** custops::domain::Summarize: agrees with classify, the profile fold and ManClass. */
  static Summary summarize(CustomerFacts facts, long asOf, Rules rules) {
    Sweeper sweeper = new Sweeper(facts, rules);
    sweeper.runThrough(asOf);
    Summary s = new Summary();
    s.stage = sweeper.stage();
    s.subStage = sweeper.subStage();
    if (!sweeper.entries.isEmpty()) s.lastTransition = sweeper.entries.get(sweeper.entries.size() - 1);
    s.nextChangeAt = asOf == INF ? INF : sweeper.nextChange();
    s.profile = foldProfile(facts, asOf);
    if (s.stage == PROSPECT || s.stage == INTENT) s.manClass = manClass(facts, asOf, rules, s.profile);
    // Last activity at or before as_of (upper bound in the sorted instants).
    int lo = 0;
    int hi = facts.getActivityUsCount();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (facts.getActivityUs(mid) <= asOf) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) s.lastActivityAt = facts.getActivityUs(lo - 1);
    return s;
  }

  /** FoldProfile (lifecycle_view.cc): registration then updates at or before as_of, in order. */
  static Profile foldProfile(CustomerFacts facts, long asOf) {
    Profile p = new Profile();
    for (ProfileChange pc : facts.getProfileChangesList()) {
      if (pc.getAtUs() > asOf) break;
      if (pc.hasRegistered()) {
        CustomerRegistered r = pc.getRegistered();
        if (!r.getName().isEmpty()) p.name = r.getName();
        if (r.getKindValue() != 0) p.kind = r.getKindValue();
        if (!r.getIndustry().isEmpty()) p.industry = r.getIndustry();
        if (!r.getRegion().isEmpty()) p.region = r.getRegion();
        if (!r.getCity().isEmpty()) p.city = r.getCity();
        if (!r.getOwnerId().isEmpty()) p.ownerId = r.getOwnerId();
        if (!r.getChannel().isEmpty()) p.channel = r.getChannel();
        if (!r.getSize().isEmpty()) p.size = r.getSize();
        if (r.hasBudget()) p.budgetUnits = r.getBudget().getUnits();
        if (r.getNeedValue() != 0) p.need = r.getNeedValue();
      } else if (pc.hasUpdated()) {
        CustomerProfileUpdated u = pc.getUpdated();
        if (u.hasName()) p.name = u.getName();
        if (u.getKindValue() != 0) p.kind = u.getKindValue();
        if (u.hasIndustry()) p.industry = u.getIndustry();
        if (u.hasRegion()) p.region = u.getRegion();
        if (u.hasCity()) p.city = u.getCity();
        if (u.hasOwnerId()) p.ownerId = u.getOwnerId();
        if (u.hasChannel()) p.channel = u.getChannel();
        if (u.hasSize()) p.size = u.getSize();
        if (u.hasBudget()) p.budgetUnits = u.getBudget().getUnits();
        if (u.getNeedValue() != 0) p.need = u.getNeedValue();
      }
    }
    return p;
  }

  /** ManClassFor (lifecycle_view.cc): "MAN" ... "man" at as_of, given the profile then. */
  static String manClass(CustomerFacts facts, long asOf, Rules rules, Profile profile) {
    boolean m = profile.budgetUnits >= rules.manBudgetThresholdUnits;
    boolean a = false;
    for (ContactFacts c : facts.getContactsList()) {
      ContactVersion latest = null;
      for (ContactVersion v : c.getVersionsList()) {
        if (v.getAtUs() > asOf) break;
        latest = v;
      }
      boolean visited = c.hasFirstVisitUs() && c.getFirstVisitUs() <= asOf;
      if (latest != null
          && latest.getRoleValue() == ContactRole.CONTACT_ROLE_DECISION_MAKER_VALUE
          && visited) {
        a = true;
        break;
      }
    }
    boolean n = profile.need == Need.NEED_HIGH_VALUE;
    for (Milestone ms : facts.getMilestonesList()) {
      if (n || ms.getAtUs() > asOf) break;
      n = ms.getKindValue() == MilestoneKind.MILESTONE_KIND_VISIT_NEED_CONFIRMED_VALUE;
    }
    return new String(new char[] {m ? 'M' : 'm', a ? 'A' : 'a', n ? 'N' : 'n'});
  }
}

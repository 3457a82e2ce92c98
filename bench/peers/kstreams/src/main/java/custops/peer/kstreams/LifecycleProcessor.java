package custops.peer.kstreams;

import static custops.peer.kstreams.Evolve.INF;
import static custops.peer.kstreams.Evolve.NEG_INF;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import custops.internal.LifecycleFacts.CustomerFacts;
import custops.internal.State.LifecycleIndexEntry;
import custops.v1.Changes.StageChanged;
import custops.v1.Changes.StateChange;
import custops.v1.Common.Position;
import custops.v1.Events.CustomerKind;
import custops.v1.Events.Event;
import custops.v1.LifecycleOuterClass.TimelineEntry;
import custops.v1.LifecycleTypes.LifecycleStage;
import custops.v1.LifecycleTypes.SubStage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The lifecycle projection as a Kafka Streams processor: one instance per task (per partition of
 * custops.customer-events.v1), state in the task's stores. It ports, per record,
 * ProjectionRuntime::ApplyRecord (libs/projection/src/runtime.cc: decode, dedup by event id) and
 * LifecycleProjection::Apply / Flush / Tick (services/lifecycle/src/lifecycle_projection.cc: fold
 * the facts, announce stage changes at the event's instant, write the timeline entry, re-index the
 * customer "as of now", and at each tick announce the time-driven moves that are due).
 *
 * <p>Stores (custops' column families): dedup (rt_dedup), facts (lc_facts), timeline
 * (lc_timeline), index (lc_index), by-stage (lc_by_stage), due (lc_due), counts (lc_counts).
 */
final class LifecycleProcessor implements Processor<byte[], byte[], String, byte[]> {
  static final String DEDUP = "lc-dedup";
  static final String FACTS = "lc-facts";
  static final String TIMELINE = "lc-timeline";
  static final String INDEX = "lc-index";
  static final String BY_STAGE = "lc-by-stage";
  static final String DUE = "lc-due";
  static final String COUNTS = "lc-counts";

  /** Customers re-indexed per tick and partition at most (as LifecycleProjection::Tick). */
  private static final int TICK_LIMIT = 10_000;

  // custops.v1.Dimension numbers of the counted dimensions (lifecycle_keys.h kCountedDimensions).
  private static final int DIM_ALL = 1;
  private static final int DIM_REGION = 2;
  private static final int DIM_INDUSTRY = 3;
  private static final int DIM_OWNER = 4;
  private static final int DIM_CHANNEL = 5;
  private static final int DIM_KIND = 8;
  private static final int[] COUNTED = {
    DIM_ALL, DIM_REGION, DIM_INDUSTRY, DIM_OWNER, DIM_CHANNEL, DIM_KIND
  };

  private final Progress progress;
  private final Lifecycle.Rules rules;
  private final String topic;

  private ProcessorContext<String, byte[]> context;
  private KeyValueStore<String, Long> dedup;
  private KeyValueStore<String, byte[]> facts;
  private KeyValueStore<Bytes, byte[]> timeline;
  private KeyValueStore<String, byte[]> index;
  private KeyValueStore<Bytes, byte[]> byStage;
  private KeyValueStore<Bytes, byte[]> due;
  private KeyValueStore<String, Long> counts;
  private int partition;

  LifecycleProcessor(Progress progress, Lifecycle.Rules rules, String topic) {
    this.progress = progress;
    this.rules = rules;
    this.topic = topic;
  }

  @Override
  public void init(ProcessorContext<String, byte[]> context) {
    this.context = context;
    dedup = context.getStateStore(DEDUP);
    facts = context.getStateStore(FACTS);
    timeline = context.getStateStore(TIMELINE);
    index = context.getStateStore(INDEX);
    byStage = context.getStateStore(BY_STAGE);
    due = context.getStateStore(DUE);
    counts = context.getStateStore(COUNTS);
    partition = context.taskId().partition();
    // The runtime's ticker (tick_interval 1 s), on wall-clock time.
    context.schedule(Duration.ofSeconds(1), PunctuationType.WALL_CLOCK_TIME, t -> tickIfCaughtUp());
  }

  private static long nowMicros() {
    return System.currentTimeMillis() * 1000L;
  }

  /** What subscribers have been told of a customer's stage (LifecycleProjection::Announced). */
  private static final class Announced {
    int stage;
    int subStage;
    int transitions;
    long atMicros;

    static Announced of(LifecycleIndexEntry old) {
      Announced a = new Announced();
      if (old != null) {
        a.stage = old.getAnnouncedStage();
        a.subStage = old.getAnnouncedSubStage();
        a.transitions = old.getAnnouncedTransitions();
        a.atMicros = old.getAnnouncedAtMicros();
      }
      return a;
    }
  }

  @Override
  public void process(Record<byte[], byte[]> record) {
    RecordMetadata md = context.recordMetadata().orElseThrow();
    try {
      apply(record, md);
    } finally {
      progress.records.incrementAndGet();
      progress.processed(md.partition(), md.offset());
    }
    // Caught up with the end captured at start: tick now rather than at the next punctuation.
    if (md.offset() + 1 == progress.endOf(md.partition())) tickIfCaughtUp();
  }

  /** ProjectionRuntime::ApplyRecord followed by LifecycleProjection::Apply and Flush's Reindex. */
  private void apply(Record<byte[], byte[]> record, RecordMetadata md) {
    Event event;
    try {
      event = Event.parseFrom(record.value());
    } catch (InvalidProtocolBufferException e) {
      progress.deadLetters.incrementAndGet(); // decode_error
      return;
    }
    // Not ported: event::Upcast and the full event::ValidateEvent (libs/event); only the checks
    // the fold itself needs, and the key check.
    String key = record.key() == null ? "" : new String(record.key(), StandardCharsets.UTF_8);
    if (event.getEventId().isEmpty() || !event.getCustomerId().equals(key)) {
      progress.deadLetters.incrementAndGet(); // invalid_event / key_mismatch
      return;
    }
    final String eventId = event.getEventId();
    if (dedup.get(eventId) != null) {
      progress.noops.incrementAndGet(); // duplicate_event_id
      return;
    }
    final String customer = event.getCustomerId();
    byte[] storedFacts = facts.get(customer);
    CustomerFacts.Builder builder = CustomerFacts.newBuilder();
    if (storedFacts != null) {
      try {
        builder.mergeFrom(storedFacts);
      } catch (InvalidProtocolBufferException e) {
        throw new IllegalStateException("corrupt facts of customer " + customer, e);
      }
    }
    Evolve.Outcome outcome = Evolve.evolve(builder, event);
    if (outcome == Evolve.Outcome.INVALID) {
      progress.deadLetters.incrementAndGet(); // apply_error (not parked here, see README)
      return;
    }
    if (outcome == Evolve.Outcome.NOOP) {
      progress.noops.incrementAndGet();
      dedup.put(eventId, md.offset());
      return;
    }
    progress.applied.incrementAndGet();
    CustomerFacts folded = builder.build();
    final long now = nowMicros();

    // LifecycleProjection::Apply: announce at the event's instant (never past the clock, never
    // before what was announced).
    byte[] oldIndexBytes = index.get(customer);
    LifecycleIndexEntry oldIndex = parseIndex(oldIndexBytes);
    Announced announced = Announced.of(oldIndex);
    long occurred = Evolve.micros(event.getOccurredAt());
    long asOf = Math.max(Math.min(occurred, now), announced.atMicros);
    announceThrough(customer, folded, asOf, announced, now);

    // The timeline entry: its position, then the event's bytes as they are in the log (field 2,
    // length-delimited), no re-serialization.
    timeline.put(timelineKey(customer, occurred, eventId), timelineValue(md, record.value()));

    // LifecycleProjection::Flush: the facts, and the index "as of now".
    facts.put(customer, folded.toByteArray());
    reindex(customer, folded, now, announced, oldIndex, oldIndexBytes, false);
    dedup.put(eventId, md.offset());
  }

  private static LifecycleIndexEntry parseIndex(byte[] bytes) {
    if (bytes == null) return null;
    try {
      return LifecycleIndexEntry.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("corrupt lifecycle index", e);
    }
  }

  /** lc_timeline's key: customer_id \0 | occurred_at (sign-flipped big-endian µs) | event_id. */
  private static Bytes timelineKey(String customer, long occurredMicros, String eventId) {
    byte[] c = customer.getBytes(StandardCharsets.UTF_8);
    byte[] e = eventId.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(c.length + 1 + 8 + e.length);
    b.put(c).put((byte) 0).putLong(occurredMicros ^ Long.MIN_VALUE).put(e);
    return Bytes.wrap(b.array());
  }

  private byte[] timelineValue(RecordMetadata md, byte[] raw) {
    byte[] head =
        TimelineEntry.newBuilder()
            .setPosition(
                Position.newBuilder()
                    .setTopic(topic)
                    .setPartition(md.partition())
                    .setOffset(md.offset()))
            .build()
            .toByteArray();
    int size =
        head.length
            + CodedOutputStream.computeTagSize(TimelineEntry.EVENT_FIELD_NUMBER)
            + CodedOutputStream.computeUInt32SizeNoTag(raw.length)
            + raw.length;
    byte[] out = new byte[size];
    CodedOutputStream cos = CodedOutputStream.newInstance(out);
    try {
      cos.writeRawBytes(head);
      cos.writeByteArray(TimelineEntry.EVENT_FIELD_NUMBER, raw);
      cos.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  /**
   * LifecycleProjection::AnnounceThrough: emits a StageChanged for each entry of the customer's
   * stage history at or before asOf not announced yet, in order, each with its own instant.
   * (Not ported: the upgrade path for index entries written before announcements existed.)
   */
  private void announceThrough(
      String customer, CustomerFacts f, long asOf, Announced announced, long now) {
    if (!f.getRegistered()) return;
    // Most events move nothing: one sweep tells, without building the history.
    Lifecycle.Summary summary = Lifecycle.summarize(f, asOf, rules);
    long lastAt = summary.lastTransition != null ? summary.lastTransition.at : 0;
    if (summary.stage == announced.stage
        && summary.subStage == announced.subStage
        && lastAt == announced.atMicros) {
      return;
    }
    Lifecycle.Result result = Lifecycle.classify(f, asOf, rules);
    List<Lifecycle.Entry> history = result.history;
    int told = Math.max(0, announced.transitions);
    int first;
    if (told <= history.size()
        && (told == 0 || history.get(told - 1).at == announced.atMicros)) {
      first = told; // the history grew after what was told: the new entries
    } else {
      // A late event revised the history: what lies after the last instant told.
      first = 0;
      while (first < history.size() && history.get(first).at <= announced.atMicros) ++first;
    }
    for (int i = first; i < history.size(); ++i) {
      Lifecycle.Entry e = history.get(i);
      emitStageChange(customer, e.at, e.from, e.fromSub, e.to, e.toSub, e.reasonText(rules), now);
    }
    if (first == history.size()
        && (result.stage != announced.stage || result.subStage != announced.subStage)) {
      // The revision moved the stage at an instant already told: say so once.
      String reason = history.isEmpty() ? "" : history.get(history.size() - 1).reasonText(rules);
      emitStageChange(
          customer,
          asOf,
          announced.stage,
          announced.subStage,
          result.stage,
          result.subStage,
          reason,
          now);
    }
    announced.stage = result.stage;
    announced.subStage = result.subStage;
    announced.transitions = history.size();
    announced.atMicros = history.isEmpty() ? 0 : history.get(history.size() - 1).at;
  }

  /** EmitStageChange + the outbox's naming: one StateChange on the output topic. */
  private void emitStageChange(
      String customer,
      long at,
      int from,
      int fromSub,
      int to,
      int toSub,
      String reason,
      long now) {
    String changeId =
        "lifecycle/" + partition + "/" + customer + "/" + at + "/" + from + "." + fromSub + "-"
            + to + "." + toSub;
    StateChange change =
        StateChange.newBuilder()
            .setChangeId(changeId)
            .setProjection("lifecycle")
            .setCustomerId(customer)
            .setAt(timestamp(at))
            .setStageChanged(
                StageChanged.newBuilder()
                    .setFrom(LifecycleStage.forNumber(from))
                    .setTo(LifecycleStage.forNumber(to))
                    .setFromSubStage(SubStage.forNumber(fromSub))
                    .setToSubStage(SubStage.forNumber(toSub))
                    .setReason(reason))
            .build();
    context.forward(new Record<>(customer, change.toByteArray(), now / 1000));
    progress.changes.incrementAndGet();
  }

  private static Timestamp timestamp(long micros) {
    long seconds = Math.floorDiv(micros, 1_000_000L);
    long rest = Math.floorMod(micros, 1_000_000L);
    return Timestamp.newBuilder().setSeconds(seconds).setNanos((int) (rest * 1000)).build();
  }

  /**
   * LifecycleProjection::Reindex: rewrites the customer's index entry as of `now` (after
   * announcing its moves up to now when `announce`, i.e. at a tick), and the by-stage, due and
   * count entries whose inputs moved.
   */
  private void reindex(
      String customer,
      CustomerFacts f,
      long now,
      Announced announced,
      LifecycleIndexEntry old,
      byte[] oldBytes,
      boolean announce) {
    if (!f.getRegistered()) return;
    if (announce) announceThrough(customer, f, now, announced, now);
    Lifecycle.Summary s = Lifecycle.summarize(f, now, rules);
    LifecycleIndexEntry.Builder e = indexEntryOf(s);
    e.setAnnouncedTransitions(announced.transitions)
        .setAnnouncedAtMicros(announced.atMicros)
        .setAnnouncedStage(announced.stage)
        .setAnnouncedSubStage(announced.subStage);
    // Moves between the customer's last event and now not announced yet are due at once: the
    // next tick announces them (never at the end of the batch, docs/lifecycle.md).
    long lastAt = s.lastTransition != null ? s.lastTransition.at : 0;
    if (s.stage != announced.stage || s.subStage != announced.subStage || lastAt != announced.atMicros) {
      e.setDueMicros(now);
    }
    LifecycleIndexEntry entry = e.build();
    byte[] serialized = entry.toByteArray();
    if (oldBytes != null && Arrays.equals(oldBytes, serialized)) return;
    index.put(customer, serialized);

    boolean stageMoved =
        old == null || old.getStage() != entry.getStage() || old.getSubStage() != entry.getSubStage();
    if (stageMoved) {
      if (old != null) byStage.delete(stageKey(old.getStage(), old.getSubStage(), customer));
      byStage.put(stageKey(entry.getStage(), entry.getSubStage(), customer), new byte[0]);
    }
    long oldDue = old != null ? old.getDueMicros() : 0;
    if (oldDue != entry.getDueMicros()) {
      if (oldDue != 0) due.delete(dueKey(oldDue, customer));
      if (entry.getDueMicros() != 0) due.put(dueKey(entry.getDueMicros(), customer), new byte[0]);
    }
    boolean countedMoved =
        stageMoved
            || old.getKind() != entry.getKind()
            || !old.getRegion().equals(entry.getRegion())
            || !old.getIndustry().equals(entry.getIndustry())
            || !old.getOwnerId().equals(entry.getOwnerId())
            || !old.getChannel().equals(entry.getChannel());
    if (countedMoved) {
      if (old != null) addCounts(old, -1);
      addCounts(entry, +1);
    }
  }

  /** IndexEntryOf (lifecycle_projection.cc). */
  private static LifecycleIndexEntry.Builder indexEntryOf(Lifecycle.Summary s) {
    LifecycleIndexEntry.Builder e =
        LifecycleIndexEntry.newBuilder()
            .setStage(s.stage)
            .setSubStage(s.subStage)
            .setName(s.profile.name)
            .setKind(s.profile.kind)
            .setRegion(s.profile.region)
            .setIndustry(s.profile.industry)
            .setOwnerId(s.profile.ownerId)
            .setChannel(s.profile.channel)
            .setManClass(s.manClass);
    if (s.lastActivityAt != NEG_INF) e.setLastActivityMicros(s.lastActivityAt);
    if (s.nextChangeAt != INF) e.setDueMicros(s.nextChangeAt);
    return e;
  }

  /** DimensionValue (lifecycle_projection.cc). */
  private static String dimensionValue(int dimension, LifecycleIndexEntry e) {
    switch (dimension) {
      case DIM_REGION:
        return e.getRegion();
      case DIM_INDUSTRY:
        return e.getIndustry();
      case DIM_OWNER:
        return e.getOwnerId();
      case DIM_CHANNEL:
        return e.getChannel();
      case DIM_KIND: {
        CustomerKind kind = CustomerKind.forNumber(e.getKind());
        return kind == null ? "" : kind.name();
      }
      default:
        return "";
    }
  }

  /** lc_counts: per dimension value, stage and sub-stage, a customer count. */
  private void addCounts(LifecycleIndexEntry e, long delta) {
    for (int dim : COUNTED) {
      String key =
          dim + "|" + dimensionValue(dim, e) + "|" + e.getStage() + "|" + e.getSubStage();
      Long current = counts.get(key);
      long n = (current == null ? 0 : current) + delta;
      if (n < 0) throw new IllegalStateException("lifecycle count below zero");
      if (n == 0) counts.delete(key);
      else counts.put(key, n);
    }
  }

  private static Bytes stageKey(int stage, int subStage, String customer) {
    byte[] c = customer.getBytes(StandardCharsets.UTF_8);
    return Bytes.wrap(ByteBuffer.allocate(8 + c.length).putInt(stage).putInt(subStage).put(c).array());
  }

  /** lc_due's key: due instant (sign-flipped big-endian µs, so byte order is time order) | id. */
  private static Bytes dueKey(long dueMicros, String customer) {
    byte[] c = customer.getBytes(StandardCharsets.UTF_8);
    return Bytes.wrap(ByteBuffer.allocate(8 + c.length).putLong(dueMicros ^ Long.MIN_VALUE).put(c).array());
  }

  /**
   * The runtime's tick rule: no ticks while the partition is behind (here: before it has consumed
   * up to the end offset captured at start). The partition is done once a tick found fewer due
   * customers than the per-tick limit.
   */
  private void tickIfCaughtUp() {
    if (!progress.caughtUp(partition)) return;
    int found = tick(nowMicros());
    if (found < TICK_LIMIT) progress.markDone(partition);
  }

  /** LifecycleProjection::Tick: re-indexes (announcing) every customer due at or before now. */
  private int tick(long now) {
    // Collect first: reindex rewrites the due index being iterated.
    List<String> dueIds = new ArrayList<>();
    Bytes from = Bytes.wrap(new byte[8]); // the earliest instant
    // Keys at `now` have a customer suffix, so they sort after the bare instant now + 1 µs.
    Bytes to = Bytes.wrap(ByteBuffer.allocate(8).putLong((now + 1) ^ Long.MIN_VALUE).array());
    try (KeyValueIterator<Bytes, byte[]> it = due.range(from, to)) {
      while (it.hasNext() && dueIds.size() < TICK_LIMIT) {
        KeyValue<Bytes, byte[]> kv = it.next();
        byte[] k = kv.key.get();
        if (k.length < 8) continue;
        dueIds.add(new String(k, 8, k.length - 8, StandardCharsets.UTF_8));
      }
    }
    if (dueIds.isEmpty()) return 0;
    progress.ticks.incrementAndGet();
    long before = progress.changes.get();
    for (String customer : dueIds) {
      byte[] stored = facts.get(customer);
      if (stored == null) continue;
      CustomerFacts f;
      try {
        f = CustomerFacts.parseFrom(stored);
      } catch (InvalidProtocolBufferException e) {
        throw new IllegalStateException("corrupt facts of customer " + customer, e);
      }
      byte[] oldBytes = index.get(customer);
      LifecycleIndexEntry old = parseIndex(oldBytes);
      reindex(customer, f, now, Announced.of(old), old, oldBytes, true);
    }
    progress.tickChanges.addAndGet(progress.changes.get() - before);
    return dueIds.size();
  }

  @Override
  public void close() {}
}

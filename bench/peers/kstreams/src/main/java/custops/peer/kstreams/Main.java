package custops.peer.kstreams;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/**
 * The Kafka Streams peer of custops' lifecycle projection (bench/vs_kstreams.sh). Reads
 * custops.customer-events.v1 from offset 0 under a fresh application.id and state dir, runs until
 * every partition has been consumed up to the end offsets captured at start (and, for the
 * lifecycle job, ticked once after), closes (final commit), prints one "result" line and exits.
 *
 * <pre>
 *   java -cp ... custops.peer.kstreams.Main --bootstrap 127.0.0.1:9092 --app-id peer-1
 *       --state-dir /tmp/peer-1 [--mode lifecycle|count] [--output TOPIC]
 *       [--prop processing.guarantee=exactly_once_v2] [--prop peer.store.logging=false] ...
 * </pre>
 *
 * --prop sets any Kafka Streams property; the peer.* ones are this app's: peer.store.caching
 * (true: the stores have the record cache, sized by statestore.cache.max.bytes) and
 * peer.store.logging (true: every store has its changelog topic, Kafka Streams' durability).
 */
public final class Main {
  static final String SOURCE = "custops.customer-events.v1";

  public static void main(String[] args) throws Exception {
    Map<String, String> flags = new HashMap<>();
    Properties props = new Properties();
    for (int i = 0; i < args.length; i += 2) {
      if (i + 1 >= args.length) usage("missing value of " + args[i]);
      String name = args[i];
      String value = args[i + 1];
      if (name.equals("--prop")) {
        int eq = value.indexOf('=');
        if (eq <= 0) usage("--prop wants NAME=VALUE, got " + value);
        props.setProperty(value.substring(0, eq), value.substring(eq + 1));
      } else if (name.startsWith("--")) {
        flags.put(name.substring(2), value);
      } else {
        usage("unexpected " + name);
      }
    }
    String bootstrap = required(flags, "bootstrap");
    String appId = required(flags, "app-id");
    String stateDir = required(flags, "state-dir");
    String mode = flags.getOrDefault("mode", "lifecycle");
    String output = flags.getOrDefault("output", "kstreams-peer." + appId + ".changes");
    long timeoutS = Long.parseLong(flags.getOrDefault("timeout-seconds", "1800"));
    boolean caching = parseFlag(props, "peer.store.caching", true);
    boolean logging = parseFlag(props, "peer.store.logging", true);

    final long started = System.nanoTime();
    long[] ends;
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      TopicDescription source =
          admin.describeTopics(List.of(SOURCE)).allTopicNames().get().get(SOURCE);
      int partitions = source.partitions().size();
      Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
      for (int p = 0; p < partitions; ++p) latest.put(new TopicPartition(SOURCE, p), OffsetSpec.latest());
      Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> found =
          admin.listOffsets(latest).all().get();
      ends = new long[partitions];
      for (int p = 0; p < partitions; ++p) ends[p] = found.get(new TopicPartition(SOURCE, p)).offset();
      try {
        admin.createTopics(List.of(new NewTopic(output, partitions, (short) 1))).all().get();
      } catch (java.util.concurrent.ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) throw e;
      }
    }
    Progress progress = new Progress(ends);

    Topology topology =
        mode.equals("count")
            ? countTopology(progress, output)
            : lifecycleTopology(progress, output, caching, logging);

    props.setProperty(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.setProperty(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.setProperty(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    props.putIfAbsent(StreamsConfig.NUM_STREAM_THREADS_CONFIG, "1");
    props.putIfAbsent(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
    props.putIfAbsent(StreamsConfig.REPLICATION_FACTOR_CONFIG, "1");
    props.putIfAbsent("auto.offset.reset", "earliest");

    AtomicReference<Throwable> failure = new AtomicReference<>();
    KafkaStreams streams = new KafkaStreams(topology, props);
    streams.setUncaughtExceptionHandler(
        e -> {
          failure.compareAndSet(null, e);
          return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
    streams.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutS);
    while (true) {
      if (failure.get() != null) break;
      if (System.nanoTime() > deadline) {
        failure.compareAndSet(null, new IllegalStateException("timed out after " + timeoutS + " s"));
        break;
      }
      if (allDone(progress)) break;
      Thread.sleep(20);
    }
    final long done = System.nanoTime();
    final long doneEpochMs = System.currentTimeMillis();
    streams.close(Duration.ofSeconds(120));
    final long closed = System.nanoTime();
    if (failure.get() != null) {
      System.err.println("peer: failed: " + failure.get());
      failure.get().printStackTrace();
      System.out.flush();
      Runtime.getRuntime().halt(1);
    }
    double[] cpu = cpuSeconds();
    System.out.printf(
        "result mode=%s events=%d records=%d applied=%d noops=%d dead_letters=%d changes=%d"
            + " tick_changes=%d wall_to_done_s=%.3f wall_to_closed_s=%.3f cpu_s=%.2f"
            + " cpu_user_s=%.2f cpu_sys_s=%.2f rss_peak_kb=%d done_epoch_ms=%d%n",
        mode,
        progress.totalEnd(),
        progress.records.get(),
        progress.applied.get(),
        progress.noops.get(),
        progress.deadLetters.get(),
        progress.changes.get(),
        progress.tickChanges.get(),
        (done - started) / 1e9,
        (closed - started) / 1e9,
        cpu[0] + cpu[1],
        cpu[0],
        cpu[1],
        rssPeakKb(),
        doneEpochMs);
    System.out.flush();
    // Without waiting for the JVM's own shutdown (its CPU is not in the figure above).
    Runtime.getRuntime().halt(0);
  }

  /** Takes one of this app's peer.* properties out of the Streams properties. */
  private static boolean parseFlag(Properties props, String name, boolean fallback) {
    String v = (String) props.remove(name);
    return v == null ? fallback : Boolean.parseBoolean(v);
  }

  private static boolean allDone(Progress progress) {
    for (int p = 0; p < progress.partitions(); ++p) {
      if (!progress.isDone(p)) return false;
    }
    return true;
  }

  private static <K, V> StoreBuilder<KeyValueStore<K, V>> store(
      StoreBuilder<KeyValueStore<K, V>> builder, boolean caching, boolean logging) {
    if (caching) builder = builder.withCachingEnabled();
    if (!logging) builder = builder.withLoggingDisabled();
    return builder;
  }

  /** The lifecycle job: source -> LifecycleProcessor (seven stores) -> stage changes topic. */
  static Topology lifecycleTopology(
      Progress progress, String output, boolean caching, boolean logging) {
    Lifecycle.Rules rules = new Lifecycle.Rules();
    Topology t = new Topology();
    t.addSource("events", new ByteArrayDeserializer(), new ByteArrayDeserializer(), SOURCE);
    t.addProcessor(
        "lifecycle", () -> new LifecycleProcessor(progress, rules, SOURCE), "events");
    List<StoreBuilder<?>> stores = new ArrayList<>();
    stores.add(
        store(
            Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(LifecycleProcessor.DEDUP),
                Serdes.String(),
                Serdes.Long()),
            caching,
            logging));
    for (String name :
        new String[] {LifecycleProcessor.FACTS, LifecycleProcessor.INDEX}) {
      stores.add(
          store(
              Stores.keyValueStoreBuilder(
                  Stores.persistentKeyValueStore(name), Serdes.String(), Serdes.ByteArray()),
              caching,
              logging));
    }
    for (String name :
        new String[] {
          LifecycleProcessor.TIMELINE, LifecycleProcessor.BY_STAGE, LifecycleProcessor.DUE
        }) {
      stores.add(
          store(
              Stores.keyValueStoreBuilder(
                  Stores.persistentKeyValueStore(name), Serdes.Bytes(), Serdes.ByteArray()),
              caching,
              logging));
    }
    stores.add(
        store(
            Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(LifecycleProcessor.COUNTS),
                Serdes.String(),
                Serdes.Long()),
            caching,
            logging));
    for (StoreBuilder<?> s : stores) t.addStateStore(s, "lifecycle");
    t.addSink("changes", output, new StringSerializer(), new ByteArraySerializer(), "lifecycle");
    return t;
  }

  /** The cheapest baseline: count records per key (customer), DSL, counts to a topic. */
  static Topology countTopology(Progress progress, String output) {
    StreamsBuilder b = new StreamsBuilder();
    b.stream(SOURCE, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
        .processValues(() -> new ProgressTracker(progress))
        .groupByKey(Grouped.with(Serdes.ByteArray(), Serdes.ByteArray()))
        .count(
            Materialized.<byte[], Long, KeyValueStore<Bytes, byte[]>>as("count-per-key")
                .withKeySerde(Serdes.ByteArray())
                .withValueSerde(Serdes.Long()))
        .toStream()
        .to(output, Produced.with(Serdes.ByteArray(), Serdes.Long()));
    return b.build();
  }

  /** utime and stime of this whole process (every JVM thread) from /proc/self/stat, in seconds. */
  static double[] cpuSeconds() {
    try {
      String stat = Files.readString(Path.of("/proc/self/stat"));
      // Fields after the command name (which may hold spaces) start after the last ')'.
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      // utime and stime are fields 14 and 15 of the line, 12 and 13 here; USER_HZ is 100 on Linux.
      return new double[] {Long.parseLong(f[11]) / 100.0, Long.parseLong(f[12]) / 100.0};
    } catch (IOException e) {
      return new double[] {-1, -1};
    }
  }

  /** VmHWM (peak resident set) from /proc/self/status, in KiB; -1 when unknown. */
  static long rssPeakKb() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (IOException e) {
      // fall through
    }
    return -1;
  }

  private static String required(Map<String, String> flags, String name) {
    String v = flags.get(name);
    if (v == null) usage("--" + name + " is required");
    return v;
  }

  private static void usage(String problem) {
    System.err.println("peer: " + problem);
    System.err.println(
        "usage: Main --bootstrap HOST:PORT --app-id ID --state-dir DIR [--mode lifecycle|count]"
            + " [--output TOPIC] [--timeout-seconds N] [--prop NAME=VALUE]...");
    System.exit(2);
  }
}

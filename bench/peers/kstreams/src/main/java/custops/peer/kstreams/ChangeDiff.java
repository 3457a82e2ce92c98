package custops.peer.kstreams;

import custops.v1.Changes.StateChange;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Compares the lifecycle stage changes custops published (custops.state-changes.v1, projection
 * "lifecycle") with the peer's output topic, by change id (both name a change by its content:
 * partition, customer, instant, from and to stage and sub-stage).
 *
 * <pre>
 *   java -cp ... custops.peer.kstreams.ChangeDiff BOOTSTRAP CUSTOPS_TOPIC PEER_TOPIC
 * </pre>
 */
public final class ChangeDiff {
  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: ChangeDiff BOOTSTRAP CUSTOPS_TOPIC PEER_TOPIC");
      System.exit(2);
    }
    Map<String, String> custops = read(args[0], args[1]);
    Map<String, String> peer = read(args[0], args[2]);
    TreeSet<String> onlyCustops = new TreeSet<>(custops.keySet());
    onlyCustops.removeAll(peer.keySet());
    TreeSet<String> onlyPeer = new TreeSet<>(peer.keySet());
    onlyPeer.removeAll(custops.keySet());
    System.out.printf(
        "change ids: custops %d, peer %d, in both %d, only custops %d, only peer %d%n",
        custops.size(),
        peer.size(),
        custops.size() - onlyCustops.size(),
        onlyCustops.size(),
        onlyPeer.size());
    report("only custops", onlyCustops, custops);
    report("only peer", onlyPeer, peer);
  }

  private static void report(String what, TreeSet<String> ids, Map<String, String> reasons) {
    if (ids.isEmpty()) return;
    Map<String, Integer> byReason = new TreeMap<>();
    for (String id : ids) byReason.merge(reasons.get(id), 1, Integer::sum);
    System.out.println("  " + what + " by reason: " + byReason);
    int shown = 0;
    for (String id : ids) {
      if (shown++ == 5) break;
      System.out.println("    " + id + " " + reasons.get(id));
    }
  }

  /** Lifecycle change id -> reason, for every record of the topic up to its end now. */
  private static Map<String, String> read(String bootstrap, String topic) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("isolation.level", "read_committed"); // the peer's output under exactly-once
    p.put("enable.auto.commit", "false");
    Map<String, String> out = new HashMap<>();
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> tps = new ArrayList<>();
      for (PartitionInfo info : consumer.partitionsFor(topic)) {
        tps.add(new TopicPartition(topic, info.partition()));
      }
      consumer.assign(tps);
      consumer.seekToBeginning(tps);
      Map<TopicPartition, Long> end = consumer.endOffsets(tps);
      while (true) {
        boolean atEnd = true;
        for (TopicPartition tp : tps) atEnd &= consumer.position(tp) >= end.get(tp);
        if (atEnd) break;
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          StateChange change = StateChange.parseFrom(r.value());
          if (!change.getProjection().equals("lifecycle") || !change.hasStageChanged()) continue;
          out.put(change.getChangeId(), change.getStageChanged().getReason());
        }
      }
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new IllegalStateException("not a custops.v1.StateChange on " + topic, e);
    }
    return out;
  }
}

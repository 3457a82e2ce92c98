package custops.peer.kstreams;

import java.time.Duration;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/**
 * For the "count per key" baseline: passes every record on unchanged and marks its partition done
 * once it has consumed up to the end offset captured at start (the punctuation covers partitions
 * with nothing to consume).
 */
final class ProgressTracker implements FixedKeyProcessor<byte[], byte[], byte[]> {
  private final Progress progress;
  private FixedKeyProcessorContext<byte[], byte[]> context;
  private int partition;

  ProgressTracker(Progress progress) {
    this.progress = progress;
  }

  @Override
  public void init(FixedKeyProcessorContext<byte[], byte[]> context) {
    this.context = context;
    this.partition = context.taskId().partition();
    context.schedule(
        Duration.ofSeconds(1),
        PunctuationType.WALL_CLOCK_TIME,
        t -> {
          if (progress.caughtUp(partition)) progress.markDone(partition);
        });
  }

  @Override
  public void process(FixedKeyRecord<byte[], byte[]> record) {
    context.forward(record);
    RecordMetadata md = context.recordMetadata().orElseThrow();
    progress.records.incrementAndGet();
    progress.processed(md.partition(), md.offset());
    if (md.offset() + 1 >= progress.endOf(md.partition())) progress.markDone(md.partition());
  }
}

package custops.peer.kstreams;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Shared between the stream thread's tasks and the main thread: the source topic's end offsets
 * captured before the app started, how far each partition has been processed, and which
 * partitions are done (caught up to that end and, for the lifecycle job, ticked once after), plus
 * the job's counters.
 */
final class Progress {
  private final long[] end;
  private final AtomicLongArray next; // next offset to process, per partition
  private final AtomicIntegerArray done;
  private final CountDownLatch allDone;

  final AtomicLong records = new AtomicLong(); // records seen
  final AtomicLong applied = new AtomicLong(); // events folded into facts
  final AtomicLong noops = new AtomicLong(); // duplicates by event id, "already ..." events
  final AtomicLong deadLetters = new AtomicLong(); // undecodable or invalid records
  final AtomicLong changes = new AtomicLong(); // stage changes emitted
  final AtomicLong tickChanges = new AtomicLong(); // of which emitted by ticks
  final AtomicLong ticks = new AtomicLong(); // ticks that found customers due

  Progress(long[] end) {
    this.end = end.clone();
    this.next = new AtomicLongArray(end.length);
    this.done = new AtomicIntegerArray(end.length);
    this.allDone = new CountDownLatch(end.length);
  }

  int partitions() {
    return end.length;
  }

  long endOf(int partition) {
    return end[partition];
  }

  void processed(int partition, long offset) {
    next.accumulateAndGet(partition, offset + 1, Math::max);
  }

  boolean caughtUp(int partition) {
    return next.get(partition) >= end[partition];
  }

  void markDone(int partition) {
    if (done.compareAndSet(partition, 0, 1)) allDone.countDown();
  }

  boolean isDone(int partition) {
    return done.get(partition) == 1;
  }

  void awaitAll() throws InterruptedException {
    allDone.await();
  }

  long totalEnd() {
    long sum = 0;
    for (long e : end) sum += e;
    return sum;
  }
}

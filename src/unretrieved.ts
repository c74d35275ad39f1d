// Failed Futures whose exception nobody retrieved: reported when the Future
// is garbage-collected (asyncio's Future.__del__), or when its loop closes
// if it is still alive then, whichever comes first.
//
// Only what the report needs is kept, never the Future: a record with the
// exception, the Future's kind and name, where it was created (debug mode)
// and a WeakRef to it. The record is made when a Future fails (never for
// one that gets a result or is cancelled, so the hot path pays nothing) and
// dropped when the exception is retrieved (result(), exception(), an await).
// Memory is bounded by the failed Futures still alive plus the records of
// collected ones not yet reported, and the latter are bounded (see sweep).
//
// Two ways to learn that a Future was collected, because one is not enough:
//
// - A FinalizationRegistry. Its callbacks are tasks V8 posts to Node's event
//   loop: they run as soon as Node's loop turns (guest mode, or after run()
//   returned), but never while the blocking loop holds the thread, which is
//   where a server spends its life.
// - A sweep of the WeakRefs, from the loop itself: every SWEEP_EVERY failures
//   (or at a failure a second or more after the last sweep, or at close) the
//   records whose Future is gone are reported. V8 keeps the target of every
//   WeakRef made (or dereferenced) during a job alive until the job ends,
//   and for the blocking loop the job ends only when run() returns; so the
//   sweep first ends that hold (native.clearKeptObjects, what the end of a
//   job does: the loop's callbacks are its jobs), and again after its own
//   deref() calls, which pin their targets the same way. Between sweeps,
//   at most max(SWEEP_EVERY, live records) recently failed Futures are
//   held that way.
//
// A failure whose exception references its own Future (err.future = fut)
// keeps that Future alive; it is then reported when the loop closes. (The
// frames of an Error's stack trace reference it too, a Task's: see
// formatStack.)

//
// A leaf of the loop core: it declares what it needs of a Future
// (Trackable) and of the loop (UnretrievedReporter), which builds the report.

import { native } from './native.js';

/** A sweep after this many failures (or as many as there are records, if more) at the latest. */
const SWEEP_EVERY = 256;
/** ...or at a failure this long (seconds of loop time) after the last one. */
const SWEEP_INTERVAL = 1;

/** What this module needs of a failed Future: its failure, where it was made, and the slot that holds its record. */
export interface Trackable {
  readonly _exception: unknown;
  readonly _sourceTraceback: string | undefined;
  _unretrieved: object | null;
}

/** What the report of one unretrieved failure needs. F: the Futures tracked. */
export interface UnretrievedRecord<F extends object = object> {
  readonly ref: WeakRef<F & Trackable>;
  readonly exception: unknown;
  /** 'Future' or 'Task' (the report's first word). */
  readonly kind: string;
  /** A Task's name (its description once collected), else null. */
  readonly name: string | null;
  readonly sourceTraceback: string | undefined;
  readonly owner: Unretrieved<F>;
  /** Whether the exception's stack was made a string (see formatStack). */
  stackFormatted: boolean;
}

/**
 * An Error keeps the frames of its stack trace, receivers included, until
 * its `stack` is first read, when V8 formats them into a string and drops
 * them. A Task's exception thrown from its step has the Task itself as the
 * receiver of Task._step: kept in the record unformatted, it would keep the
 * Task alive. Formatting costs microseconds, so it is done only in a sweep,
 * for a failure still unretrieved then (retrieved ones never pay).
 */
function formatStack(record: UnretrievedRecord): void {
  record.stackFormatted = true;
  const exc = record.exception;
  if (!(exc instanceof Error)) return;
  try {
    void exc.stack;
  } catch {
    // A stack getter that throws: nothing to release.
  }
}

/** What a report goes to: the loop, which hands it to its exception handler. */
export interface UnretrievedReporter<F extends object> {
  /** Report record's failure: fut is the Future while it lives, undefined once collected. */
  _reportUnretrieved(record: UnretrievedRecord<F>, fut: (F & Trackable) | undefined): void;
  time(): number;
}

const registry = new FinalizationRegistry<UnretrievedRecord>((record) => record.owner._collected(record));

/** The unretrieved failures of one loop. F: the Futures tracked (Future, or what the contract says of one). */
export class Unretrieved<F extends object> {
  private readonly records = new Set<UnretrievedRecord<F>>();
  private failuresSinceSweep = 0;
  private lastSweep = 0;

  constructor(private readonly reporter: UnretrievedReporter<F>) {}

  /** How many failures are waiting to be retrieved or reported. */
  get size(): number {
    return this.records.size;
  }

  /** fut just failed: remember what its report needs. */
  track(fut: F & Trackable, kind: string, name: string | null): UnretrievedRecord<F> {
    const record: UnretrievedRecord<F> = { ref: new WeakRef(fut), exception: fut._exception, kind, name, sourceTraceback: fut._sourceTraceback, owner: this, stackFormatted: false };
    this.records.add(record);
    registry.register(fut, record, record);
    // Every max(SWEEP_EVERY, live records) failures: a sweep costs O(records), so O(1) per failure.
    const every = Math.max(SWEEP_EVERY, this.records.size);
    if (++this.failuresSinceSweep >= every || this.reporter.time() - this.lastSweep >= SWEEP_INTERVAL) this.sweep();
    return record;
  }

  /** The exception was retrieved: no report. */
  untrack(record: UnretrievedRecord<F>): void {
    this.records.delete(record);
    registry.unregister(record);
  }

  /** Report the failures whose Future was collected. */
  sweep(): void {
    this.failuresSinceSweep = 0;
    this.lastSweep = this.reporter.time();
    native.clearKeptObjects();
    for (const record of this.records) {
      if (record.ref.deref() === undefined) this._collected(record);
      else if (!record.stackFormatted) formatStack(record);
    }
    // deref() just pinned every live one again: release them, or they could
    // never be collected between two sweeps.
    native.clearKeptObjects();
  }

  /** The loop closes: report every failure left, collected or not (each Future's _unretrieved is cleared). */
  reportAll(): void {
    for (const record of [...this.records]) {
      this.records.delete(record);
      registry.unregister(record);
      const fut = record.ref.deref();
      if (fut !== undefined) fut._unretrieved = null;
      this.reporter._reportUnretrieved(record, fut);
    }
  }

  /** @internal record's Future was collected (the registry's callback, or a sweep). */
  _collected(record: UnretrievedRecord<F>): void {
    if (!this.records.delete(record)) return;
    registry.unregister(record);
    this.reporter._reportUnretrieved(record, undefined);
  }
}

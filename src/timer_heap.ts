// The loop's timer heap: a binary min-heap of TimerHandles ordered by
// (when, seq), seq being the scheduling order (timers due at the same time
// run in the order they were scheduled).
//
// Why not an array of handles compared through their fields: a pop sifts
// through ~log2(n) levels, two comparisons each, and reading `_when` from
// handles scattered over the heap costs a cache miss per comparison (with
// 200k timers, 2x slower than Node's setTimeout). The keys live here in
// parallel arrays instead (V8 keeps a number-only array unboxed and
// contiguous), so the sift reads contiguous memory and touches the handles
// only to move them.

/**
 * What the heap needs of a timer (a TimerHandle has it): declared here, so
 * the heap is a leaf module below the loop core.
 */
export interface HeapTimer {
  readonly _when: number;
  readonly _seq: number;
  readonly _cancelled: boolean;
  _scheduled: boolean;
}

/** @internal */
export class TimerHeap<T extends HeapTimer = HeapTimer> {
  private _whens: number[] = [];
  private _seqs: number[] = [];
  private _timers: T[] = [];

  get length(): number {
    return this._timers.length;
  }

  /** The earliest timer; undefined when empty. */
  peek(): T | undefined {
    return this._timers[0];
  }

  /** The earliest due time; Infinity when empty. */
  peekWhen(): number {
    return this._timers.length > 0 ? this._whens[0]! : Infinity;
  }

  push(timer: T): void {
    const whens = this._whens;
    const seqs = this._seqs;
    const timers = this._timers;
    const when = timer._when;
    const seq = timer._seq;
    let i = timers.length;
    whens.push(when);
    seqs.push(seq);
    timers.push(timer);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pw = whens[parent]!;
      if (pw < when || (pw === when && seqs[parent]! < seq)) break;
      whens[i] = pw;
      seqs[i] = seqs[parent]!;
      timers[i] = timers[parent]!;
      i = parent;
    }
    whens[i] = when;
    seqs[i] = seq;
    timers[i] = timer;
  }

  /** Remove and return the earliest timer (the heap must not be empty). */
  pop(): T {
    const timers = this._timers;
    const top = timers[0]!;
    const lastTimer = timers.pop()!;
    const lastWhen = this._whens.pop()!;
    const lastSeq = this._seqs.pop()!;
    if (timers.length > 0) this._siftDown(0, lastWhen, lastSeq, lastTimer);
    return top;
  }

  /** Drop the cancelled timers (marking them unscheduled) and re-heapify: O(n). */
  removeCancelled(): void {
    const kept = this._timers.filter((timer) => {
      if (!timer._cancelled) return true;
      timer._scheduled = false;
      return false;
    });
    this._whens = kept.map((t) => t._when);
    this._seqs = kept.map((t) => t._seq);
    this._timers = kept;
    for (let i = (kept.length >> 1) - 1; i >= 0; i--) this._siftDown(i, this._whens[i]!, this._seqs[i]!, kept[i]!);
  }

  /** Empty the heap; returns the timers it held. */
  clear(): T[] {
    const timers = this._timers;
    this._whens = [];
    this._seqs = [];
    this._timers = [];
    return timers;
  }

  /** The timers in heap order (for tests and debugging). */
  toArray(): T[] {
    return this._timers.slice();
  }

  private _siftDown(i: number, when: number, seq: number, timer: T): void {
    const whens = this._whens;
    const seqs = this._seqs;
    const timers = this._timers;
    const n = timers.length;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let cw = whens[child]!;
      const right = child + 1;
      if (right < n) {
        const rw = whens[right]!;
        if (rw < cw || (rw === cw && seqs[right]! < seqs[child]!)) {
          child = right;
          cw = rw;
        }
      }
      if (when < cw || (when === cw && seq < seqs[child]!)) break;
      whens[i] = cw;
      seqs[i] = seqs[child]!;
      timers[i] = timers[child]!;
      i = child;
    }
    whens[i] = when;
    seqs[i] = seq;
    timers[i] = timer;
  }
}

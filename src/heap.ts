// A binary min-heap with a comparator (Python's heapq, as a class), and the
// default ordering of PriorityQueue: Python's `<` on numbers, strings and
// tuples (arrays, compared element by element).
//
// Unlike heapq the heap is stable: entries that compare equal come out in
// insertion order (a sequence number breaks ties), so PriorityQueue is FIFO
// within one priority.

/** Negative if a sorts before b, positive if after, 0 if equal. */
export type Compare<T> = (a: T, b: T) => number;

/** @internal */
export class Heap<T> {
  private items: T[] = [];
  private seqs: number[] = [];
  private nextSeq = 0;

  constructor(private readonly compare: Compare<T>) {}

  get length(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    const seqs = this.seqs;
    const seq = this.nextSeq++;
    let i = items.length;
    items.push(item);
    seqs.push(seq);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(item, seq, items[parent]!, seqs[parent]!)) break;
      items[i] = items[parent]!;
      seqs[i] = seqs[parent]!;
      i = parent;
    }
    items[i] = item;
    seqs[i] = seq;
  }

  /** Remove and return the smallest item; undefined when empty. */
  pop(): T | undefined {
    const items = this.items;
    const seqs = this.seqs;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    const lastSeq = seqs.pop()!;
    if (items.length > 0) this.siftDown(last, lastSeq);
    if (items.length === 0) this.nextSeq = 0;
    return top;
  }

  /** The smallest item without removing it. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** The items in heap order (not sorted). */
  toArray(): T[] {
    return this.items.slice();
  }

  private siftDown(item: T, seq: number): void {
    const items = this.items;
    const seqs = this.seqs;
    const n = items.length;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.before(items[child + 1]!, seqs[child + 1]!, items[child]!, seqs[child]!)) child++;
      if (!this.before(items[child]!, seqs[child]!, item, seq)) break;
      items[i] = items[child]!;
      seqs[i] = seqs[child]!;
      i = child;
    }
    items[i] = item;
    seqs[i] = seq;
  }

  private before(a: T, aSeq: number, b: T, bSeq: number): boolean {
    const c = this.compare(a, b);
    return c < 0 || (c === 0 && aSeq < bSeq);
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/**
 * Python's ordering, for PriorityQueue's default: numbers and bigints (and
 * booleans, as 0 / 1), strings (by UTF-16 code unit), Dates (by time), and
 * arrays compared element by element like tuples (a shorter prefix first),
 * so `[priority, item]` pairs sort by priority, then by item.
 *
 * @throws TypeError for values with no order between them (objects, mixed
 *   types), as Python's `<` raises: give PriorityQueue a `compare` option, or
 *   put `[priority, seq, item]` with a unique seq so items are never compared.
 */
export function pythonCompare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  let x = a;
  let y = b;
  if (typeof x === 'boolean') x = Number(x);
  if (typeof y === 'boolean') y = Number(y);
  if (x instanceof Date && y instanceof Date) {
    x = x.getTime();
    y = y.getTime();
  }
  const tx = typeof x;
  const ty = typeof y;
  if ((tx === 'number' || tx === 'bigint') && (ty === 'number' || ty === 'bigint')) {
    // NaN is neither smaller nor larger: equal, as far as a heap can tell.
    return (x as number) < (y as number) ? -1 : (x as number) > (y as number) ? 1 : 0;
  }
  if (tx === 'string' && ty === 'string') return (x as string) < (y as string) ? -1 : (x as string) > (y as string) ? 1 : 0;
  if (Array.isArray(x) && Array.isArray(y)) {
    const n = Math.min(x.length, y.length);
    for (let i = 0; i < n; i++) {
      const c = pythonCompare(x[i], y[i]);
      if (c !== 0) return c;
    }
    return x.length - y.length;
  }
  throw new TypeError(
    `cannot order ${typeName(a)} and ${typeName(b)}: give PriorityQueue a compare option, ` +
      'or use [priority, seq, item] entries with a unique seq',
  );
}

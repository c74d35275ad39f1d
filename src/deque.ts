// A double-ended queue on a growable ring buffer: Python's collections.deque
// for the waiter lists of the synchronization primitives and the FIFO queue.
//
// Why not a plain array: Array#shift is O(n) once V8 leaves its fast path,
// and a Queue or a lock's waiter list is shifted once per item / wakeup.
// push, shift, pop and the peeks are O(1); remove(item) is O(n) but searches
// from the head, where a woken waiter usually is when it removes itself.

/** @internal Not part of the public API. */
export class Deque<T> implements Iterable<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private size = 0;
  /** capacity - 1; the capacity is always a power of two. */
  private mask: number;

  constructor(capacity = 16) {
    let cap = 4;
    while (cap < capacity) cap *= 2;
    this.buf = new Array<T | undefined>(cap);
    this.mask = cap - 1;
  }

  get length(): number {
    return this.size;
  }

  /** Append at the tail. */
  push(item: T): void {
    if (this.size === this.buf.length) this.grow();
    this.buf[(this.head + this.size) & this.mask] = item;
    this.size++;
  }

  /** Remove and return the head; undefined when empty. */
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.size--;
    return item;
  }

  /** Remove and return the tail; undefined when empty. */
  pop(): T | undefined {
    if (this.size === 0) return undefined;
    const i = (this.head + this.size - 1) & this.mask;
    const item = this.buf[i];
    this.buf[i] = undefined;
    this.size--;
    return item;
  }

  /** The head without removing it; undefined when empty. */
  peekFirst(): T | undefined {
    return this.size === 0 ? undefined : this.buf[this.head];
  }

  /** The i-th item from the head (0-based); undefined when out of range. */
  at(i: number): T | undefined {
    return i >= 0 && i < this.size ? this.buf[(this.head + i) & this.mask] : undefined;
  }

  /** Remove the first occurrence of item; false if it is not there. */
  remove(item: T): boolean {
    for (let i = 0; i < this.size; i++) {
      if (this.buf[(this.head + i) & this.mask] !== item) continue;
      if (i === 0) {
        this.shift();
        return true;
      }
      // Close the gap by moving the items after it one slot towards the head.
      for (let j = i; j < this.size - 1; j++) {
        this.buf[(this.head + j) & this.mask] = this.buf[(this.head + j + 1) & this.mask];
      }
      this.buf[(this.head + this.size - 1) & this.mask] = undefined;
      this.size--;
      return true;
    }
    return false;
  }

  clear(): void {
    this.buf.fill(undefined);
    this.head = 0;
    this.size = 0;
  }

  toArray(): T[] {
    const out = new Array<T>(this.size);
    for (let i = 0; i < this.size; i++) out[i] = this.buf[(this.head + i) & this.mask] as T;
    return out;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.size; i++) yield this.buf[(this.head + i) & this.mask] as T;
  }

  private grow(): void {
    const old = this.buf;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) & this.mask];
    this.buf = next;
    this.head = 0;
    this.mask = next.length - 1;
  }
}

// A byte queue made of the Buffers that were pushed, for StreamReader.
// Taking a whole chunk returns it without a copy; searches run across chunk
// boundaries without joining the chunks first.

export class ChunkQueue {
  private chunks: Buffer[] = [];
  /** Bytes of chunks[0] already taken. */
  private head = 0;
  size = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Remove and return the first n bytes (n <= size). */
  take(n: number): Buffer {
    if (n > this.size) throw new RangeError(`take(${n}) from ${this.size} bytes`);
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    const avail = first.length - this.head;
    if (n <= avail) {
      const out = this.head === 0 && n === first.length ? first : first.subarray(this.head, this.head + n);
      this.advance(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const k = Math.min(n - filled, c.length - this.head);
      c.copy(out, filled, this.head, this.head + k);
      filled += k;
      this.advance(k);
    }
    return out;
  }

  /** Copy up to target.length bytes from the front into target and remove them; returns the count. */
  takeInto(target: Uint8Array): number {
    const n = Math.min(target.length, this.size);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const k = Math.min(n - filled, c.length - this.head);
      target.set(c.subarray(this.head, this.head + k), filled);
      filled += k;
      this.advance(k);
    }
    return n;
  }

  /** Put chunk back at the front (bytes that were taken and must be read again). */
  unshift(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.head !== 0) {
      this.chunks[0] = this.chunks[0]!.subarray(this.head);
      this.head = 0;
    }
    this.chunks.unshift(chunk);
    this.size += chunk.length;
  }

  /** Drop the first n bytes. */
  discard(n: number): void {
    let left = Math.min(n, this.size);
    while (left > 0) {
      const k = Math.min(left, this.chunks[0]!.length - this.head);
      this.advance(k);
      left -= k;
    }
  }

  private advance(k: number): void {
    this.head += k;
    this.size -= k;
    if (this.head === this.chunks[0]!.length) {
      this.chunks.shift();
      this.head = 0;
    }
  }

  /** The byte at logical position i (i < size). */
  private byteAt(i: number): number {
    let pos = i + this.head;
    for (const c of this.chunks) {
      if (pos < c.length) return c[pos]!;
      pos -= c.length;
    }
    throw new RangeError(`byteAt(${i}) past ${this.size}`);
  }

  /** Position of needle at or after `from`, or -1. */
  indexOf(needle: Buffer, from = 0): number {
    if (needle.length === 0) return Math.min(from, this.size);
    // Within each chunk Buffer.indexOf does the work; a match that crosses a
    // boundary is checked byte by byte from the candidate positions near it.
    let base = -this.head; // logical position of chunks[i][0]
    for (let ci = 0; ci < this.chunks.length; ci++) {
      const c = this.chunks[ci]!;
      const startInChunk = Math.max(from - base, ci === 0 ? this.head : 0);
      if (startInChunk < c.length) {
        const at = c.indexOf(needle, startInChunk);
        if (at !== -1) {
          // A match crossing the previous boundary would start earlier; those were checked below.
          return base + at;
        }
        // Candidates that start in this chunk and run into the next ones.
        const tailStart = Math.max(startInChunk, c.length - needle.length + 1);
        for (let p = tailStart; p < c.length; p++) {
          if (this.matchesAt(needle, base + p)) return base + p;
        }
      }
      base += c.length;
    }
    return -1;
  }

  /** True if the bytes at logical position pos equal needle. */
  startsWith(needle: Buffer, pos: number): boolean {
    return this.matchesAt(needle, pos);
  }

  private matchesAt(needle: Buffer, pos: number): boolean {
    if (pos < 0 || pos + needle.length > this.size) return false;
    for (let j = 0; j < needle.length; j++) if (this.byteAt(pos + j) !== needle[j]) return false;
    return true;
  }
}

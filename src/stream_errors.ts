// Errors of the streams layer (asyncio's IncompleteReadError, LimitOverrunError).

/** EOF came before the expected bytes: `partial` has what was read. */
export class IncompleteReadError extends Error {
  /** Always 'IncompleteReadError'. */
  override name = 'IncompleteReadError';
  constructor(
    /** The bytes read before EOF. */
    readonly partial: Buffer,
    /** Bytes that were expected, or null when reading up to a separator. */
    readonly expected: number | null,
  ) {
    // asyncio says "... of None expected bytes" when reading up to a separator: say what happened instead.
    super(expected == null ? `${partial.length} bytes read before the end of the stream, without the separator` : `${partial.length} bytes read on a total of ${expected} expected bytes`);
  }
}

/** The separator was not found within the reader's limit; `consumed` bytes may be read to make progress. */
export class LimitOverrunError extends Error {
  /** Always 'LimitOverrunError'. */
  override name = 'LimitOverrunError';
  constructor(
    message: string,
    /** How many bytes can be consumed (read) to make progress. */
    readonly consumed: number,
  ) {
    super(message);
  }
}

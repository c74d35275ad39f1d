// Checks of public arguments, with Node's error codes: a value of the wrong
// type is a TypeError with code ERR_INVALID_ARG_TYPE, a number outside what
// the argument takes a RangeError with code ERR_OUT_OF_RANGE. The message
// names the argument, what it takes and what it got, so a call with its
// arguments swapped (openConnection(8080, '127.0.0.1')) says so instead of
// failing deep inside ("host.startsWith is not a function"). A leaf: it
// imports nothing.

/** A short description of a value for a message: "type string ('5')", "undefined", "function f". */
export function describeReceived(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (typeof value === 'string') return `type string (${JSON.stringify(value.length > 28 ? `${value.slice(0, 25)}...` : value)})`;
  if (typeof value === 'object') return `an instance of ${(value as object).constructor?.name ?? 'Object'}`;
  return `type ${typeof value} (${String(value)})`;
}

/** TypeError, code ERR_INVALID_ARG_TYPE: `The "name" argument must be <expected>. Received <value>.` plus a hint. */
export function invalidArgType(name: string, expected: string, value: unknown, hint = ''): TypeError {
  const err = new TypeError(`The "${name}" argument must be ${expected}. Received ${describeReceived(value)}${hint === '' ? '' : `; ${hint}`}`);
  return Object.assign(err, { code: 'ERR_INVALID_ARG_TYPE' });
}

/** RangeError, code ERR_OUT_OF_RANGE: `The value of "name" is out of range. It must be <expected>. Received <value>`. */
export function outOfRange(name: string, expected: string, value: unknown): RangeError {
  const err = new RangeError(`The value of "${name}" is out of range. It must be ${expected}. Received ${String(value)}`);
  return Object.assign(err, { code: 'ERR_OUT_OF_RANGE' });
}

/**
 * A number of seconds (any number but NaN: a negative one means "already
 * due", Infinity "never"), or null when `nullable`. NaN is not a number of
 * seconds: a TypeError too (it is what '5' / 'x' become after arithmetic).
 */
export function checkSeconds(name: string, value: unknown, nullable: boolean, hint = ''): void {
  if (value === null && nullable) return;
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidArgType(name, nullable ? 'a number of seconds or null' : 'a number of seconds', value, hint);
}

/** A function (a callback, a protocol factory, a handler). */
export function checkFunction(name: string, value: unknown, hint = ''): void {
  if (typeof value !== 'function') throw invalidArgType(name, 'a function', value, hint);
}

/** A host argument (string; null / undefined when `nullable`) and a port (an integer 0..65535), checked together so swapped arguments are named. */
export function checkHostPort(host: unknown, port: unknown, nullableHost: boolean): void {
  const swapped = typeof host === 'number' && typeof port === 'string' ? 'the host comes first, then the port' : '';
  if (!(typeof host === 'string' || (nullableHost && (host === null || host === undefined)))) {
    throw invalidArgType('host', nullableHost ? 'a string, null or undefined' : 'of type string', host, swapped);
  }
  if (typeof port !== 'number') throw invalidArgType('port', 'of type number', port, swapped);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw outOfRange('port', 'an integer >= 0 and <= 65535', port);
}

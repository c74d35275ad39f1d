// "coroutine ... was never awaited": a forgotten `yield*` (or `await`) makes
// a coroutine object that never runs, and nothing says so. In debug mode
// coio remembers where each of its coroutines was made and warns when one is
// garbage-collected without ever having been started (Python's
// RuntimeWarning, with its origin tracking on).
//
// It costs nothing outside debug mode: awaitables.ts registers coio's
// coroutine methods here, and only while some loop is in debug mode are they
// replaced on their prototypes by wrappers that record the coroutine; when
// the last debug loop leaves debug mode (or closes) the original methods are
// put back. Outside debug mode the only trace is one boolean test in
// sleep() (a plain function: it cannot be swapped on a prototype).
// Module functions that are generator functions themselves (startServer,
// openConnection, ...) are not tracked: their exports cannot be replaced,
// and their results are rarely dropped (they are values one uses).

/** A coroutine method replaced by its tracking wrapper while tracking is on. */
interface TrackedMethod {
  holder: object;
  name: string;
  original: (...args: unknown[]) => unknown;
  wrapper: (...args: unknown[]) => unknown;
}

const methods: TrackedMethod[] = [];
let debugLoops = 0;

/** @internal True while some loop is in debug mode: sleep() then records its coroutines. */
export let _trackingOrigins = false;

interface Origin {
  label: string;
  /** Made where the coroutine was: its stack is formatted only when reported. */
  site: Error;
}

let registry: FinalizationRegistry<Origin> | null = null;

function report(origin: Origin): void {
  const lines = (origin.site.stack ?? '').split('\n').slice(1);
  // Drop coio's own frames (this module's directory: src/ or dist/) so the
  // first line is the caller's, the line that forgot its yield*.
  const dir = /([^\s(]*[\\/])never_awaited\.[cm]?[jt]s/.exec(lines[0] ?? '')?.[1];
  while (lines.length > 1 && dir !== undefined && lines[0]!.includes(dir)) lines.shift();
  process.emitWarning(`coroutine ${origin.label} was never awaited (no yield* or await ran it); it was created\n${lines.join('\n')}`, {
    type: 'RuntimeWarning',
    code: 'COIO_NEVER_AWAITED',
  });
}

const STARTERS = ['next', 'throw', 'return'] as const;

/**
 * @internal Record where `coro` was made; warn if it is collected before
 * anything started it. Its first next() / throw() / return() (a Task's first
 * step, a `yield*`, an await's Task) forgets the record.
 */
export function _trackOrigin(coro: object, label: string): void {
  registry ??= new FinalizationRegistry(report);
  registry.register(coro, { label, site: new Error('created here') }, coro);
  const c = coro as Record<string, unknown>;
  for (const name of STARTERS) {
    const original = c[name] as (...args: unknown[]) => unknown;
    Object.defineProperty(coro, name, {
      configurable: true,
      writable: true,
      value: function started(this: object, ...args: unknown[]): unknown {
        forget(coro);
        return original.apply(this, args);
      },
    });
  }
}

function forget(coro: object): void {
  registry?.unregister(coro);
  // Back to the prototype's methods: later steps pay nothing.
  for (const name of STARTERS) delete (coro as Record<string, unknown>)[name];
}

/**
 * @internal Track the coroutines `holder[name]` returns (a generator method
 * or a method returning a hand-written coroutine), labelled `Class.name()`.
 */
export function _registerCoroutineMethod(holder: object, name: string, label: string): void {
  const original = (holder as Record<string, unknown>)[name] as (...args: unknown[]) => unknown;
  const wrapper = function tracked(this: unknown, ...args: unknown[]): unknown {
    const coro = original.apply(this, args);
    if (typeof coro === 'object' && coro !== null) _trackOrigin(coro, label);
    return coro;
  };
  const entry = { holder, name, original, wrapper };
  methods.push(entry);
  if (_trackingOrigins) install(entry, true);
}

function install(m: TrackedMethod, on: boolean): void {
  const desc = Object.getOwnPropertyDescriptor(m.holder, m.name);
  Object.defineProperty(m.holder, m.name, { ...desc, value: on ? m.wrapper : m.original });
}

/** @internal A loop entered (+1) or left (-1) debug mode: tracking is on while any is in it. */
export function _debugLoopCount(delta: 1 | -1): void {
  debugLoops = Math.max(0, debugLoops + delta);
  const on = debugLoops > 0;
  if (on === _trackingOrigins) return;
  _trackingOrigins = on;
  for (const m of methods) install(m, on);
}

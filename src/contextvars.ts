// Context variables (Python's contextvars): values that follow the flow of
// control through Tasks and callbacks, for request-scoped logging and tracing.
//
// A Context maps ContextVars to values. Its map is never changed in place:
// set() replaces it with a new Map, so copyContext() is O(1) (the copy shares
// the map until one of them sets a variable). One Context is current at a
// time, per thread. A Task runs every step in its own Context (a copy of its
// creator's, taken when it was created); a callback of callSoon / callLater /
// callAt runs in a copy of the context current when it was scheduled.
//
// The cost. Until the first ContextVar is made, no value can be read or set,
// so which Context is current cannot be observed: Tasks and callbacks do not
// switch Contexts at all (one field check per step). After that, a Task or
// Handle keeps a reference to the map it would copy, not a Context; while it
// runs, one shared Context object (LAZY) stands for its copy, and only when
// the code sets a variable is a real Context made (and kept by the Task, for
// its next steps). So a task switch allocates nothing for contexts. This is
// why ContextVars belong at module level (as Python's documentation says
// too): one made inside a running Task starts the switching only at the next
// step, so that step's set() would change the Context outside it.

import { RuntimeError } from './errors.js';

type VarMap = ReadonlyMap<ContextVar<unknown>, unknown>;

const EMPTY: VarMap = new Map();

/** Thrown by ContextVar.get() when the variable has no value and no default (Python's LookupError). */
export class LookupError extends Error {
  override name = 'LookupError';
}

/** What owns the LAZY Context while it runs: the Task (or Handle) whose copy it stands for. */
interface LazyOwner {
  _context: Context | null;
}

/**
 * A mapping of ContextVars to values (Python's contextvars.Context). Make one
 * with copyContext() (a copy of the current one) or `new Context()` (empty);
 * run code in it with run().
 */
export class Context implements Iterable<ContextVar<unknown>> {
  /** @internal Never changed in place (shared by copies). */
  _vars: VarMap;
  /** @internal True while run() runs in it. */
  _entered = false;
  /** @internal Set on LAZY only: whose copy it stands for now. */
  _owner: LazyOwner | null = null;

  constructor() {
    this._vars = EMPTY;
  }

  /**
   * Call fn(...args) with this Context current: ContextVar.set() inside
   * changes this Context. Returns what fn returns.
   * @throws RuntimeError if this Context is already entered (a run() inside
   *   its own run()); whatever fn throws.
   */
  run<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): R {
    if (this._entered) throw new RuntimeError(`cannot enter context: ${String(this)} is already entered`);
    if (typeof fn !== 'function') throw new TypeError('Context.run: a function is required');
    const state = contextState;
    const prev = state.current;
    this._entered = true;
    state.current = this;
    try {
      return fn(...args);
    } finally {
      state.current = prev;
      this._entered = false;
    }
  }

  /** A new Context with the same values (Python's Context.copy()). */
  copy(): Context {
    return contextOf(this._vars);
  }

  /** The variable's value in this Context, else defaultValue (undefined if omitted). */
  get<T, D = undefined>(variable: ContextVar<T>, defaultValue?: D): T | D {
    const vars = this._vars;
    return vars.has(variable as ContextVar<unknown>) ? (vars.get(variable as ContextVar<unknown>) as T) : (defaultValue as D);
  }

  /** Whether the variable has a value in this Context (Python's `var in ctx`). */
  has(variable: ContextVar<unknown>): boolean {
    return this._vars.has(variable);
  }

  /** How many variables have a value here (Python's len(ctx)). */
  get size(): number {
    return this._vars.size;
  }

  /** The variables that have a value here. */
  keys(): IterableIterator<ContextVar<unknown>> {
    return this._vars.keys();
  }

  /** Their values. */
  values(): IterableIterator<unknown> {
    return this._vars.values();
  }

  /** [variable, value] pairs (Python's items()). */
  entries(): IterableIterator<[ContextVar<unknown>, unknown]> {
    return this._vars.entries();
  }

  [Symbol.iterator](): IterableIterator<ContextVar<unknown>> {
    return this._vars.keys();
  }

  toString(): string {
    return `<Context size=${this._vars.size}>`;
  }
}

function contextOf(vars: VarMap): Context {
  const ctx = new Context();
  ctx._vars = vars;
  return ctx;
}

/** The base Context: current outside any Task, callback or run(). */
const ROOT = new Context();
/** Stands for a Task's or Handle's copy while it runs, until something sets a variable (see the top of this file). */
const LAZY = new Context();

/**
 * @internal The current Context (per thread: each worker thread has its own
 * module instance); `on` once a ContextVar exists (see the top of this file).
 */
export const contextState: { current: Context; on: boolean } = { current: ROOT, on: false };

/** @internal The map of the current Context: what a Task or Handle keeps as its "copy" (no allocation). */
export function _currentVars(): VarMap {
  return contextState.current._vars;
}

/**
 * @internal Enter the copy (or the explicit Context) of a Task or Handle
 * for one step; returns the Context to restore with _leave. `owner._context`
 * null means "a copy of `vars`": LAZY stands for it, unless LAZY is already
 * in use further down the stack (an eager Task started inside another
 * Task's step): then the copy is made now.
 */
export function _enter(owner: LazyOwner, vars: VarMap): Context {
  const state = contextState;
  const prev = state.current;
  const ctx = owner._context;
  if (ctx !== null) {
    state.current = ctx;
  } else if (LAZY._owner === null) {
    LAZY._vars = vars;
    LAZY._owner = owner;
    state.current = LAZY;
  } else {
    state.current = owner._context = contextOf(vars);
  }
  return prev;
}

/** @internal Leave what _enter entered for owner. */
export function _leave(owner: LazyOwner, prev: Context): void {
  contextState.current = prev;
  if (LAZY._owner === owner) {
    LAZY._owner = null;
    LAZY._vars = EMPTY;
  }
}

/**
 * @internal The Context of a Task (or Handle): made now if it is still "a
 * copy of vars" (and, if LAZY stands for it while it runs, LAZY becomes it).
 */
export function _contextOf(owner: LazyOwner, vars: VarMap): Context {
  if (owner._context !== null) return owner._context;
  if (LAZY._owner === owner) return realCurrent();
  return (owner._context = contextOf(vars));
}

/** @internal The empty map (a Task given an explicit Context keeps it as its unused "copy"). */
export const _EMPTY_VARS: VarMap = EMPTY;

/** The current Context, made real if LAZY stands for it (a variable is about to be set, or a Token needs it). */
function realCurrent(): Context {
  const state = contextState;
  const ctx = state.current;
  if (ctx !== LAZY) return ctx;
  const real = contextOf(LAZY._vars);
  LAZY._owner!._context = real;
  state.current = real;
  return real;
}

/**
 * A copy of the current Context (Python's contextvars.copy_context()). O(1):
 * the copy shares the values until either side sets one.
 */
export function copyContext(): Context {
  return contextOf(contextState.current._vars);
}

const MISSING: unique symbol = Symbol('Token.MISSING');

/** What ContextVar.set() returns; reset(token) restores the value before that set(). */
export class Token<T = unknown> {
  /** oldValue when the variable had no value before the set(). */
  static readonly MISSING: typeof MISSING = MISSING;
  /** @internal */ _used = false;

  /** @internal */
  constructor(
    /** @internal The variable that was set. */
    readonly _var: ContextVar<T>,
    /** Its value before the set(), or Token.MISSING. */
    readonly oldValue: T | typeof MISSING,
    /** @internal */ readonly _context: Context,
  ) {}

  /** The variable that was set (Python's Token.var). */
  get var(): ContextVar<T> {
    return this._var;
  }

  toString(): string {
    return `<Token${this._used ? ' used' : ''} var=${String(this._var)}>`;
  }
}

/**
 * A context variable (Python's contextvars.ContextVar): get() reads its value
 * in the current Context, set() changes it there (and returns a Token for
 * reset()). Make them once, at module level: each is a key.
 */
export class ContextVar<T> {
  private readonly _default: T | undefined;
  private readonly _hasDefault: boolean;

  /**
   * @param name for messages and toString().
   * @param options.default the value get() returns when it has none.
   * @throws TypeError if name is not a string.
   */
  constructor(
    readonly name: string,
    options: { default?: T } = {},
  ) {
    if (typeof name !== 'string') throw new TypeError('ContextVar: name must be a string');
    contextState.on = true;
    this._hasDefault = Object.prototype.hasOwnProperty.call(options, 'default');
    this._default = options.default;
  }

  /**
   * The value in the current Context; else defaultValue if given; else the
   * variable's default.
   * @throws LookupError if there is none of those.
   */
  get(): T;
  get<D>(defaultValue: D): T | D;
  get<D>(...rest: [D?]): T | D {
    const vars = contextState.current._vars;
    if (vars.has(this as ContextVar<unknown>)) return vars.get(this as ContextVar<unknown>) as T;
    if (rest.length > 0) return rest[0] as D;
    if (this._hasDefault) return this._default as T;
    throw new LookupError(`<ContextVar name=${JSON.stringify(this.name)}> has no value`);
  }

  /** Set the value in the current Context; the Token undoes it with reset(). */
  set(value: T): Token<T> {
    const ctx = realCurrent();
    const vars = ctx._vars;
    const self = this as ContextVar<unknown>;
    const old = vars.has(self) ? (vars.get(self) as T) : MISSING;
    const next = new Map(vars);
    next.set(self, value);
    ctx._vars = next;
    return new Token(this, old, ctx);
  }

  /**
   * Restore the value the variable had before the set() that returned token.
   * @throws RuntimeError if the token was used already; RangeError if it
   *   belongs to another variable or was made in another Context; TypeError
   *   if it is not a Token.
   */
  reset(token: Token<T>): void {
    if (!(token instanceof Token)) throw new TypeError(`ContextVar.reset: a Token is required, got ${String(token)}`);
    if (token._used) throw new RuntimeError(`${String(token)} has already been used once`);
    if (token._var !== this) throw new RangeError(`${String(token)} was created by a different ContextVar`);
    const ctx = realCurrent();
    if (token._context !== ctx) throw new RangeError(`${String(token)} was created in a different Context`);
    const next = new Map(ctx._vars);
    if (token.oldValue === MISSING) next.delete(this as ContextVar<unknown>);
    else next.set(this as ContextVar<unknown>, token.oldValue);
    ctx._vars = next.size === 0 ? EMPTY : next;
    token._used = true;
  }

  toString(): string {
    return `<ContextVar name=${JSON.stringify(this.name)}${this._hasDefault ? ` default=${String(this._default)}` : ''}>`;
  }
}

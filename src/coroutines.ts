// What a coroutine is, and the other "what kind of callable or awaitable is
// this" checks (asyncio's coroutines module). A leaf: everything that has to
// tell a coroutine from a Future, a promise or a function asks here, so
// there is one answer.

/** A coroutine: a generator object; `yield*` inside it is `await`. */
export type Coroutine<T = unknown> = Generator<unknown, T, unknown>;

/**
 * A coroutine coio made (a stream read, a lock's acquire(), startServer(), ...):
 * a generator object to `yield*` from a generator coroutine, and a thenable to
 * `await` from an async function (it then runs as a Task of the running loop).
 * Both evaluate to T:
 *
 *     const data = yield* reader.read(100);   // in a function*: a Buffer
 *     const same = await reader.read(100);    // in an async function: a Buffer
 *
 * Awaiting it again gives the same result; it runs once.
 */
export interface Co<T = unknown> extends Generator<unknown, T, unknown>, PromiseLike<T> {}

// The constructors of generator and async functions are not globals: take them from an instance.
const GeneratorFunction = Object.getPrototypeOf(function* () {}).constructor as FunctionConstructor;
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor as FunctionConstructor;

/** True for a coroutine: a generator object (what calling a `function*` returns). */
export function isCoroutine(x: unknown): x is Coroutine<unknown> {
  return typeof x === 'object' && x !== null && (x as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Generator';
}

/**
 * True for a coroutine function (asyncio's iscoroutinefunction): a generator
 * function, whose call makes a coio coroutine, or an async function.
 */
export function isCoroutineFunction(x: unknown): boolean {
  return x instanceof GeneratorFunction || x instanceof AsyncFunction;
}

/** True for a thenable: an object or function with a then() method (a Promise, a Future, ...). */
export function isThenable(x: unknown): x is PromiseLike<unknown> {
  return x !== null && (typeof x === 'object' || typeof x === 'function') && typeof (x as { then?: unknown }).then === 'function';
}

/** @internal A `function*` (or generator method) of this realm: calling it only makes a coroutine. */
export function _isGeneratorFunction(x: unknown): x is (...args: unknown[]) => Coroutine<unknown> {
  return x instanceof GeneratorFunction;
}

/** @internal An `async function` (or async arrow / method) of this realm. */
export function _isAsyncFunction(x: unknown): x is (...args: unknown[]) => Promise<unknown> {
  return x instanceof AsyncFunction;
}

/**
 * @internal A `function*` or `async function*` of any realm (by its tag): a
 * coroutine function, which the APIs that call a plain function once and
 * ignore its result (addSignalHandler, toThread, ...) refuse.
 */
export function _isCoroutineFunction(fn: unknown): boolean {
  const tag = (fn as { [Symbol.toStringTag]?: unknown } | null | undefined)?.[Symbol.toStringTag];
  return tag === 'GeneratorFunction' || tag === 'AsyncGeneratorFunction';
}

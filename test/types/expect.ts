// Type assertions for the files of this directory, checked by `npm run
// typecheck` (tsc --noEmit under --strict); nothing here runs.

/** True when A and B are the same type (not merely assignable either way). */
export type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;

/** Compiles only when the value's type is exactly T: `expectType<Buffer>()(data)`. */
export function expectType<T>(): <V>(value: V & (Equal<V, T> extends true ? unknown : never)) => void {
  return () => {};
}

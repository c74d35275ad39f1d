// The virtual-clock loop the timer tests run on (test_loop.ts).
import { describe, expect, test } from 'vitest';
import { gather } from '../src/combinators.js';
import { getRunningLoop } from '../src/events.js';
import { sleep } from '../src/tasks.js';
import { useCoreLoop } from './core_helpers.js';
import { runIn } from './async_helpers.js';
import type { ModeName } from './async_helpers.js';
import { backends } from './helpers.js';

describe('TestLoop', () => {
  const core = useCoreLoop({ virtualClock: true });

  test('an hour of sleeps takes no real time; timers fire at their exact loop times, in order', () => {
    const t0 = performance.now();
    const seen: Array<[string, number]> = [];
    core.run(function* () {
      const at = (name: string, s: number) =>
        (function* () {
          yield* sleep(s);
          seen.push([name, getRunningLoop().time()]);
        })();
      yield* gather(at('b', 3600), at('a', 1.5), at('c', 3600));
    });
    expect(seen).toEqual([
      ['a', 1.5],
      ['b', 3600],
      ['c', 3600],
    ]);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  test.each<ModeName>(['blocking', 'guest'])('%s mode, async functions: the same exact times, in no real time', async (mode) => {
    const t0 = performance.now();
    const seen = await runIn(
      mode,
      backends[0]!,
      async () => {
        const loop = getRunningLoop();
        const got: Array<[string, number]> = [];
        const at = async (name: string, s: number): Promise<void> => {
          await sleep(s);
          got.push([name, loop.time()]);
        };
        await gather(at('b', 3600), at('a', 1.5), at('c', 3600));
        return got;
      },
      { virtualClock: true },
    );
    expect(seen).toEqual([
      ['a', 1.5],
      ['b', 3600],
      ['c', 3600],
    ]);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

// The loop's timer heap: pops in (when, scheduling order), drops cancelled timers on a rebuild.
import { afterEach, beforeEach, expect, test } from 'vitest';
import { TimerHandle } from '../src/events.js';
import { newEventLoop } from '../src/loop.js';
import type { EventLoop } from '../src/loop.js';
import { TimerHeap } from '../src/timer_heap.js';

let loop: EventLoop;
beforeEach(() => {
  loop = newEventLoop();
});
afterEach(() => loop.close());

const timer = (when: number, seq: number): TimerHandle => new TimerHandle(when, seq, () => {}, [], loop);

test('pops in order of when, then of scheduling, whatever the push order', () => {
  const heap = new TimerHeap<TimerHandle>();
  const timers: TimerHandle[] = [];
  let seed = 1;
  const random = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (let seq = 0; seq < 2000; seq++) timers.push(timer(Math.floor(random() * 100), seq));
  for (const t of timers) heap.push(t);
  expect(heap.length).toBe(2000);
  expect(heap.peekWhen()).toBe(heap.peek()!._when);
  const popped: TimerHandle[] = [];
  while (heap.length > 0) popped.push(heap.pop());
  const expected = [...timers].sort((a, b) => a._when - b._when || a._seq - b._seq);
  expect(popped).toEqual(expected);
  expect(heap.peek()).toBeUndefined();
  expect(heap.peekWhen()).toBe(Infinity);
});

test('interleaved pushes and pops stay ordered', () => {
  const heap = new TimerHeap<TimerHandle>();
  const out: number[] = [];
  let seq = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 7; i++) heap.push(timer(round + ((i * 3) % 7), seq++));
    for (let i = 0; i < 5; i++) out.push(heap.pop()._when);
  }
  while (heap.length > 0) out.push(heap.pop()._when);
  for (let i = 1; i < out.length; i++) expect(out[i]!).toBeGreaterThanOrEqual(out[i - 1]! - 7);
  expect(out.length).toBe(350);
});

test('removeCancelled keeps the live timers in order and unschedules the rest', () => {
  const heap = new TimerHeap<TimerHandle>();
  const timers = Array.from({ length: 100 }, (_, i) => timer(100 - i, i));
  for (const t of timers) {
    t._scheduled = true;
    heap.push(t);
  }
  for (const t of timers) if (t._seq % 3 === 0) t._cancelled = true;
  heap.removeCancelled();
  expect(heap.length).toBe(66);
  expect(timers.filter((t) => t._cancelled).every((t) => !t._scheduled)).toBe(true);
  const whens: number[] = [];
  while (heap.length > 0) whens.push(heap.pop()._when);
  expect(whens).toEqual([...whens].sort((a, b) => a - b));
});

test('clear returns what it held', () => {
  const heap = new TimerHeap<TimerHandle>();
  heap.push(timer(1, 0));
  heap.push(timer(2, 1));
  expect(heap.clear().length).toBe(2);
  expect(heap.length).toBe(0);
  expect(heap.toArray()).toEqual([]);
});

"""Python asyncio's figures for bench/micro/sync.mjs: the same cases, the
same operation counts. Prints one JSON object per case on stdout:
{"name": ..., "ops": ..., "ns": best ns per op}.

    python3 bench/micro/sync_asyncio.py [--quick]
"""

import asyncio
import json
import sys
import time

QUICK = '--quick' in sys.argv
SCALE = 0.2 if QUICK else 1
REPEAT = 3 if QUICK else 5


def n(x):
    return max(1000, round(x * SCALE))


async def measure(ops, fn):
    await fn()  # warm-up
    best = float('inf')
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        await fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e9 / ops


async def queue_pairs(count, maxsize):
    q = asyncio.Queue(maxsize)

    async def producer():
        for i in range(count):
            await q.put(i)

    async def consumer():
        for _ in range(count):
            await q.get()

    await asyncio.gather(producer(), consumer())


async def lock_uncontended(count):
    lock = asyncio.Lock()
    for _ in range(count):
        await lock.acquire()
        lock.release()


async def lock_async_with(count):
    lock = asyncio.Lock()
    for _ in range(count):
        async with lock:
            pass


async def lock_contended(waiters, rounds):
    lock = asyncio.Lock()

    async def worker():
        for _ in range(rounds):
            await lock.acquire()
            lock.release()

    # Hold the lock until every worker is queued on it: from then on, each
    # release wakes the next worker and the releasing one queues at the tail.
    await lock.acquire()
    everyone = asyncio.gather(*(worker() for _ in range(waiters + 1)))
    await asyncio.sleep(0)
    lock.release()
    await everyone


async def main():
    rows = []
    c = n(200_000)
    rows.append(('Queue put+get pairs, maxsize=0', c, await measure(c, lambda: queue_pairs(c, 0))))
    c = n(100_000)
    rows.append(('Queue put+get pairs, maxsize=1', c, await measure(c, lambda: queue_pairs(c, 1))))
    c = n(1_000_000)
    rows.append(('Lock acquire/release, uncontended', c, await measure(c, lambda: lock_uncontended(c))))
    rows.append(('Lock hold / async with, uncontended', c, await measure(c, lambda: lock_async_with(c))))
    rounds = n(2_000) // 2
    c = 101 * rounds
    rows.append(('Lock acquire/release, 100 waiters', c, await measure(c, lambda: lock_contended(100, rounds))))
    for name, ops, ns in rows:
        print(json.dumps({'name': name, 'ops': ops, 'ns': ns}))


asyncio.run(main())

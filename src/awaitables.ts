// coio's own coroutines, awaitable from async functions.
//
// A coroutine is a generator object; `await` in an async function only
// waits for thenables. coroutine() (async_tasks.ts) gives the objects of a
// generator function a then() that runs them as a Task; this module applies
// it, once, at load, to every coroutine function coio exports: the exported
// generator functions of the modules below, the generator methods of their
// exported classes (and the classes' bases), and sleep(). So in an async
// function `await sleep(1)`, `await reader.read(100)`, `await lock.acquire()`,
// `await queue.get()`, `await loop.sockRecv(sock, 100)` just work.
// (Methods keyed by symbols, such as iterators, are left alone.)
// index.ts imports this module, so importing coio applies it.

import { _markAwaitable, coroutine } from './async_tasks.js';
import { _isGeneratorFunction } from './coroutines.js';
import { _registerCoroutineMethod } from './never_awaited.js';
import * as combinators from './combinators.js';
import * as connections from './connections.js';
import * as datagramTransport from './datagram_transport.js';
import * as locks from './locks.js';
import * as networkEvents from './network_events.js';
import * as pipeTransport from './pipe_transport.js';
import * as queues from './queues.js';
import * as resolver from './resolver.js';
import * as sendfile from './sendfile.js';
import * as server from './server.js';
import * as sockOps from './sock_ops.js';
import * as sslproto from './sslproto.js';
import * as streams from './streams.js';
import * as baseSubprocess from './base_subprocess.js';
import * as subprocess from './subprocess.js';
import * as taskgroups from './taskgroups.js';
import { sleep } from './tasks.js';
import * as threads from './threads.js';
import * as timeouts from './timeouts.js';
import * as unixEvents from './unix_events.js';

export { coroutine };

function markClass(cls: { prototype?: unknown }): void {
  for (let proto: unknown = cls.prototype; proto !== null && proto !== Object.prototype && typeof proto === 'object'; proto = Object.getPrototypeOf(proto)) {
    markMethods(proto as object);
  }
  markMethods(cls);
}

function markMethods(holder: object): void {
  for (const name of Object.getOwnPropertyNames(holder)) {
    const desc = Object.getOwnPropertyDescriptor(holder, name);
    if (desc !== undefined && _isGeneratorFunction(desc.value)) {
      _markAwaitable(desc.value.prototype as object);
      track(holder, name);
    }
  }
}

const tracked = new Set<string>();
const ownerNames = new Map<object, string>();

/** Debug mode's "never awaited" warning covers the coroutines holder[name] returns (never_awaited.ts). */
function track(holder: object, name: string): void {
  if (name.startsWith('_')) return;
  // A prototype is labelled by its class, a class (static methods) by its own name.
  const owner = typeof holder === 'function' ? holder.name : ((holder as { constructor?: { name?: string } }).constructor?.name ?? '?');
  if (!ownerNames.has(holder)) ownerNames.set(holder, `${owner}#${ownerNames.size}`);
  const key = `${ownerNames.get(holder)!}.${name}`;
  if (tracked.has(key)) return;
  tracked.add(key);
  _registerCoroutineMethod(holder, name, `${owner}.${name}()`);
}

const modules: readonly Record<string, unknown>[] = [
  combinators,
  connections,
  datagramTransport,
  locks,
  networkEvents,
  pipeTransport,
  queues,
  resolver,
  sendfile,
  server,
  sockOps,
  sslproto,
  streams,
  baseSubprocess,
  subprocess,
  taskgroups,
  threads,
  timeouts,
  unixEvents,
];

for (const mod of modules) {
  for (const value of Object.values(mod)) {
    if (_isGeneratorFunction(value)) _markAwaitable(value.prototype as object);
    else if (typeof value === 'function' && typeof (value as { prototype?: unknown }).prototype === 'object') markClass(value as { prototype?: unknown });
  }
}

// sleep() returns objects of two private kinds (a timer coroutine, and the
// hand-written sleep(0)); making one of each starts nothing. They are simple
// enough to be driven without a Task of their own (inline).
_markAwaitable(Object.getPrototypeOf(sleep(1)) as object, true);
_markAwaitable(Object.getPrototypeOf(sleep(0)) as object, true);

// Methods that return coroutines without being generator functions
// themselves (hand-written coroutines, or a module's coroutine function
// called with the loop): tracked in debug mode too.
for (const name of ['read', 'readInto']) track(streams.StreamReader.prototype, name);
track(streams.StreamWriter.prototype, 'drain');
for (const cls of [locks.Lock, locks.Condition, locks.Semaphore]) track(cls.prototype, 'hold');
for (const name of Object.getOwnPropertyNames(networkEvents.NetworkEventLoop.prototype)) {
  if (/^(sock[A-Z]|create[A-Z]|connect[A-Z]|subprocess[A-Z]|getaddrinfo$|startTls$|sendfile$)/.test(name)) track(networkEvents.NetworkEventLoop.prototype, name);
}

// The import rules of src/, checked by `npm run lint` (dependency-cruiser).
// Type-only imports count: they are what makes the layers readable.
// See docs/ARCHITECTURE.md for the layers these rules describe.

// The loop core has no cycle: events.ts (the loop's contract, AbstractEventLoop,
// Handles) is its bottom and names Futures, Tasks and the loop's internals
// through interfaces it declares (FutureLike / TaskLike / LoopCore);
// futures.ts, async_tasks.ts, tasks.ts and base_events.ts import downward
// only. scripts/check-layers.mjs checks the half of that this graph cannot
// see (see there).
// The one cycle allowed:
// protocols.ts and transports.ts: a protocol's callbacks get its transport, a
// transport's getProtocol() returns its protocol. Interfaces only.
const PROTOCOL_CYCLE = '^src/(protocols|transports)[.]ts$';

// Everything the loop core is built from or is (no I/O beyond _poll).
const CORE = '^src/(errors|contextvars|arg_checks|deque|heap|coroutines|never_awaited|events|futures|tasks|async_tasks|base_events|microtasks|timer_heap|unretrieved|combinators|timeouts|taskgroups|locks|queues|loop_bound|debug|stacks)[.]ts$';
// Networking implementations: transports, servers, streams, sock* operations, the resolver.
const NETWORKING = '^src/(socket_transport|stream_transport|proactor_transport|transport_helpers|sslproto|datagram_transport|pipe_transport|write_buffer|connections|server|streams|stream_errors|chunk_queue|sock_ops|sendfile|resolver|network_events|selector_events|unix_events|threadsafe|subprocess|child_watcher|base_subprocess|spawn|signals|sigint|threads|thread_bridge|loop)[.]ts$';
// What the loop's contract (events.ts) names: interfaces, sockets, selectors and SSLContext.
const NETWORKING_TYPES = '^src/(transports|protocols|socket|selectors|ssl)[.]ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle (type imports included): only protocols/transports may refer to each other. Move the shared piece down a layer, or type against an interface declared below (events.ts: AbstractEventLoop, FutureLike, TaskLike, LoopCore).',
      from: { path: '^src/', pathNot: PROTOCOL_CYCLE },
      to: { circular: true },
    },
    {
      name: 'core-not-networking',
      severity: 'error',
      comment: 'The loop core must not depend on networking: networking is built on the core and typed against AbstractEventLoop.',
      from: { path: CORE },
      to: { path: NETWORKING },
    },
    {
      name: 'core-networking-types-only',
      severity: 'error',
      comment: 'The core may name the networking interfaces (in the loop contract), never import their code.',
      from: { path: CORE },
      to: { path: NETWORKING_TYPES, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'nothing-imports-index',
      severity: 'error',
      comment: 'index.ts is the public export list; modules import each other directly.',
      from: { path: '^src/', pathNot: '^src/index[.]ts$' },
      to: { path: '^src/index[.]ts$' },
    },
    {
      name: 'awaitables-only-from-index',
      severity: 'error',
      comment: 'awaitables.ts imports every module to mark its coroutine functions; only index.ts may import it.',
      from: { path: '^src/', pathNot: '^src/index[.]ts$' },
      to: { path: '^src/awaitables[.]ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};

// loop.getnameinfo and the flags / proto of getaddrinfo and of the functions
// that resolve (createConnection, createServer, createDatagramEndpoint), as
// asyncio takes them. Every test runs on every backend: the answers come
// from the resolver thread, which wakes each backend's loop.
import { describe, expect, test } from 'vitest';
import {
  AF_INET,
  AF_INET6,
  AI_ADDRCONFIG,
  AI_CANONNAME,
  AI_NUMERICHOST,
  AI_NUMERICSERV,
  AI_PASSIVE,
  AI_V4MAPPED,
  DatagramProtocolBase,
  IPPROTO_TCP,
  IPPROTO_UDP,
  NI_DGRAM,
  NI_NAMEREQD,
  NI_NOFQDN,
  NI_NUMERICHOST,
  NI_NUMERICSERV,
  ProtocolBase,
  SOCK_DGRAM,
  SOCK_STREAM,
} from '../src/index.js';
import type { InetAddress, Server } from '../src/index.js';
import { backends, useLoop } from './helpers.js';
import type { Co } from './helpers.js';

function failure(fn: () => unknown): unknown {
  try {
    fn();
  } catch (exc) {
    return exc;
  }
  throw new Error('expected a throw');
}

describe.each(backends)('getnameinfo (%s)', (backend) => {
  const t = useLoop(backend);

  test('a host and a port: the names from the resolver thread; numeric where the flags say', () => {
    const [named, numericHost, numericServ, both, fromAddress] = t.run(
      (function* (): Co<Array<[string, string]>> {
        return [
          yield* t.loop.getnameinfo(['127.0.0.1', 80]),
          yield* t.loop.getnameinfo(['127.0.0.1', 80], NI_NUMERICHOST),
          yield* t.loop.getnameinfo(['127.0.0.1', 80], NI_NUMERICSERV | NI_DGRAM),
          yield* t.loop.getnameinfo(['127.0.0.1', 80], NI_NUMERICHOST | NI_NUMERICSERV),
          yield* t.loop.getnameinfo({ address: '127.0.0.1', port: 8080 }, NI_NUMERICSERV),
        ];
      })(),
    );
    // 127.0.0.1 is "localhost" wherever /etc/hosts says so; port 80 is "http" in /etc/services.
    expect(named![0]).toMatch(/^(localhost|[\w.-]+)$/);
    expect(named![0]).not.toBe('127.0.0.1');
    expect(named![1]).toMatch(/^(http|www|80)$/);
    expect(numericHost).toEqual(['127.0.0.1', named![1]]);
    expect(numericServ).toEqual([named![0], '80']);
    expect(both).toEqual(['127.0.0.1', '80']);
    expect(fromAddress).toEqual([named![0], '8080']);
  });

  test('a host without a name: its numeric form, unless NI_NAMEREQD asks for a name', () => {
    const [plain, required] = t.run(
      (function* (): Co<unknown[]> {
        const plain = yield* t.loop.getnameinfo(['127.0.0.2', 80], NI_NUMERICSERV);
        let required: unknown;
        try {
          required = yield* t.loop.getnameinfo(['127.0.0.2', 80], NI_NAMEREQD | NI_NUMERICSERV);
        } catch (exc) {
          required = exc;
        }
        return [plain, required];
      })(),
    );
    const name = (plain as string[])[0];
    if (name === '127.0.0.2') {
      // No name here (the usual /etc/hosts): NI_NAMEREQD makes that an error.
      expect(required).toMatchObject({ code: 'ENOTFOUND' });
    } else {
      expect(required).toEqual([name, '80']);
    }
  });

  test('bad addresses and flags are refused at once, with what was expected', () => {
    expect(failure(() => t.loop.getnameinfo(['localhost', 80]).next())).toBeInstanceOf(TypeError);
    expect(failure(() => t.loop.getnameinfo(['127.0.0.1', 70000]).next())).toBeInstanceOf(RangeError);
    expect(failure(() => t.loop.getnameinfo('127.0.0.1' as never).next())).toBeInstanceOf(TypeError);
    expect(failure(() => t.loop.getnameinfo(['127.0.0.1', 80], 1.5).next())).toBeInstanceOf(TypeError);
    expect(failure(() => t.loop.getnameinfo(['127.0.0.1', 80], 0x10000).next())).toBeInstanceOf(RangeError);
    expect(String(failure(() => t.loop.getnameinfo(['127.0.0.1', 80], NI_NOFQDN).next()))).toMatch(/NI_NOFQDN is not supported/);
    expect(String(failure(() => t.loop.getnameinfo(['127.0.0.1', 80], NI_DGRAM).next()))).toMatch(/NI_DGRAM needs NI_NUMERICSERV/);
  });
});

describe.each(backends)('getaddrinfo flags and proto (%s)', (backend) => {
  const t = useLoop(backend);

  test('a null host: the loopback addresses, or with AI_PASSIVE any address', () => {
    const [loopback, passive, v4] = t.run(
      (function* (): Co<string[][]> {
        const hosts = (infos: Array<{ host: string }>): string[] => infos.map((i) => i.host);
        return [
          hosts(yield* t.loop.getaddrinfo(null, 80)),
          hosts(yield* t.loop.getaddrinfo(null, 80, { flags: AI_PASSIVE })),
          hosts(yield* t.loop.getaddrinfo('', 80, { family: AF_INET })),
        ];
      })(),
    );
    expect(loopback).toEqual(['::1', '127.0.0.1']);
    expect(passive).toEqual(['0.0.0.0', '::']);
    expect(v4).toEqual(['127.0.0.1']);
  });

  test('AI_NUMERICHOST refuses to look a name up; AI_V4MAPPED maps an IPv4 address asked for as IPv6', () => {
    const [refused, mapped, named] = t.run(
      (function* (): Co<unknown[]> {
        let refused: unknown;
        try {
          yield* t.loop.getaddrinfo('localhost', 80, { flags: AI_NUMERICHOST });
        } catch (exc) {
          refused = exc;
        }
        const mapped = yield* t.loop.getaddrinfo('127.0.0.1', 80, { family: AF_INET6, flags: AI_V4MAPPED | AI_NUMERICSERV });
        // The hints reach dns.lookup in the resolver thread.
        const named = yield* t.loop.getaddrinfo('localhost', 80, { family: AF_INET, flags: AI_ADDRCONFIG, proto: IPPROTO_TCP });
        return [refused, mapped, named];
      })(),
    );
    expect(refused).toMatchObject({ code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'localhost' });
    expect(mapped).toEqual([{ family: AF_INET6, type: SOCK_STREAM, host: '::ffff:127.0.0.1', port: 80 }]);
    expect(named).toContainEqual({ family: AF_INET, type: SOCK_STREAM, host: '127.0.0.1', port: 80 });
  });

  test('a proto that does not go with the type, AI_CANONNAME and unknown flags are refused', () => {
    expect(failure(() => t.loop.getaddrinfo('127.0.0.1', 80, { proto: IPPROTO_UDP }).next())).toMatchObject({ name: 'RangeError', code: 'EAI_SOCKTYPE' });
    expect(failure(() => t.loop.getaddrinfo('127.0.0.1', 80, { type: SOCK_DGRAM, proto: IPPROTO_TCP }).next())).toBeInstanceOf(RangeError);
    expect(failure(() => t.loop.getaddrinfo('127.0.0.1', 80, { proto: 'tcp' as never }).next())).toBeInstanceOf(TypeError);
    expect(String(failure(() => t.loop.getaddrinfo('127.0.0.1', 80, { flags: AI_CANONNAME }).next()))).toMatch(/AI_CANONNAME is not supported/);
    expect(failure(() => t.loop.getaddrinfo('127.0.0.1', 80, { flags: 1 << 20 }).next())).toBeInstanceOf(RangeError);
    // UDP with IPPROTO_UDP is fine.
    expect(t.run(t.loop.getaddrinfo('127.0.0.1', 53, { type: SOCK_DGRAM, proto: IPPROTO_UDP }))).toEqual([{ family: AF_INET, type: SOCK_DGRAM, host: '127.0.0.1', port: 53 }]);
  });

  test('createServer, createConnection and createDatagramEndpoint take flags and proto', () => {
    t.run(
      (function* (): Co<void> {
        // AI_NUMERICHOST: 'localhost' is refused before any socket is made.
        let refused: unknown;
        try {
          yield* t.loop.createServer(() => new ProtocolBase(), 'localhost', 0, { flags: AI_NUMERICHOST });
        } catch (exc) {
          refused = exc;
        }
        expect(refused).toMatchObject({ code: 'ENOTFOUND' });
        const server = (yield* t.loop.createServer(() => new ProtocolBase(), '127.0.0.1', 0, { proto: IPPROTO_TCP, flags: AI_PASSIVE | AI_NUMERICHOST })) as Server;
        const port = (server.sockets[0]!.getsockname() as InetAddress).port;
        const [transport] = yield* t.loop.createConnection(() => new ProtocolBase(), '127.0.0.1', port, { proto: IPPROTO_TCP, flags: AI_NUMERICHOST, localAddr: ['127.0.0.1', 0] });
        transport.close();
        let wrongProto: unknown;
        try {
          yield* t.loop.createConnection(() => new ProtocolBase(), '127.0.0.1', port, { proto: IPPROTO_UDP });
        } catch (exc) {
          wrongProto = exc;
        }
        expect(wrongProto).toMatchObject({ code: 'EAI_SOCKTYPE' });
        server.close();
        yield* server.waitClosed();
        const [dgram] = yield* t.loop.createDatagramEndpoint(() => new DatagramProtocolBase(), { localAddr: ['127.0.0.1', 0], proto: IPPROTO_UDP, flags: AI_NUMERICHOST });
        dgram.close();
        let dgramWrong: unknown;
        try {
          yield* t.loop.createDatagramEndpoint(() => new DatagramProtocolBase(), { localAddr: ['127.0.0.1', 0], proto: IPPROTO_TCP });
        } catch (exc) {
          dgramWrong = exc;
        }
        expect(dgramWrong).toBeInstanceOf(RangeError);
      })(),
    );
  });
});

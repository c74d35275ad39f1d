// Shared by the TLS tests: certificates made once per test file, contexts,
// an echo handler and child-process helpers.
import { afterAll } from 'vitest';
import { DEVNULL, PIPE, PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER, SSLContext, createSubprocessExec } from '../src/index.js';
import type { Process, Server, StreamReader, StreamWriter } from '../src/index.js';
import type { Co } from './helpers.js';
import { makeCerts } from './tls_certs.js';

export const certs = makeCerts();
afterAll(() => certs.remove());

export function serverContext(pair = certs.server): SSLContext {
  const ctx = new SSLContext(PROTOCOL_TLS_SERVER);
  ctx.loadCertChain(pair.cert, pair.key);
  return ctx;
}

export function clientContext(): SSLContext {
  const ctx = new SSLContext(PROTOCOL_TLS_CLIENT);
  ctx.loadVerifyLocations({ cafile: certs.ca.cert });
  return ctx;
}

export function portOf(server: Server): number {
  return (server.addresses()[0] as { port: number }).port;
}

/** An echo handler: lines back until EOF. */
export function* echo(reader: StreamReader, writer: StreamWriter): Co<void> {
  try {
    for (;;) {
      const data = yield* reader.read(65536);
      if (data.length === 0) break;
      writer.write(data);
      yield* writer.drain();
    }
  } catch {
    // a broken connection ends the handler
  } finally {
    writer.close();
  }
}

/** Read from a child's stdout until it matches re (or EOF). */
export function* readUntilMatch(p: Process, re: RegExp): Co<string> {
  let out = '';
  while (!re.test(out)) {
    const chunk = yield* p.stdout!.read(65536);
    if (chunk.length === 0) break;
    out += chunk.toString();
  }
  return out;
}

export function* finish(p: Process): Co<number> {
  if (p.returncode === null) {
    try {
      p.kill();
    } catch {
      // already gone
    }
  }
  return yield* p.wait();
}

/** Node's tls in a child process: the script gets PORT, CA, CERT, KEY in its environment. */
export function nodeChild(script: string, env: Record<string, string>): Co<Process> {
  return createSubprocessExec(process.execPath, ['-e', script], { stdin: PIPE, stdout: PIPE, stderr: DEVNULL, env: { ...process.env, ...env } as Record<string, string> });
}


"""Python asyncio / uvloop echo servers, at the protocol or the streams level.

    python3 bench/servers/py_asyncio.py --loop asyncio|uvloop --level protocol|streams
                                        [--cert CERT.pem --key KEY.pem]
                                        [--host 127.0.0.1] (--port N | --unix PATH)

protocol: data_received -> transport.write(data) (asyncio.Protocol).
streams:  data = await reader.read(256 KiB); writer.write(data); await writer.drain().
--cert/--key: the same over TLS (ssl.SSLContext(PROTOCOL_TLS_SERVER) passed as
ssl= to create_server / start_server: asyncio's sslproto, or uvloop's).

Same contract as every server in bench/servers/: prints "PID <pid>" and
"PORT <n>" once listening, "SKIP <reason>" (exit 3) when the loop is not
importable; exits 0 on SIGTERM/SIGINT and when stdin (a pipe) reaches EOF.
"""

import argparse
import asyncio
import os
import resource
import signal
import socket
import ssl
import stat
import sys

READ_SIZE = 256 * 1024


def set_nodelay(transport):
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class EchoProtocol(asyncio.Protocol):
    __slots__ = ("transport",)

    def connection_made(self, transport):
        set_nodelay(transport)
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def connection_lost(self, exc):
        self.transport = None


async def echo_streams(reader, writer):
    set_nodelay(writer.transport)
    try:
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main(args):
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def stop():
        if not done.done():
            done.set_result(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    mode = os.fstat(0).st_mode
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):  # harness gone -> stdin EOF

        def on_stdin():
            if not os.read(0, 4096):
                loop.remove_reader(0)
                stop()

        loop.add_reader(0, on_stdin)

    sslctx = None
    if args.cert:
        sslctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sslctx.load_cert_chain(args.cert, args.key)
    kw = {"backlog": 4096, "ssl": sslctx}
    if args.level == "protocol":
        if args.unix:
            server = await loop.create_unix_server(EchoProtocol, args.unix, **kw)
        else:
            server = await loop.create_server(EchoProtocol, args.host, args.port, **kw)
    else:
        if args.unix:
            server = await asyncio.start_unix_server(echo_streams, args.unix, **kw)
        else:
            server = await asyncio.start_server(echo_streams, args.host, args.port, **kw)

    port = 0 if args.unix else server.sockets[0].getsockname()[1]
    sys.stdout.write(f"PID {os.getpid()}\nPORT {port}\n")
    sys.stdout.flush()
    await done
    server.close()


def cli():
    p = argparse.ArgumentParser()
    p.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    p.add_argument("--level", choices=["protocol", "streams"], default="protocol")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--unix")
    p.add_argument("--cert", help="TLS: certificate chain (PEM); needs --key")
    p.add_argument("--key", help="TLS: private key (PEM)")
    args = p.parse_args()
    if bool(args.cert) != bool(args.key):
        p.error("--cert and --key go together")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.unix and os.path.exists(args.unix):
        os.unlink(args.unix)

    if args.loop == "uvloop":
        try:
            import uvloop
        except ImportError as e:
            sys.stdout.write(f"SKIP uvloop not importable by {sys.executable}: {e}\n")
            sys.stdout.flush()
            sys.exit(3)
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(main(args))
    # Skip teardown of the remaining connections and tasks: a benchmark
    # server that was told to stop should just stop.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    cli()

"""TCP client workloads against the dataplane's test services, run inside the namespace.

    tcp_client.py echo HOST BYTES            one connection; prints {"ok", "bytes", "seconds"}
    tcp_client.py sink HOST BYTES            SHA-256 of what we sent vs the server's answer
    tcp_client.py source HOST BYTES          SHA-256 of what we got vs the defined stream
    tcp_client.py concurrent HOST N BYTES    N connections at once, each echoes BYTES
    tcp_client.py refused HOST PORT          connect to a port nobody serves

Every run is bounded (socket timeouts, overall deadlines) and prints one JSON line.
The source stream is defined in dataplane/app/testsvc.h.
"""
import asyncio
import hashlib
import json
import os
import socket
import sys
import threading
import time

ECHO, SINK, SOURCE = 7, 9, 19
TIMEOUT = 60
BLOCK = 65536
BASE = bytes(((7 * k + 3 * (k >> 8) + 1) & 0xFF) for k in range(BLOCK))


def out(**kw):
    print(json.dumps(kw), flush=True)


def echo(host, n):
    data = os.urandom(min(n, 1 << 24))
    want = hashlib.sha256()
    got = hashlib.sha256()
    received = [0]
    s = socket.create_connection((host, ECHO), timeout=TIMEOUT)
    t0 = time.time()

    def reader():
        while received[0] < n:
            b = s.recv(1 << 20)
            if not b:
                break
            got.update(b)
            received[0] += len(b)

    t = threading.Thread(target=reader)
    t.start()
    sent = 0
    while sent < n:
        chunk = data[: min(len(data), n - sent)]
        s.sendall(chunk)
        want.update(chunk)
        sent += len(chunk)
    t.join(TIMEOUT * 4)
    s.close()
    out(ok=received[0] == n and got.hexdigest() == want.hexdigest(), bytes=received[0],
        seconds=round(time.time() - t0, 3))


def sink(host, n):
    chunk = os.urandom(1 << 20)
    h = hashlib.sha256()
    s = socket.create_connection((host, SINK), timeout=TIMEOUT)
    t0 = time.time()
    sent = 0
    while sent < n:
        c = chunk[: min(len(chunk), n - sent)]
        s.sendall(c)
        h.update(c)
        sent += len(c)
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        b = s.recv(256)
        if not b:
            break
        reply += b
    s.close()
    out(ok=reply.decode(errors="replace").strip() == h.hexdigest(), bytes=sent,
        seconds=round(time.time() - t0, 3), reply=reply[:80].decode(errors="replace"))


def source_sha(n):
    h = hashlib.sha256()
    off = 0
    while off < n:
        r = (off >> 16) & 0xFFFF
        take = min(BLOCK, n - off)
        h.update((BASE[r:] + BASE[:r])[:take])
        off += take
    return h.hexdigest()


def source(host, n):
    s = socket.create_connection((host, SOURCE), timeout=TIMEOUT)
    t0 = time.time()
    s.sendall(b"%d\n" % n)
    h = hashlib.sha256()
    got = 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        h.update(b)
        got += len(b)
    s.close()
    dt = time.time() - t0
    out(ok=got == n and h.hexdigest() == source_sha(n), bytes=got, seconds=round(dt, 3))


async def concurrent_main(host, n, size):
    failed = []

    async def one(sem):
        data = os.urandom(size)
        async with sem:
            r, w = await asyncio.wait_for(asyncio.open_connection(host, ECHO), TIMEOUT)
        w.write(data)
        try:
            got = await asyncio.wait_for(r.readexactly(size), TIMEOUT)
        except Exception as e:  # noqa: BLE001 - reported, not raised
            failed.append(type(e).__name__)
            w.close()
            return False
        w.close()
        return got == data

    sem = asyncio.Semaphore(200)  # bounds simultaneous connects, not open connections
    t0 = time.time()
    res = await asyncio.gather(*(one(sem) for _ in range(n)), return_exceptions=True)
    ok = sum(1 for r in res if r is True)
    errors = [type(r).__name__ for r in res if isinstance(r, Exception)] + failed
    out(ok=ok == n, completed=ok, n=n, seconds=round(time.time() - t0, 3), errors=errors[:10])


def refused(host, port):
    try:
        socket.create_connection((host, port), timeout=10).close()
        out(ok=False, error="connected")
    except ConnectionRefusedError:
        out(ok=True)
    except OSError as e:
        out(ok=False, error=repr(e))


def main(argv):
    cmd, host = argv[1], argv[2]
    if cmd == "echo":
        echo(host, int(argv[3]))
    elif cmd == "sink":
        sink(host, int(argv[3]))
    elif cmd == "source":
        source(host, int(argv[3]))
    elif cmd == "concurrent":
        asyncio.run(concurrent_main(host, int(argv[3]), int(argv[4])))
    elif cmd == "refused":
        refused(host, int(argv[3]))
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 16384), hard))
    main(sys.argv)

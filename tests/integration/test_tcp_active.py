"""Active open (sp_tcp_connect) against the kernel's TCP, through the relay test service.

A kernel client in the instance's namespace connects to the relay (port 1080, testsvc.h),
asks it to CONNECT to a kernel server on the namespace's side of the link (peer_ipv4), and
talks to that server through the dataplane: every byte crosses the userspace stack twice, once
on the passive connection and once on the active one the same worker opened. The instance has
two workers on a tap port (software steering), so each outbound connection only works if its
source port brings the answers back to the worker that opened it; per-worker counters check
that. The instance is started with tcp_syn_retries=1 so a connect nobody answers gives up in
about 3 s (SYN, resent after 1 s, give-up 2 s later). A scripted raw-frame peer (tcp_peer.py)
covers what the kernel will not do on demand: a simultaneous open, a SYN-ACK with a wrong ACK.
"""
import json
from pathlib import Path

import pytest

from harness import PY, SESSION_NAME, instance_down, instance_up

pytestmark = [pytest.mark.netns, pytest.mark.slow]

NAME = SESSION_NAME + "ao"
HERE = Path(__file__).resolve().parent  # tcp_peer.py
CONCURRENT = 40
CONCURRENT_BYTES = 256 << 10
BULK_BYTES = 32 << 20

# Runs in the instance's namespace: a kernel server on the peer address (bounded lifetime,
# daemon threads) and relay clients; prints one JSON line.
#   concurrent N BYTES   N relays at once to an echo server, BYTES each way, byte-exact
#   bulk BYTES           one relay to an echo server, SHA-256 of each direction; the first
#                        64 KiB go out with the CONNECT line, before the relay's OK
#   refused              CONNECT to a bound port nobody listens on
#   timeout ADDR         CONNECT to an address that does not answer ARP
#   halfclose BYTES      the client shuts its write side; the server answers after EOF
#   reset                the server resets the connection; the client must see a reset
#   pieces               the CONNECT line one byte a segment, data in the last one's segment
#   malformed            bad request lines and an address off the subnet
CLIENT = r"""
import hashlib, json, os, socket, struct, sys, threading, time
mode, dp, peer = sys.argv[1], sys.argv[2], sys.argv[3]
args = sys.argv[4:]
RELAY, T = 1080, 20
t0 = time.time()

def out(**kw):
    kw["seconds"] = round(time.time() - t0, 3)
    print(json.dumps(kw), flush=True)

def serve_echo(s):
    while True:
        b = s.recv(1 << 20)
        if not b:
            return
        s.sendall(b)

def serve_count(s):
    h, n = hashlib.sha256(), 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    s.sendall(b"%d %s\n" % (n, h.hexdigest().encode()))

def serve_reset(s):
    s.recv(1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

def server(fn, lifetime=40):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((peer, 0))
    ls.listen(256)
    ls.settimeout(0.5)
    deadline = time.time() + lifetime

    def one(s):
        s.settimeout(T)
        try:
            fn(s)
        except OSError:
            pass
        finally:
            s.close()

    def loop():
        while time.time() < deadline:
            try:
                s, _ = ls.accept()
            except socket.timeout:
                continue
            threading.Thread(target=one, args=(s,), daemon=True).start()
        ls.close()

    threading.Thread(target=loop, daemon=True).start()
    return ls.getsockname()[1]

def line(s):
    b = b""
    while not b.endswith(b"\n") and len(b) < 80:
        c = s.recv(1)
        if not c:
            break
        b += c
    return b.decode(errors="replace")

def relay(host, port, extra=b""):
    s = socket.create_connection((dp, RELAY), timeout=T)
    s.sendall(b"CONNECT %s %d\n" % (host.encode(), port) + extra)
    return s

def read_all(s):
    b = b""
    while True:
        c = s.recv(1 << 16)
        if not c:
            return b
        b += c

def echo_one(port, size, res):
    data = os.urandom(size)
    try:
        s = relay(peer, port)
        ok = line(s)
        if ok != "OK\n":
            res.append("answer %r" % ok)
            return
        w = threading.Thread(target=s.sendall, args=(data,), daemon=True)
        w.start()
        got = bytearray()
        while len(got) < size:
            b = s.recv(1 << 20)
            if not b:
                break
            got += b
        w.join(T)
        s.shutdown(socket.SHUT_WR)
        tail = read_all(s)
        s.close()
        ok = got == data and tail == b""
        res.append(True if ok else "mismatch %d %d" % (len(got), len(tail)))
    except OSError as e:
        res.append(repr(e))

if mode == "concurrent":
    n, size = int(args[0]), int(args[1])
    port = server(serve_echo)
    res = []
    ts = [threading.Thread(target=echo_one, args=(port, size, res)) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(4 * T)
    bad = [r for r in res if r is not True]
    out(ok=len(res) == n and not bad, completed=len(res) - len(bad), n=n, errors=bad[:5])
elif mode == "bulk":
    size = int(args[0])
    port = server(serve_echo)
    data = os.urandom(1 << 20)
    first = data[:65536]
    s = relay(peer, port, first)  # held by the relay until its connect completes
    answer = line(s)
    sent_h, got_h, got = hashlib.sha256(first), hashlib.sha256(), [0]

    def reader():
        while True:
            b = s.recv(1 << 20)
            if not b:
                return
            got_h.update(b)
            got[0] += len(b)

    r = threading.Thread(target=reader, daemon=True)
    r.start()
    sent = len(first)
    while sent < size:
        c = data[: min(len(data), size - sent)]
        s.sendall(c)
        sent_h.update(c)
        sent += len(c)
    s.shutdown(socket.SHUT_WR)
    r.join(60)
    s.close()
    out(ok=answer == "OK\n" and got[0] == size and got_h.hexdigest() == sent_h.hexdigest(),
        answer=answer, bytes=got[0], sha_sent=sent_h.hexdigest(), sha_got=got_h.hexdigest())
elif mode == "refused":
    b = socket.socket()
    b.bind((peer, 0))  # bound, never listening: the kernel answers a SYN with a RST
    s = relay(peer, b.getsockname()[1])
    answer = line(s)
    rest = read_all(s)
    out(ok=answer == "ERR refused\n" and rest == b"", answer=answer)
elif mode == "timeout":
    s = relay(args[0], 80)
    answer = line(s)
    rest = read_all(s)
    out(ok=answer == "ERR timeout\n" and rest == b"", answer=answer)
elif mode == "halfclose":
    size = int(args[0])
    port = server(serve_count)
    data = os.urandom(size)
    s = relay(peer, port)
    answer = line(s)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    reply = read_all(s).decode(errors="replace")  # the server answers only after our EOF
    s.close()
    want = "%d %s\n" % (size, hashlib.sha256(data).hexdigest())
    out(ok=answer == "OK\n" and reply == want, answer=answer, reply=reply, want=want)
elif mode == "reset":
    port = server(serve_reset)
    s = relay(peer, port)
    answer = line(s)
    s.sendall(b"x")
    try:
        rest = read_all(s)
        out(ok=False, answer=answer, error="EOF instead of a reset", rest=len(rest))
    except ConnectionResetError:
        out(ok=answer == "OK\n", answer=answer)
elif mode == "pieces":
    port = server(serve_echo)
    data = os.urandom(3000)
    s = socket.create_connection((dp, RELAY), timeout=T)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req = b"CONNECT %s %d\n" % (peer.encode(), port)
    for i in range(len(req) - 1):
        s.sendall(req[i:i + 1])
        time.sleep(0.002)
    s.sendall(req[-1:] + data)
    answer = line(s)
    got = b""
    while len(got) < len(data):
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    out(ok=answer == "OK\n" and got == data, answer=answer, bytes=len(got))
elif mode == "malformed":
    cases = [(b"HELLO\n", "ERR usage: CONNECT a.b.c.d port\n"),
             (b"CONNECT 1.2.3 80\n", "ERR usage: CONNECT a.b.c.d port\n"),
             (b"CONNECT %s 0\n" % peer.encode(), "ERR usage: CONNECT a.b.c.d port\n"),
             (b"CONNECT %s 65536\n" % peer.encode(), "ERR usage: CONNECT a.b.c.d port\n"),
             (b"CONNECT 256.1.1.1 80\n", "ERR usage: CONNECT a.b.c.d port\n"),
             (b"X" * 100, "ERR line too long\n"),
             (b"CONNECT 8.8.8.8 80\n", "ERR Network is unreachable\n")]
    got = []
    for req, want in cases:
        s = socket.create_connection((dp, RELAY), timeout=T)
        s.sendall(req)
        answer = line(s)
        rest = read_all(s)
        s.close()
        got.append([req[:40].decode(), answer, answer == want and rest == b""])
    s = socket.create_connection((dp, RELAY), timeout=T)  # half-close before the newline
    s.sendall(b"CONNECT 1")
    s.shutdown(socket.SHUT_WR)
    answer = line(s)
    got.append(["incomplete", answer, answer == "ERR incomplete request\n"])
    out(ok=all(g[2] for g in got), cases=got)
else:
    raise SystemExit("unknown mode " + mode)
"""

# Runs in the instance's namespace: a scripted peer (tcp_peer.Peer, raw frames) at PEER:5555,
# an address the kernel does not own, that the relay is asked to CONNECT to. The segment the
# dataplane's SYN meets:
#   simopen   a SYN of the peer's own (simultaneous open, RFC 9293 3.5): the dataplane must
#             answer SYN-ACK, and take the peer's ACK as the end of its handshake;
#   badack    a SYN-ACK acknowledging something never sent: the dataplane must answer RST
#             (seq = that ACK) and stay in SYN-SENT; then the right SYN-ACK establishes.
# Then data both ways through the relay and a FIN. Prints one JSON line.
RAW_PEER = r"""
import json, socket, struct, sys, time
mode, iface, dp_ip, dp_mac, peer_ip, here = sys.argv[1:7]
sys.path.insert(0, here)
import tcp_peer as TP
P = TP.Peer({"iface": iface, "src_mac": "02:00:00:00:77:01", "dst_mac": dp_mac,
             "src_ip": peer_ip, "dst_ip": dp_ip, "sport": 5555, "dport": 0, "isn": 777000,
             "mss": 1460, "wscale": 7, "sack": True, "ts": True, "win": 65535})
log = []
def wait_syn(deadline):
    while time.monotonic() < deadline:
        r, _, _ = TP.select.select([P.s], [], [], 0.1)
        if not r: continue
        pkt, addr = P.s.recvfrom(65535)
        if addr[2] == TP.PACKET_OUTGOING: continue
        et = struct.unpack("!H", pkt[12:14])[0]
        if et == TP.ETH_P_ARP:
            P.maybe_arp(pkt); continue
        ip = pkt[14:]
        if et != TP.ETH_P_IP or ip[9] != 6 or ip[16:20] != TP.ip_b(peer_ip): continue
        ihl = (ip[0] & 15) * 4; tcp = ip[ihl:]
        sp, dpt, seq, ack, off, fl, win = struct.unpack("!HHIIBBH", tcp[:16])
        if dpt == 5555 and fl & TP.SYN:
            return sp, seq, TP.parse_opts(tcp[20:(off >> 4) * 4])
    return None
res = {"mode": mode}
c = socket.create_connection((dp_ip, 1080), timeout=10)
c.sendall(b"CONNECT %s 5555\n" % peer_ip.encode())
syn = wait_syn(time.monotonic() + 5)
assert syn, "no SYN from the dataplane"
P.dport, iss, o = syn
P.irs = iss; P.rcv_nxt = (iss + 1) & TP.M32; P.ts_recent = o["ts"][0]; P.ts_ok = True
P.peer_ws = o.get("ws", 0)
res["syn_opts"] = o
def syn_opts(ecr):
    return (struct.pack("!BBH", 2, 4, 1460) + b"\x04\x02\x08\x0a" +
            struct.pack("!II", P.tsval_now(), ecr) + b"\x01\x03\x03\x07")
if mode == "simopen":
    P.xmit(P.isn, 0, TP.SYN, 65535, syn_opts(0))  # our own SYN: a simultaneous open
    P.snd_nxt = (P.isn + 1) & TP.M32
    seg = P.read_seg(time.monotonic() + 3)
    res["answer"] = seg and {"flags": seg["flags"], "seq": seg["seq"] - iss,
                             "ack": seg["ack"] - P.isn}
    P.send_ack()
elif mode == "badack":
    P.xmit(P.isn, iss + 1000, TP.SYN | TP.ACK, 65535, syn_opts(P.ts_recent))
    seg = P.read_seg(time.monotonic() + 3)
    res["rst"] = seg and {"flags": seg["flags"], "seq": seg["seq"] - iss}
    P.xmit(P.isn, iss + 1, TP.SYN | TP.ACK, 65535, syn_opts(P.ts_recent))
    P.snd_nxt = (P.isn + 1) & TP.M32
    seg = P.read_seg(time.monotonic() + 3)
    res["answer"] = seg and {"flags": seg["flags"], "seq": seg["seq"] - iss,
                             "ack": seg["ack"] - P.isn}
res["client_line"] = c.recv(3).decode(errors="replace")
# data: peer -> client, client -> peer
P.op_send({"data": b"hello from peer".hex(), "flags": "PA"})
got = b""
c.settimeout(5)
while len(got) < 15:
    b = c.recv(100)
    if not b: break
    got += b
res["client_got"] = got.decode(errors="replace")
c.sendall(b"hello from client")
r = P.op_recv({"timeout": 3, "bytes": 17, "autoack": True, "brief": True})
res["peer_got"] = bytes(P.rx).decode(errors="replace")
c.close()
r = P.op_recv({"timeout": 2, "fin": True, "autoack": True, "brief": True})
res["fin"] = P.fin_rcvd
P.op_send({"flags": "FA"})  # our FIN too: the relay then closes the client side
r = P.op_recv({"timeout": 2, "segs": 1, "autoack": True, "brief": True})
res["fin_acked"] = any(g["ack"] == P.snd_nxt for g in r["segs"])
res["ok"] = (res["client_line"] == "OK\n" and res["client_got"] == "hello from peer"
             and res["peer_got"] == "hello from client" and res["fin"] and res["fin_acked"])
print(json.dumps(res))
"""


@pytest.fixture(scope="module")
def inst():
    instance_down(NAME, purge=True)
    try:
        yield instance_up(NAME, 2, "--set", "test_services=true", "--set", "tcp_syn_retries=1")
    finally:
        instance_down(NAME, purge=True)


def client(inst, *args, timeout=60):
    p = inst.exec(PY, "-c", CLIENT, *args, timeout=timeout, check=False)
    assert p.returncode == 0, "relay client %s failed (%d):\n%s" % (args, p.returncode, p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def per_worker(inst):
    return [w["counters"] for w in inst.dataplane()["workers"]]


def worker_deltas(inst, before, keys):
    return [{k: a[k] - b[k] for k in keys} for a, b in zip(per_worker(inst), before)]


def test_concurrent_relays_each_come_back_to_their_worker(inst):
    keys = ("tcp_passive_opens", "tcp_active_opens", "tcp_connects", "tcp_attempt_fails",
            "testsvc_relays", "testsvc_relay_fails")
    before = per_worker(inst)
    r = client(inst, "concurrent", inst.ipv4, inst.peer_ipv4, CONCURRENT, CONCURRENT_BYTES)
    assert r["ok"], r
    d = worker_deltas(inst, before, keys)
    assert sum(w["tcp_active_opens"] for w in d) == CONCURRENT, d
    for w in d:
        # The client's connection lands on the worker its 4-tuple hashes to; that worker opens
        # the outbound connection and, since the SYN-ACK came back to it, completes it.
        assert w["tcp_active_opens"] > 0, d  # both workers: 2^-39 odds against, by chance
        assert w["tcp_active_opens"] == w["tcp_connects"] == w["testsvc_relays"], d
        assert w["tcp_passive_opens"] == w["tcp_active_opens"], d
        assert w["tcp_attempt_fails"] == 0 and w["testsvc_relay_fails"] == 0, d


def test_bulk_32mib_sha256(inst):
    r = client(inst, "bulk", inst.ipv4, inst.peer_ipv4, BULK_BYTES)
    assert r["ok"], r


def test_connect_refused(inst):
    base = inst.counters()
    r = client(inst, "refused", inst.ipv4, inst.peer_ipv4)
    assert r["ok"], r
    c = inst.counters()
    assert c["tcp_attempt_fails"] - base["tcp_attempt_fails"] == 1, c
    assert c["tcp_connects"] == base["tcp_connects"]


def test_connect_timeout(inst):
    absent = inst.ipv4.rsplit(".", 1)[0] + ".99"
    base = inst.counters()
    r = client(inst, "timeout", inst.ipv4, inst.peer_ipv4, absent, timeout=30)
    assert r["ok"], r
    # SYN, one resend after 1 s, give-up 2 s later: about 3 s (the bound allows a slow host)
    assert 2.5 <= r["seconds"] <= 10, r
    c = inst.counters()
    assert c["tcp_conn_timeouts"] - base["tcp_conn_timeouts"] == 1, c
    assert c["tcp_retrans_segs"] - base["tcp_retrans_segs"] >= 1, c


def test_half_close(inst):
    r = client(inst, "halfclose", inst.ipv4, inst.peer_ipv4, 300000)
    assert r["ok"], r


def test_reset_propagates(inst):
    r = client(inst, "reset", inst.ipv4, inst.peer_ipv4)
    assert r["ok"], r


def test_request_line_in_pieces(inst):
    r = client(inst, "pieces", inst.ipv4, inst.peer_ipv4)
    assert r["ok"], r


def test_malformed_requests(inst):
    r = client(inst, "malformed", inst.ipv4, inst.peer_ipv4)
    assert r["ok"], r


@pytest.mark.parametrize("mode", ["simopen", "badack"])
def test_scripted_peer(inst, mode):
    base = inst.counters()
    peer = inst.ipv4.rsplit(".", 1)[0] + ".77"
    p = inst.exec(PY, "-c", RAW_PEER, mode, inst.iface, inst.ipv4, inst.mac(), peer, HERE,
                  timeout=60, check=False)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["ok"], r
    if mode == "simopen":
        assert r["answer"] == {"flags": "SA", "seq": 0, "ack": 1}, r
    else:
        assert r["rst"] == {"flags": "R", "seq": 1000}, r
        assert r["answer"] == {"flags": "A", "seq": 1, "ack": 1}, r
    c = inst.counters()
    d = {k: c[k] - base[k] for k in ("tcp_active_opens", "tcp_connects", "tcp_passive_opens",
                                     "tcp_accepts", "tcp_drop_bad_ack")}
    # one passive open (the client's), one active open; the simultaneous open is no accept
    assert d == {"tcp_active_opens": 1, "tcp_connects": 1, "tcp_passive_opens": 1,
                 "tcp_accepts": 1, "tcp_drop_bad_ack": int(mode == "badack")}, d


def test_relays_end_cleanly(inst):
    """Every connection above is gone or in TIME-WAIT, and no relay slot or TCB leaked."""
    import time
    deadline = time.time() + 20
    while time.time() < deadline:
        st = {k: v for k, v in inst.dataplane()["tcp"]["states"].items()
              if v and k != "TIME-WAIT"}
        if not st:
            break
        time.sleep(0.5)
    assert not st, inst.dataplane()["tcp"]

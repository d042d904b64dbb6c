"""Software flow steering on a port without confirmed RSS (net_tap here; docs/DESIGN.md,
"Ports, queues and RSS"). The kernel spreads the tap's flows over the two queues by its own
hash; the dataplane's receiving worker hands each TCP/UDP packet to the worker that
sp_rss_owner_ipv4() names (symmetric Toeplitz over the 4-tuple, default RETA), so each
connection lives, whole, on that worker. Checked with per-worker counters: every connection is
accepted by the worker the hash names, no segment ever reaches a worker without its TCB (that
would be answered by RST or refused as listener-less), and hand-offs are counted.
"""
import random
import socket
import struct

import pytest

from harness import PY

pytestmark = pytest.mark.netns

SYM_KEY = bytes([0x6d, 0x5a] * 20)
RETA_SIZE = 128
CONNS = 64

# Runs in the instance's namespace: CONNS echo round trips, each from a chosen source port.
CLIENT = r"""
import socket, sys
dst, base, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
msg = bytes(range(256)) * 8
for i in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", base + i))
    s.settimeout(10)
    s.connect((dst, 7))
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        chunk = s.recv(65536)
        assert chunk, "closed early"
        got += chunk
    assert got == msg
    s.close()
print("ok")
"""


def toeplitz(key, data):
    """The Microsoft RSS hash, bit by bit (as dataplane/net/rss.c sp_rss_toeplitz)."""
    k = int.from_bytes(key, "big")
    klen = len(key) * 8
    h = 0
    for i, byte in enumerate(data):
        for b in range(8):
            if byte & (0x80 >> b):
                bit = i * 8 + b
                h ^= (k >> (klen - 32 - bit)) & 0xffffffff
    return h


def owner(src, dst, sport, dport, workers):
    data = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return (toeplitz(SYM_KEY, data) & (RETA_SIZE - 1)) % workers


def per_worker(instance):
    return [w["counters"] for w in instance.dataplane()["workers"]]


def test_toeplitz_reference():
    # Microsoft's RSS verification vector (IPv4 with TCP ports), key of the spec.
    key = bytes.fromhex("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c"
                        "6a42b73bbeac01fa")
    data = (socket.inet_aton("66.9.149.187") + socket.inet_aton("161.142.100.80") +
            struct.pack("!HH", 2794, 1766))
    assert toeplitz(key, data) == 0x51ccc178
    # The symmetric key hashes both directions alike.
    assert owner("198.18.0.1", "198.18.0.2", 40000, 7, 2) == \
        owner("198.18.0.2", "198.18.0.1", 7, 40000, 2)


def test_tap_port_is_steered(instance):
    if instance.workers < 2:
        pytest.skip("steering needs two workers")
    port = instance.port0()
    assert port["rss"] is False, port
    assert port["steering"] is True, port
    assert "steer_out" in instance.counters()


def test_each_connection_lives_on_its_owner_worker(instance):
    nw = instance.workers
    if nw < 2:
        pytest.skip("steering needs two workers")
    base_port = random.randrange(20000, 60000 - CONNS)
    want = [0] * nw
    for i in range(CONNS):
        want[owner(instance.peer_ipv4, instance.ipv4, base_port + i, 7, nw)] += 1
    assert all(want), want
    before = per_worker(instance)
    p = instance.exec(PY, "-c", CLIENT, instance.ipv4, base_port, CONNS, timeout=120,
                      check=False)
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr
    keys = ("tcp_accepts", "tcp_closed_normal", "tcp_passive_opens")
    instance.wait_counters({k: sum(w[k] for w in before) for k in keys},
                           {k: CONNS for k in keys}, timeout=30)
    after = per_worker(instance)
    delta = [{k: a[k] - b[k] for k in a} for a, b in zip(after, before)]
    for w in range(nw):
        # Each connection is opened, accepted and closed by the worker the hash names.
        assert delta[w]["tcp_passive_opens"] == want[w], (w, want, delta[w])
        assert delta[w]["tcp_accepts"] == want[w], (w, want, delta[w])
        assert delta[w]["tcp_closed_normal"] == want[w], (w, want, delta[w])
        # No connection failed or was refused, and no hand-off was dropped. (tcp_out_rsts may
        # move: the tap moves a flow to the queue we last sent it on only after delivering
        # our SYN-ACK, so the handshake's pure ACK can take the old queue and a hand-off, and
        # reach the owner after the connection closed: it is then answered by RST.)
        for k in ("tcp_drop_no_listener", "tcp_attempt_fails", "tcp_estab_resets",
                  "tcp_aborts", "steer_drop_full"):
            assert delta[w][k] == 0, (w, k, {k: v for k, v in delta[w].items() if v})
    out = sum(d["steer_out"] for d in delta)
    assert out == sum(d["steer_in"] for d in delta), delta
    # The kernel's queue choice is not the Toeplitz one for about half the flows.
    assert out > 0, delta

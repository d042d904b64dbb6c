"""Edge cases of the userspace TCP stack, driven by a scripted peer (tcp_peer.py).

The peer runs inside the instance's namespace and speaks TCP itself over a raw socket on the
kernel side of the tap, from an address the kernel does not own (198.18.S.10) and a random
locally administered MAC, so every segment is chosen by the test: ISN, options, sequence and
acknowledgment numbers, timestamps, windows. Each test talks to the echo service (port 7) on
its own source port, asserts on the dataplane's replies (seq/ack/flags/window/options) and on
its counters, and resets its connection at the end.

References: RFC 9293 3.10.7 (segment arrival), RFC 5961 (challenge ACKs: 3.2 RST, 4.2 SYN,
5.2 ACK), RFC 7323 (window scale 2, timestamps 3-4, PAWS 5), RFC 2018 (SACK), RFC 6298 (RTO),
RFC 9293 3.8.6.1 (zero-window probing).
"""
import json
import queue
import random
import subprocess
import threading
from pathlib import Path

import pytest

from harness import PY, SPATE_DEV

pytestmark = pytest.mark.netns

TCP_PEER = Path(__file__).resolve().parent / "tcp_peer.py"
ECHO = 7
M32 = 0xFFFFFFFF
CMD_TIMEOUT_S = 15
SEG_MAX = 1448  # our MSS (1460) less the timestamp option
# A fresh block of source ports per run, so re-runs against one instance (--instance) never
# meet a connection of an earlier run in TIME-WAIT.
PORT_BASE = random.randrange(10000, 40000, 1000)
PORTS_PER_TEST = 40  # a test may open several connections (connect_iss)


def rel(a, b):
    """a - b in sequence space, as a signed number."""
    d = (a - b) & M32
    return d - (1 << 32) if d & 0x80000000 else d


def rand_mac():
    b = [random.randrange(256) for _ in range(6)]
    b[0] = (b[0] & 0xFC) | 0x02  # locally administered, unicast
    return ":".join("%02x" % x for x in b)


def payload(n, salt=0):
    return bytes((i * 31 + salt * 7 + 5) & 0xFF for i in range(n))


class Peer:
    """Drives one tcp_peer.py process (one connection) line by line."""

    def __init__(self, instance, sport, **cfg):
        self.instance = instance
        self.sport = sport
        self.cfg = dict(iface=instance.iface, src_mac=rand_mac(), dst_mac=instance.mac(),
                        src_ip="198.18.%d.10" % instance.slot, dst_ip=instance.ipv4,
                        sport=sport, dport=ECHO, isn=random.randrange(1 << 32), mss=1460,
                        wscale=7, sack=True, ts=True, win=65535)
        self.cfg.update(cfg)
        self.p = subprocess.Popen(["bash", str(SPATE_DEV), "exec", instance.name, "--", PY,
                                   str(TCP_PEER)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  bufsize=1)
        self.lines = queue.Queue()
        self.err = []
        threading.Thread(target=self._pump, args=(self.p.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()
        self.connected = False
        self.log = []
        self._write(self.cfg)
        r = self._read(CMD_TIMEOUT_S)
        assert r.get("ready"), r

    @staticmethod
    def _pump(f, q):
        for line in f:
            q.put(line)
        q.put(None)

    def _pump_err(self):
        for line in self.p.stderr:
            self.err.append(line)

    def _write(self, obj):
        self.p.stdin.write(json.dumps(obj) + "\n")
        self.p.stdin.flush()

    def _read(self, timeout):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("tcp_peer silent for %ss; stderr: %s" %
                                 (timeout, "".join(self.err)[-2000:])) from None
        if line is None:
            raise AssertionError("tcp_peer exited (%s); stderr: %s" %
                                 (self.p.poll(), "".join(self.err)[-2000:]))
        return json.loads(line)

    def cmd(self, op, **kw):
        kw["op"] = op
        self._write(kw)
        r = self._read(CMD_TIMEOUT_S + float(kw.get("timeout", 0)))
        assert "error" not in r, "tcp_peer %s: %s" % (kw, r["error"])
        self.log.append((kw, r))
        return r

    # -- conveniences -----------------------------------------------------------------------
    def connect(self, **kw):
        r = self.cmd("connect", **kw)
        assert r["synack"] is not None, "no SYN-ACK to our SYN (port %d)" % self.sport
        self.connected = True
        return r

    def send(self, **kw):
        return self.cmd("send", **kw)["sent"]

    def recv(self, **kw):
        return self.cmd("recv", **kw)

    def state(self, rx=False):
        return self.cmd("state", rx=rx)

    def echo(self, data, timeout=3, settle=0.1):
        """Send data (in segments of at most SEG_MAX bytes), collect the echo, acknowledging
        it, then listen settle seconds more so a trailing pure ACK of the dataplane (see
        test_no_redundant_delayed_ack) cannot land in the caller's next observation."""
        st = self.state()
        for off in range(0, len(data), SEG_MAX):
            self.send(flags="PA", data=data[off:off + SEG_MAX].hex())
        r = self.recv(bytes=len(data), bytes_base=st["rx_total"], timeout=timeout, autoack=True)
        assert r["met"], "echo of %d bytes incomplete: %s" % (len(data), r)
        got = bytes.fromhex(self.state(rx=True)["rx"])[st["rx_total"]:]
        assert got == data, "echo differs: sent %r..., got %r..." % (data[:32], got[:32])
        if settle:
            extra = self.recv(timeout=settle, autoack=True)
            r["segs"] += extra["segs"]
        return r

    def close(self):
        try:
            if self.connected and self.p.poll() is None:
                self.cmd("send", flags="R", advance=False)  # seq = snd_nxt: exact RST
        except AssertionError:
            pass
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()  # only the process we started (by its handle)
            self.p.wait(timeout=10)


@pytest.fixture
def peer(instance):
    peers = []

    def make(index, attempt=0, **cfg):
        assert 0 <= attempt < PORTS_PER_TEST
        p = Peer(instance, PORT_BASE + index * PORTS_PER_TEST + attempt, **cfg)
        peers.append(p)
        return p

    yield make
    for p in peers:
        p.close()


def connect_iss(peer, index, high, **cfg):
    """Open connections (new source port each) until the dataplane's ISS lies in the upper
    (high) or lower half of the sequence space, far from the wrap; return (peer, connect)."""
    for attempt in range(PORTS_PER_TEST):
        p = peer(index, attempt=attempt, **cfg)
        r = p.connect()
        iss = r["synack"]["seq"]
        lo = (1 << 31) if high else 1
        if lo <= iss < lo + (1 << 31) - (1 << 20):
            return p, r
        p.close()
    raise AssertionError("no ISS in the %s half in %d connections" %
                         ("upper" if high else "lower", PORTS_PER_TEST))


def deltas(instance, base, names):
    c = instance.counters()
    return {n: c[n] - base[n] for n in names}


def data_segs(segs):
    return [s for s in segs if s["len"] > 0]


def probe_segs(segs, una):
    """Zero-window probes (RFC 9293 3.8.6.1) in either accepted form: one octet at SND.UNA,
    or (as Linux and the dataplane send) an empty ACK carrying the old sequence SND.UNA - 1."""
    return [s for s in segs
            if (s["len"] == 1 and s["seq"] == una) or
            (s["len"] == 0 and s["seq"] == (una - 1) & 0xFFFFFFFF and "S" not in s["flags"])]


# ----------------------------------------------------------------------------------------------
def test_handshake_options_window_scale_and_echo(instance, peer):
    """SYN with MSS/SACK-perm/TS/WS; the SYN-ACK answers them; data is echoed with the right
    seq/ack across the 2^32 wrap; both directions scale their windows (RFC 7323 2)."""
    isn = 0xFFFFFFF0  # our sequence numbers wrap during the test
    p = peer(1, isn=isn, wscale=7, win=4)  # 4 << 7 = 512 bytes after the handshake
    base = instance.counters()
    r = p.connect()
    syn, synack = r["sent"][0], r["synack"]
    o = synack["opts"]
    assert synack["flags"] == "SA", synack
    assert synack["ack"] == (isn + 1) & M32, synack
    assert o.get("mss") == 1460, o
    assert o.get("sack_perm"), o
    assert "ts" in o and o["ts"][1] == syn["tsval"], ("TS must echo our TSval", syn, o)
    assert "ws" in o and 0 <= o["ws"] <= 14, o
    assert 0 < synack["win"] <= 65535, synack  # a SYN's window is never scaled
    ws = o["ws"]
    iss = synack["seq"]
    instance.wait_counters(base, {"tcp_passive_opens": 1, "tcp_accepts": 1})

    # 1000 bytes against our 512-byte window: exactly 512 come back before we open it. A stack
    # that ignored our shift would send 4 bytes; one that ignored the window, 1000.
    data = payload(1000)
    sent = p.send(flags="PA", data=data.hex())
    r = p.recv(timeout=0.6)  # the RTO (1 s: no RTT sample yet) would resend the same bytes
    segs = data_segs(r["segs"])
    assert segs, "no echo at all: %s" % r
    first = segs[0]
    assert first["seq"] == (iss + 1) & M32, first
    assert first["ack"] == (isn + 1 + 1000) & M32, first
    assert "ts" in first["opts"] and first["opts"]["ts"][1] == sent["tsval"], first
    right = max(rel(s["seq"] + s["len"], iss + 1) for s in segs)
    assert right == 512, \
        "peer window 4<<7=512 bytes: got %s" % [(s["t"], s["rseq"], s["len"]) for s in segs]
    # our receive window, scaled by the shift the SYN-ACK announced, exceeds 64 KiB
    scaled = first["win"] << ws
    assert ws > 0 and scaled > 65535, ("window not scaled", ws, first["win"])

    # open our window: the rest follows, in order
    p.cmd("set", win=65535)
    p.send(flags="A")
    r = p.recv(bytes=1000, timeout=3, autoack=True)
    assert r["met"], r
    assert bytes.fromhex(p.state(rx=True)["rx"]) == data
    for s in data_segs(r["segs"]):
        assert s["ack"] == (isn + 1 + 1000) & M32, s
        assert s["len"] <= 1460 - 12, s  # MSS less the timestamp option (RFC 6691)
    p.echo(payload(3000, 1))  # a few full segments each way, across the wrap of our seq


def test_rst_in_window_gets_challenge_ack(instance, peer):
    """RFC 5961 3.2: a RST in the window but not at RCV.NXT is answered by a challenge ACK and
    the connection survives."""
    p = peer(2)
    p.connect()
    p.echo(b"before")
    st = p.state()
    base = instance.counters()
    p.send(flags="R", seq_off=100, ts=False)
    r = p.recv(segs=1, timeout=2)
    assert r["segs"], "no challenge ACK to an in-window RST"
    a = r["segs"][0]
    assert a["flags"] == "A" and a["len"] == 0, a
    assert a["ack"] == st["snd_nxt"], ("challenge ACK must carry RCV.NXT", a, st)
    assert a["seq"] == st["rcv_nxt"], a
    d = deltas(instance, base, ["tcp_challenge_acks", "tcp_estab_resets"])
    assert d == {"tcp_challenge_acks": 1, "tcp_estab_resets": 0}, d
    p.echo(b"still alive after an in-window RST")


def test_rst_out_of_window_is_ignored(instance, peer):
    """RFC 5961 3.2 / RFC 9293 3.10.7.4: a RST outside the window is dropped silently."""
    p = peer(3)
    p.connect()
    p.echo(b"before")
    base = instance.counters()
    p.send(flags="R", seq_off=1 << 30, ts=False)
    p.send(flags="R", seq_off=-(1 << 20), ts=False)
    r = p.recv(timeout=1.0)
    assert r["segs"] == [], "an out-of-window RST was answered: %s" % r["segs"]
    d = deltas(instance, base, ["tcp_drop_out_of_window", "tcp_estab_resets",
                                "tcp_challenge_acks"])
    assert d == {"tcp_drop_out_of_window": 2, "tcp_estab_resets": 0,
                 "tcp_challenge_acks": 0}, d
    p.echo(b"still alive after out-of-window RSTs")


def test_rst_at_rcv_nxt_resets(instance, peer):
    """RFC 5961 3.2: a RST exactly at RCV.NXT ends the connection; a later segment gets a RST
    (RFC 9293 3.10.7.1), and tcp_estab_resets moves."""
    p = peer(4)
    p.connect()
    p.echo(b"before")
    base = instance.counters()
    p.send(flags="R", ts=False, advance=False)
    r = p.recv(timeout=0.5)
    assert r["segs"] == [], "a RST was answered: %s" % r["segs"]
    instance.wait_counters(base, {"tcp_estab_resets": 1}, timeout=5)
    st = p.state()
    p.send(flags="PA", data=b"anyone?".hex())
    r = p.recv(rst=True, timeout=2)
    assert r["met"], "no RST for data on a reset connection: %s" % r["segs"]
    rst = [s for s in r["segs"] if "R" in s["flags"]][0]
    assert rst["seq"] == st["rcv_nxt"], ("RST seq must be our SEG.ACK", rst, st)
    assert not data_segs(r["segs"]), r["segs"]
    p.connected = False


def test_syn_on_established_gets_challenge_ack(instance, peer):
    """RFC 5961 4.2: a SYN on a synchronized connection, whatever its sequence number, gets
    an ACK (challenge ACK) and the connection survives."""
    p = peer(5)
    p.connect()
    p.echo(b"before")
    st = p.state()
    base = instance.counters()
    p.send(flags="S", advance=False)  # in window: exactly at RCV.NXT
    r = p.recv(segs=1, timeout=2)
    assert r["segs"], "no challenge ACK to a SYN in window"
    a = r["segs"][0]
    assert a["flags"] == "A" and a["ack"] == st["snd_nxt"] and a["seq"] == st["rcv_nxt"], a
    d = deltas(instance, base, ["tcp_challenge_acks", "tcp_passive_opens", "tcp_estab_resets"])
    assert d == {"tcp_challenge_acks": 1, "tcp_passive_opens": 0, "tcp_estab_resets": 0}, d
    # a SYN far outside the window (a new incarnation's ISN) gets the same ACK
    p.send(flags="S", seq_off=1 << 30)
    r = p.recv(segs=1, timeout=2)
    assert r["segs"], "no ACK to an out-of-window SYN on an established connection"
    a = r["segs"][0]
    assert a["flags"] == "A" and a["ack"] == st["snd_nxt"], a
    p.echo(b"still alive after two SYNs")


def test_ack_for_unsent_data_is_dropped(instance, peer):
    """RFC 5961 5.2 (RFC 9293 3.10.7.4 fifth): an ACK above SND.NXT is answered by an ACK and
    the segment (with its data) dropped; one below SND.UNA - MAX.SND.WND likewise."""
    p = peer(6)
    p.connect()
    p.echo(b"before")
    st = p.state()
    base = instance.counters()
    p.send(flags="PA", data=b"not-accepted".hex(), ack_off=100000, advance=False)
    r = p.recv(timeout=1.0)
    assert r["segs"], "no ACK for an ACK of unsent data"
    assert not data_segs(r["segs"]), ("data of a bad-ACK segment was echoed", r["segs"])
    a = r["segs"][0]
    assert a["flags"] == "A" and a["ack"] == st["snd_nxt"] and a["seq"] == st["rcv_nxt"], a
    d = deltas(instance, base, ["tcp_drop_bad_ack"])
    assert d == {"tcp_drop_bad_ack": 1}, d
    # far too old an ACK: challenge ACK
    base = instance.counters()
    p.send(flags="PA", data=b"not-accepted".hex(), ack_off=-(1 << 30), advance=False)
    r = p.recv(timeout=1.0)
    assert r["segs"], "no ACK for an ACK older than SND.UNA - MAX.SND.WND"
    assert not data_segs(r["segs"]), r["segs"]
    a = r["segs"][0]
    assert a["flags"] == "A" and a["ack"] == st["snd_nxt"], a
    d = deltas(instance, base, ["tcp_drop_bad_ack", "tcp_challenge_acks"])
    assert d == {"tcp_drop_bad_ack": 1, "tcp_challenge_acks": 1}, d
    p.echo(b"still alive")


def test_out_of_window_data_is_acked_and_dropped(instance, peer):
    """RFC 9293 3.10.7.4 first: an unacceptable segment gets an ACK with RCV.NXT, no more."""
    p = peer(7)
    p.connect()
    p.echo(b"before")
    st = p.state()
    base = instance.counters()
    p.send(flags="PA", data=payload(100).hex(), seq_off=1 << 24)      # beyond the window
    p.send(flags="PA", data=payload(6).hex(), seq_off=-6)             # an old duplicate
    r = p.recv(timeout=1.0)
    acks = r["segs"]
    assert len(acks) == 2, "want one ACK per unacceptable segment: %s" % acks
    for a in acks:
        assert a["flags"] == "A" and a["len"] == 0, a
        assert a["ack"] == st["snd_nxt"] and a["seq"] == st["rcv_nxt"], (a, st)
    d = deltas(instance, base, ["tcp_drop_out_of_window"])
    assert d == {"tcp_drop_out_of_window": 2}, d
    p.echo(b"still in sync")


def test_paws_drops_old_timestamp(instance, peer):
    """RFC 7323 5.3: a segment whose TSval is older than TS.Recent is dropped with an ACK."""
    p = peer(8, ts=True)
    r = p.connect()
    assert "ts" in r["synack"]["opts"], r["synack"]
    p.echo(b"ts exchange")
    st = p.state()
    base = instance.counters()
    old = (st["tsval_now"] - 50000) & M32
    p.send(flags="PA", data=b"stale-timestamp".hex(), tsval=old, advance=False)
    r = p.recv(timeout=1.0)
    assert r["segs"], "no ACK to a PAWS-failing segment"
    assert not data_segs(r["segs"]), ("PAWS-failing data echoed", r["segs"])
    a = r["segs"][0]
    assert a["flags"] == "A" and a["ack"] == st["snd_nxt"], (a, st)
    assert a["opts"]["ts"][1] != old, ("TS.Recent must not take the stale TSval", a)
    d = deltas(instance, base, ["tcp_drop_paws"])
    assert d == {"tcp_drop_paws": 1}, d
    p.echo(b"fresh timestamps still work")


def test_out_of_order_segment_gets_sack_then_reassembly(instance, peer):
    """RFC 5681 4.2 / RFC 2018: an out-of-order segment gets an immediate duplicate ACK with a
    SACK block covering it; the hole's arrival delivers both in order."""
    p = peer(9, sack=True)
    r = p.connect()
    assert r["synack"]["opts"].get("sack_perm"), r["synack"]
    st = p.state()
    one, two = payload(100, 1), payload(100, 2)
    s0 = st["snd_nxt"]
    base = instance.counters()
    p.send(flags="PA", data=two.hex(), seq_off=100)
    r = p.recv(segs=1, timeout=1.0)
    assert r["segs"], "no duplicate ACK for an out-of-order segment"
    a = r["segs"][0]
    assert a["t"] < 0.5, ("the dup ACK must be immediate", a)
    assert a["flags"] == "A" and a["len"] == 0 and a["ack"] == s0, a
    sack = a["opts"].get("sack")
    assert sack and [(s0 + 100) & M32, (s0 + 200) & M32] in sack, ("SACK block", a["opts"])
    d = deltas(instance, base, ["tcp_ooo_segs"])
    assert d == {"tcp_ooo_segs": 1}, d
    p.send(flags="PA", data=one.hex())
    p.cmd("set", snd_nxt=(s0 + 200) & M32)
    r = p.recv(bytes=200, timeout=3, autoack=True)
    assert r["met"], r
    assert bytes.fromhex(p.state(rx=True)["rx"]) == one + two
    # Every echo segment acknowledges at least segment one; the last one both (the first may
    # leave while the queued segment two is still being delivered).
    echoed = data_segs(r["segs"])
    for s in echoed:
        assert 100 <= rel(s["ack"], s0) <= 200, s
    assert echoed[-1]["ack"] == (s0 + 200) & M32, echoed[-1]
    assert "sack" not in echoed[-1]["opts"], ("no SACK once the queue is empty", echoed[-1])


def zero_window_setup(p, connected=False):
    """Connect, warm up the RTT estimate, close our window, and give the echo 100 bytes."""
    if not connected:
        p.connect()
    p.echo(b"warm up the RTT estimate" * 4)
    p.cmd("set", win=0)
    p.send(flags="A")
    data = payload(100, 3)
    p.send(flags="PA", data=data.hex())
    return data, p.state()


def test_zero_window_probe_then_reopen(instance, peer):
    """RFC 9293 3.8.6.1: with our window at zero the dataplane sends nothing beyond it, probes
    it, and resumes when the window opens."""
    p = peer(10)
    base = instance.counters()
    data, st = zero_window_setup(p)
    una = st["rcv_nxt"]
    r = p.recv(timeout=1.5, autoack=True)
    assert probe_segs(r["segs"], una), "no zero-window probe within 1.5 s: %s" % r["segs"]
    beyond = [s for s in data_segs(r["segs"]) if s["seq"] != una or s["len"] > 1]
    assert not beyond, ("data beyond a zero window", beyond)
    instance.wait_counters(base, {"tcp_persist_probes": 1}, timeout=2)
    # open the window: all 100 bytes arrive, in order
    p.cmd("set", win=65535)
    p.send(flags="A")
    r = p.recv(bytes=100, bytes_base=st["rx_total"], timeout=5, autoack=True)
    got = bytes.fromhex(p.state(rx=True)["rx"])[st["rx_total"]:]
    assert r["met"] and got == data, \
        "after the window opened: %d of 100 bytes in 5 s; segments %s" % (
            len(got), [(s["t"], s["flags"], rel(s["seq"], una), s["len"]) for s in r["segs"]])


def test_zero_window_reopen_resends_unaccepted_probe_byte(instance, peer):
    """The probe byte sent into our zero window was not accepted (ACK stays at SND.UNA): when
    the window opens, transmission must resume at SND.UNA, not after the probe byte, or the
    receiver sees a hole that only a retransmission timeout repairs."""
    p = peer(15)
    data, st = zero_window_setup(p)
    una = st["rcv_nxt"]
    r = p.recv(timeout=1.5, autoack=True)
    assert probe_segs(r["segs"], una), "no zero-window probe within 1.5 s: %s" % r["segs"]
    p.cmd("set", win=65535)
    p.send(flags="A")
    r = p.recv(data_segs=1, timeout=3, autoack=True)
    segs = data_segs(r["segs"])
    desc = [(s["t"], s["flags"], rel(s["seq"], una), s["len"]) for s in r["segs"]]
    assert segs, "nothing sent after the window opened: %s" % desc
    assert segs[0]["seq"] == una, \
        "after the window opened, data resumed at SND.UNA+%d (the unacknowledged probe byte " \
        "skipped): %s" % (rel(segs[0]["seq"], una), desc)
    r2 = p.recv(bytes=100, bytes_base=st["rx_total"], timeout=1, autoack=True)
    assert r2["met"], r2["segs"]


def test_zero_window_dupacks_send_nothing_beyond_window(instance, peer):
    """Duplicate ACKs that keep the window at zero (a receiver answering a probe) must not make
    the sender push queued data into that zero window (RFC 9293 3.8.6: nothing beyond the
    window but the one-octet probe; RFC 5681 3.2 retransmits only what was sent)."""
    # An ISS in the lower half: fast retransmit is live there whatever
    # test_fast_retransmit_whatever_the_iss finds for the upper half.
    p, _ = connect_iss(peer, 16, high=False)
    base = instance.counters()
    data, st = zero_window_setup(p, connected=True)
    una = st["rcv_nxt"]
    r = p.recv(timeout=1.5, autoack=False)
    assert probe_segs(r["segs"], una), r["segs"]
    for _ in range(3):  # the receiver keeps its window shut: ACK SND.UNA, window 0
        p.send(flags="A")
    r = p.recv(timeout=1.0, accept=False)
    d = deltas(instance, base, ["tcp_dupacks_in", "tcp_fast_rexmits"])
    desc = [(s["t"], s["flags"], rel(s["seq"], una), s["len"]) for s in r["segs"]]
    beyond = [s for s in data_segs(r["segs"]) if rel(s["seq"], una) + s["len"] > 1]
    assert not beyond, ("data sent into a zero window after 3 dup ACKs: %s; counters %s" %
                        (desc, d))


def test_zero_window_probes_repeat(instance, peer):
    """RFC 9293 3.8.6.1: while the receiver keeps answering probes with a zero window, the
    sender keeps probing (with backoff) and never sends beyond the window; the connection
    stays up."""
    p = peer(11)
    base = instance.counters()
    data, st = zero_window_setup(p)
    una = st["rcv_nxt"]
    r = p.recv(timeout=4.0, autoack=True)  # we answer each probe: ACK una, window 0
    segs = probe_segs(r["segs"], una)
    beyond = [s for s in data_segs(r["segs"]) if s["seq"] != una or s["len"] > 1]
    d = deltas(instance, base, ["tcp_persist_probes", "tcp_rto_timeouts", "tcp_conn_timeouts"])
    summary = "segments %s; counters %s" % (
        [(s["t"], s["flags"], rel(s["seq"], una), s["len"]) for s in r["segs"]], d)
    assert not beyond, "data beyond a zero window: " + summary
    assert len(segs) >= 3, "want >= 3 probes in 4 s (RTO ~200 ms, doubling): " + summary
    assert d["tcp_persist_probes"] >= 3, summary
    p.cmd("set", win=65535)
    p.send(flags="A")
    r = p.recv(bytes=100, bytes_base=st["rx_total"], timeout=5, autoack=True)
    assert r["met"], "data did not flow after the window opened: %s" % r["segs"]


def test_fin_half_close_then_close(instance, peer):
    """Data+FIN from the peer: the echo returns the data, then the service closes (FIN);
    our ACK of that FIN ends the connection (LAST-ACK -> CLOSED, tcp_closed_normal)."""
    p = peer(12)
    p.connect()
    st = p.state()
    base = instance.counters()
    data = payload(50, 4)
    p.send(flags="FPA", data=data.hex())
    r = p.recv(fin=True, timeout=3, autoack=True)
    assert r["met"], "no FIN from the echo service after ours: %s" % r["segs"]
    assert bytes.fromhex(p.state(rx=True)["rx"]) == data
    fin = [s for s in r["segs"] if "F" in s["flags"]][0]
    assert rel(fin["seq"], st["rcv_nxt"]) + fin["len"] == 50, fin
    assert fin["ack"] == (st["snd_nxt"] + 51) & M32, ("our FIN must be acknowledged", fin)
    instance.wait_counters(base, {"tcp_closed_normal": 1}, timeout=5)
    # the connection is gone: a new segment is refused
    p.send(flags="PA", data=b"late".hex())
    r = p.recv(rst=True, timeout=2)
    assert r["met"], "no RST after the connection closed: %s" % r["segs"]
    p.connected = False


def test_rto_retransmission(instance, peer):
    """RFC 6298: echoed data left unacknowledged is retransmitted after the RTO (initial 1 s,
    floor 200 ms); once acknowledged, nothing more is retransmitted."""
    p = peer(13)
    p.connect()
    base = instance.counters()
    data = payload(100, 5)
    p.send(flags="PA", data=data.hex())
    r1 = p.recv(data_segs=1, timeout=2)  # no ACK from us
    orig = data_segs(r1["segs"])
    assert orig, "no echo: %s" % r1
    orig = orig[0]
    r2 = p.recv(data_segs=1, timeout=3)
    rex = data_segs(r2["segs"])
    assert rex, "no retransmission within 3 s of the unacknowledged echo"
    rex = rex[0]
    assert rex["seq"] == orig["seq"] and rex["data"] == orig["data"], (orig, rex)
    dt = rex["mono"] - orig["mono"]
    assert 0.18 <= dt <= 2.1, "first retransmission after %.3f s" % dt
    instance.wait_counters(base, {"tcp_rto_timeouts": 1, "tcp_retrans_segs": 1}, timeout=2)
    p.send(flags="A")  # acknowledges the 100 bytes
    after = instance.counters()
    r3 = p.recv(timeout=2.5)
    assert not data_segs(r3["segs"]), ("retransmitted after the ACK", r3["segs"])
    d = deltas(instance, after, ["tcp_rto_timeouts", "tcp_retrans_segs"])
    assert d == {"tcp_rto_timeouts": 0, "tcp_retrans_segs": 0}, d
    assert bytes.fromhex(p.state(rx=True)["rx"]) == data


def test_no_redundant_delayed_ack(instance, peer):
    """A data segment carries the ACK of what it answers; the delayed-ACK timer must then not
    send a second, pure ACK of the same data (tcp_output.c tcp_seg_ack: "every segment we send
    carries this ACK: nothing left to delay"). To a peer with data in flight such an ACK is a
    duplicate ACK (RFC 5681 2), and three of them trigger a spurious fast retransmit."""
    p = peer(14)
    p.connect()
    p.echo(b"settle", settle=0.2)
    base = instance.counters()
    p.send(flags="PA", data=b"ping".hex())
    r = p.recv(timeout=0.5)  # no ACK from us: the dataplane has no reason to send again
    segs = r["segs"]
    d = deltas(instance, base, ["tcp_delayed_acks"])
    desc = [(s["t"], s["flags"], s["rack"], s["len"]) for s in segs]
    assert segs and segs[0]["len"] == 4, desc
    pure = [s for s in segs[1:] if s["len"] == 0 and s["ack"] == segs[0]["ack"]]
    assert not pure, ("a pure ACK repeated the echo's ACK %s later; segments %s, counters %s" %
                      ("%.3f s" % (pure[0]["t"] - segs[0]["t"]), desc, d))
    assert d == {"tcp_delayed_acks": 0}, d


@pytest.mark.parametrize("high", [False, True], ids=["iss-lower-half", "iss-upper-half"])
def test_fast_retransmit_whatever_the_iss(instance, peer, high):
    """RFC 5681 3.2 / RFC 6582: three duplicate ACKs retransmit the first unacknowledged
    segment at once, long before the RTO (1 s here: no RTT sample yet). RFC 6582 3.2 step 1
    initialises "recover" to the ISS; a zero "recover" compared in sequence space would
    disable fast retransmit for every connection whose ISS lies in the upper half."""
    p, r = connect_iss(peer, 17 + int(high), high)
    iss = r["synack"]["seq"]
    data = payload(3 * SEG_MAX, 6)
    for off in range(0, len(data), SEG_MAX):
        p.send(flags="PA", data=data[off:off + SEG_MAX].hex())
    r = p.recv(bytes=len(data), timeout=2, accept=True)  # we take the data, but do not ACK
    assert r["met"], r["segs"]
    first = data_segs(r["segs"])[0]
    assert first["seq"] == (iss + 1) & M32, first
    base = instance.counters()
    end = (iss + 1 + len(data)) & M32
    for _ in range(3):  # "segment 1 lost": ACK SND.UNA, SACK the rest
        p.send(flags="A", ack=(iss + 1) & M32,
               sack=[[(first["seq"] + first["len"]) & M32, end]])
    r = p.recv(data_segs=1, timeout=0.6, accept=False)
    d = deltas(instance, base, ["tcp_dupacks_in", "tcp_fast_rexmits", "tcp_rto_timeouts"])
    rex = data_segs(r["segs"])
    assert rex and rex[0]["seq"] == first["seq"], \
        "no fast retransmit within 0.6 s of 3 dup ACKs (ISS %#x); counters %s; segs %s" % (
            iss, d, [(s["t"], s["flags"], rel(s["seq"], iss), s["len"]) for s in r["segs"]])
    assert d["tcp_fast_rexmits"] == 1 and d["tcp_rto_timeouts"] == 0, d
    p.send(flags="A", ack=end)

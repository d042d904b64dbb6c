"""More edge cases of the userspace TCP stack: RST in every state the scripted peer can reach,
simultaneous close, TIME-WAIT reuse, large scaled windows, and sequential port reuse by the
kernel.

The scripted peer (tcp_peer.py, driven through test_tcp_edge.Peer) talks to the echo (7) and
source (19) test services from its own address (198.18.S.10). The source service sends the
requested bytes and then closes first, so it walks the dataplane through FIN-WAIT-1,
FIN-WAIT-2 and TIME-WAIT; the echo closes after our FIN (CLOSE-WAIT, LAST-ACK).
The per-state connection counts of `spatectl status` (dataplane.tcp.states) are summed over
both workers and over every connection, so tests compare them before and after one step.

References: RFC 9293 3.3.2 (states), 3.6 (closing, simultaneous close), 3.6.1 (TIME-WAIT),
3.10.7.3-4 (segment arrival, RST), 3.10.7.1 (segments for a closed connection); RFC 5961 3
(RST acceptance); RFC 1337 (TIME-WAIT assassination); RFC 6191 (TIME-WAIT reuse with
timestamps); RFC 7323 2 (window scale), 5 (PAWS).
"""
import json
import random
import time

import pytest

from harness import PY, wait_until
from test_tcp_edge import M32, SEG_MAX, Peer, data_segs, deltas, rand_mac, rel

pytestmark = pytest.mark.netns

ECHO, SOURCE = 7, 19
SND_BUF = 262144  # tcp_snd_buf default (include/spate/config_keys.def)
RCV_BUF = 262144  # tcp_rcv_buf default: the dataplane's window shift is 3 (65535 << 2 < it)
DP_WSCALE = 3
TW_S = 60.0  # 2 MSL (SP_TCP_MSL_MS)
# A port block apart from test_tcp_edge.py's (10000-40000), fresh per run.
PORT_BASE = random.randrange(40000, 60000, 1000)
PORTS_PER_TEST = 20

BLOCK = 65536
BASE_BLOCK = bytes(((7 * k + 3 * (k >> 8) + 1) & 0xFF) for k in range(BLOCK))


def source_stream(n, off=0):
    """Bytes [off, off + n) of the source service's stream (dataplane/app/testsvc.h)."""
    out = bytearray()
    o = off
    while len(out) < n:
        r = (o >> 16) & 0xFFFF
        i = o & 0xFFFF
        take = min(BLOCK - i, n - len(out))
        rot = BASE_BLOCK[r:] + BASE_BLOCK[:r]
        out += rot[i:i + take]
        o += take
    return bytes(out)


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


def states(instance):
    return instance.dataplane()["tcp"]["states"]


def wait_states(instance, want, timeout=5):
    """Wait until every named state count equals want[name]; fail with the counts seen."""
    last = {}

    def check():
        s = states(instance)
        last.update(s)
        return all(s[k] == v for k, v in want.items())

    try:
        wait_until(check, timeout, interval=0.05, what="states")
    except AssertionError:
        raise AssertionError("state counts %s, wanted %s" %
                             ({k: last.get(k) for k in want}, want)) from None
    return last


# Connections our tests left in TIME-WAIT (monotonic time entered): a TIME-WAIT count compared
# before and after a step must not see one of them expire in between.
_tw_born = []


def tw_born():
    _tw_born.append(time.monotonic())


@pytest.fixture(scope="module", autouse=True)
def no_foreign_time_wait(instance):
    """TIME-WAIT connections left by earlier modules (test_tcp.py's source transfers end in
    TIME-WAIT on the dataplane) expire 60 s later at their own pace and would shift this
    module's state counts: start once with none (bounded)."""
    deadline = time.time() + 75
    while states(instance)["TIME-WAIT"] and time.time() < deadline:
        time.sleep(1)


def tw_quiet(span=15.0):
    """Sleep until none of our TIME-WAIT connections expires in the next span seconds."""
    while True:
        now = time.monotonic()
        due = [t + TW_S for t in _tw_born if now - 2.0 <= t + TW_S <= now + span]
        if not due:
            return
        time.sleep(max(due) - now + 2.0)


def desc(segs, base=0):
    return [(s["t"], s["flags"], rel(s["seq"], base), s["len"], rel(s["ack"], 0)) for s in segs]


def assert_gone(p, what):
    """RFC 9293 3.10.7.1: on a connection that no longer exists, an ACK is answered by a RST
    whose sequence number is the ACK's acknowledgment number."""
    st = p.state()
    sent = p.send(flags="A", advance=False)
    r = p.recv(rst=True, timeout=2)
    rst = [s for s in r["segs"] if "R" in s["flags"]]
    assert rst, "%s: an ACK on the reset connection got no RST: %s" % (what, r["segs"])
    assert rst[0]["seq"] == sent["ack"] == st["rcv_nxt"], (what, rst[0], sent)
    assert not data_segs(r["segs"]), (what, r["segs"])
    p.connected = False


GRACE_S = 0.02  # segments read this soon after ours left before it arrived


def assert_silent(p, seconds, what, grace=0.0):
    r = p.recv(timeout=seconds)
    late = [s for s in r["segs"] if s["t"] >= grace]
    assert late == [], "%s: the dataplane still sent %s" % (what, desc(r["segs"]))


def send_rst(p):
    """A RST exactly at the dataplane's RCV.NXT (our SND.NXT): RFC 5961 3.2 acceptable."""
    return p.send(flags="R", advance=False, ts=False)


def rst_then_silence(p, seconds, what):
    """Drain what is queued, RST, then nothing more may come (a segment read within GRACE_S
    of the RST was on its way before the RST arrived)."""
    p.recv(timeout=0.02)
    send_rst(p)
    assert_silent(p, seconds, what, grace=GRACE_S)


def source_until_fin(p, n):
    """Connect to the source service, ask for n bytes, take them and the FIN, ACK nothing."""
    p.connect()
    p.send(flags="PA", text="%d\n" % n)
    r = p.recv(fin=True, timeout=3)
    assert r["met"], "no data+FIN from the source service: %s" % desc(r["segs"])
    got = bytes.fromhex(p.state(rx=True)["rx"])
    assert got == source_stream(n), "source stream differs (%d bytes)" % len(got)
    fin = [s for s in r["segs"] if "F" in s["flags"]][-1]
    return fin


# ----------------------------------------------------------------------------------------------
# 1. RST in every state
def test_rst_in_syn_received(instance, peer):
    """RFC 9293 3.10.7.4 (SYN-RECEIVED, passively opened): an acceptable RST removes the
    half-open connection: no more SYN-ACKs, and the ACK that would have completed the
    handshake gets a RST (3.10.7.2, LISTEN); tcp_attempt_fails moves."""
    p = peer(1)
    s0 = states(instance)
    base = instance.counters()
    r = p.cmd("connect", complete=False, timeout=3)
    assert r["synack"] is not None, r
    wait_states(instance, {"SYN-RECEIVED": s0["SYN-RECEIVED"] + 1})
    send_rst(p)  # seq = our ISN + 1
    instance.wait_counters(base, {"tcp_attempt_fails": 1}, timeout=5)
    wait_states(instance, {"SYN-RECEIVED": s0["SYN-RECEIVED"]})
    # The SYN-ACK would be retransmitted after 1 s (RFC 6298 initial RTO): not any more.
    assert_silent(p, 1.3, "after a RST in SYN-RECEIVED")
    assert_gone(p, "SYN-RECEIVED")
    d = deltas(instance, base, ["tcp_accepts", "tcp_attempt_fails", "tcp_estab_resets"])
    assert d == {"tcp_accepts": 0, "tcp_attempt_fails": 1, "tcp_estab_resets": 0}, d


def bulk_send(p, data, timeout=15):
    """Send data within the dataplane's advertised window, go-back-N on a stall, until it is
    all acknowledged. Returns the ACK segments seen."""
    st = p.state()
    s0 = st["snd_nxt"]
    ws = st["peer_ws"]
    una, nxt = s0, s0
    edge = (s0 + 65535) & M32  # the SYN-ACK's window (never scaled)
    seen = []
    deadline = time.monotonic() + timeout
    while rel(una, s0) < len(data):
        assert time.monotonic() < deadline, \
            "bulk send stalled at %d of %d bytes: %s" % (rel(una, s0), len(data),
                                                         desc(seen[-5:]))
        while rel(nxt, s0) < len(data) and rel(edge, nxt) > 0:
            off = rel(nxt, s0)
            n = min(SEG_MAX, len(data) - off, rel(edge, nxt))
            p.send(flags="PA", seq=nxt, data=data[off:off + n].hex())
            nxt = (nxt + n) & M32
        r = p.recv(segs=1, timeout=0.5)
        if not r["segs"]:
            nxt = una  # stalled: resend from the first unacknowledged byte
            continue
        for s in r["segs"]:
            seen.append(s)
            if "A" in s["flags"] and rel(s["ack"], una) > 0 and rel(s["ack"], nxt) <= 0:
                una = s["ack"]
            if "A" in s["flags"]:
                e = (s["ack"] + (s["win"] << ws)) & M32
                if rel(e, edge) > 0:
                    edge = e
        if rel(nxt, una) < 0:
            nxt = una
    p.cmd("set", snd_nxt=(s0 + len(data)) & M32)
    return seen


def test_rst_in_close_wait(instance, peer):
    """CLOSE-WAIT: our window stays shut, so the echo cannot send; 256 KiB fill its send
    buffer and a little more stays pending in the service, so our FIN leaves it in CLOSE-WAIT
    (it closes only once drained). An acceptable RST ends it (RFC 9293 3.10.7.4: ESTABLISHED,
    FIN-WAIT-1/2, CLOSE-WAIT: "enter CLOSED") and counts as tcp_estab_resets (RFC 1213
    tcpEstabResets: from ESTABLISHED or CLOSE-WAIT)."""
    p = peer(2, win=0)
    p.connect()
    s0 = states(instance)
    data = bytes((i * 13 + 1) & 0xFF for i in range(SND_BUF + 8 * SEG_MAX))
    bulk_send(p, data)
    base = instance.counters()
    p.send(flags="FA")
    r = p.recv(timeout=0.5)
    st = p.state()
    acks = [s for s in r["segs"] if s["ack"] == st["snd_nxt"]]
    assert acks, "our FIN was not acknowledged: %s" % desc(r["segs"])
    assert not data_segs(r["segs"]), ("data into our zero window", desc(r["segs"]))
    wait_states(instance, {"CLOSE-WAIT": s0["CLOSE-WAIT"] + 1})
    # Zero-window probes (200 ms and up) would go on without the RST.
    rst_then_silence(p, 1.5, "after a RST in CLOSE-WAIT")
    instance.wait_counters(base, {"tcp_estab_resets": 1}, timeout=5)
    wait_states(instance, {"CLOSE-WAIT": s0["CLOSE-WAIT"], "LAST-ACK": s0["LAST-ACK"]})
    assert_gone(p, "CLOSE-WAIT")
    d = deltas(instance, base, ["tcp_estab_resets", "tcp_closed_normal", "tcp_aborts"])
    assert d == {"tcp_estab_resets": 1, "tcp_closed_normal": 0, "tcp_aborts": 0}, d


def test_rst_in_last_ack(instance, peer):
    """LAST-ACK (the echo closes after our FIN): instead of ACKing its FIN we reset. The
    connection is gone (RFC 9293 3.10.7.4 CLOSING, LAST-ACK, TIME-WAIT: "enter CLOSED"): its
    FIN is no longer retransmitted."""
    p = peer(3)
    p.connect()
    p.echo(b"an RTT sample, so the FIN's RTO is short" * 3)
    s0 = states(instance)
    base = instance.counters()
    ours = p.send(flags="FA")
    r = p.recv(fin=True, timeout=3)
    assert r["met"], "no FIN from the echo after ours: %s" % desc(r["segs"])
    fin = [s for s in r["segs"] if "F" in s["flags"]][0]
    assert fin["ack"] == (ours["seq"] + 1) & M32, ("its FIN must ACK ours", fin, ours)
    wait_states(instance, {"LAST-ACK": s0["LAST-ACK"] + 1})
    # Unacknowledged, the FIN comes again (proves the retransmission timer runs) ...
    r = p.recv(segs=1, timeout=2.5)
    assert r["segs"] and "F" in r["segs"][0]["flags"] and r["segs"][0]["seq"] == fin["seq"], \
        "no FIN retransmission in LAST-ACK: %s" % desc(r["segs"])
    # ... until the RST.
    rst_then_silence(p, 2.5, "after a RST in LAST-ACK")
    wait_states(instance, {"LAST-ACK": s0["LAST-ACK"]})
    assert_gone(p, "LAST-ACK")
    d = deltas(instance, base, ["tcp_closed_normal", "tcp_estab_resets", "tcp_aborts"])
    assert d == {"tcp_closed_normal": 0, "tcp_estab_resets": 0, "tcp_aborts": 0}, d


def test_rst_in_fin_wait_1(instance, peer):
    """FIN-WAIT-1: the source service sent its data and FIN; we ACK the data but not the FIN,
    which it retransmits, until our RST ends the connection."""
    p = peer(4, dport=SOURCE)
    s0 = states(instance)
    fin = source_until_fin(p, 3000)
    p.send(flags="A", ack_off=-1)  # everything but the FIN
    wait_states(instance, {"FIN-WAIT-1": s0["FIN-WAIT-1"] + 1})
    r = p.recv(segs=1, timeout=2.5)
    assert r["segs"] and "F" in r["segs"][0]["flags"] and r["segs"][0]["seq"] == fin["seq"], \
        "no FIN retransmission in FIN-WAIT-1: %s" % desc(r["segs"])
    base = instance.counters()
    rst_then_silence(p, 2.5, "after a RST in FIN-WAIT-1")
    wait_states(instance, {"FIN-WAIT-1": s0["FIN-WAIT-1"]})
    assert_gone(p, "FIN-WAIT-1")
    d = deltas(instance, base, ["tcp_closed_normal", "tcp_aborts"])
    assert d == {"tcp_closed_normal": 0, "tcp_aborts": 0}, d


def test_rst_in_fin_wait_2(instance, peer):
    """FIN-WAIT-2: we ACK the source's data and FIN; the dataplane waits for ours. A RST
    ends it instead."""
    p = peer(5, dport=SOURCE)
    s0 = states(instance)
    source_until_fin(p, 3000)
    p.send(flags="A")
    wait_states(instance, {"FIN-WAIT-2": s0["FIN-WAIT-2"] + 1,
                           "FIN-WAIT-1": s0["FIN-WAIT-1"]})
    base = instance.counters()
    rst_then_silence(p, 0.5, "after a RST in FIN-WAIT-2")
    wait_states(instance, {"FIN-WAIT-2": s0["FIN-WAIT-2"]})
    assert_gone(p, "FIN-WAIT-2")
    d = deltas(instance, base, ["tcp_closed_normal", "tcp_aborts"])
    assert d == {"tcp_closed_normal": 0, "tcp_aborts": 0}, d


def enter_time_wait(instance, p, n=1000):
    """Source connection closed by both sides, the dataplane first: it ends in TIME-WAIT.
    Returns our FIN as sent."""
    source_until_fin(p, n)
    p.send(flags="A")
    ours = p.send(flags="FA")
    r = p.recv(segs=1, timeout=2)
    assert r["segs"], "no ACK for our FIN in FIN-WAIT-2"
    a = r["segs"][0]
    assert a["flags"] == "A" and a["ack"] == (ours["seq"] + 1) & M32, a
    tw_born()
    return ours


def probe_time_wait(p):
    """Retransmit our FIN: TIME-WAIT ACKs it (RFC 9293 3.10.7.4 TIME-WAIT), a closed
    connection answers with a RST. Returns "TIME-WAIT" or "CLOSED"."""
    st = p.state()
    p.send(flags="FA", seq=(st["snd_nxt"] - 1) & M32, advance=False)
    r = p.recv(segs=1, timeout=1.5)
    assert r["segs"], "a retransmitted FIN got no answer at all"
    s = r["segs"][0]
    assert not data_segs(r["segs"]), desc(r["segs"])
    if "R" in s["flags"]:
        return "CLOSED"
    assert s["flags"] == "A" and s["ack"] == st["snd_nxt"], s
    return "TIME-WAIT"


def test_rst_in_time_wait(instance, peer, record_property):
    """TIME-WAIT and a RST: RFC 9293 3.10.7.4 says enter CLOSED; RFC 1337 (TIME-WAIT
    assassination) recommends ignoring it. Either is accepted; nothing may be sent back but an
    ACK, and the connection ends up closed or still in TIME-WAIT, as the state counts agree."""
    tw_quiet()
    p = peer(6, dport=SOURCE)
    s0 = states(instance)
    base = instance.counters()
    enter_time_wait(instance, p)
    s1 = wait_states(instance, {"TIME-WAIT": s0["TIME-WAIT"] + 1,
                                "FIN-WAIT-2": s0["FIN-WAIT-2"]})
    instance.wait_counters(base, {"tcp_closed_normal": 1}, timeout=3)
    send_rst(p)
    r = p.recv(timeout=0.8)
    bad = [s for s in r["segs"] if s["flags"] != "A" or s["len"]]
    assert not bad, "a RST in TIME-WAIT was answered by %s" % desc(r["segs"])
    outcome = probe_time_wait(p)
    record_property("rst_in_time_wait", outcome)
    print("RST in TIME-WAIT ->", outcome)
    tw_want = s1["TIME-WAIT"] - (1 if outcome == "CLOSED" else 0)
    wait_states(instance, {"TIME-WAIT": tw_want})
    p.connected = False
    if outcome == "CLOSED":
        _tw_born.pop()


# ----------------------------------------------------------------------------------------------
# 2. Simultaneous close
def test_simultaneous_close_closing_state(instance, peer):
    """RFC 9293 3.6 case 2: both FINs cross. The source's data+FIN arrive; without ACKing that
    FIN we send ours (ACKing the data only): the dataplane goes FIN-WAIT-1 -> CLOSING and ACKs
    our FIN; our ACK of its FIN then takes it to TIME-WAIT (tcp_closed_normal moves then)."""
    tw_quiet()
    p = peer(7, dport=SOURCE)
    source_until_fin(p, 200)
    st = p.state()
    s0 = states(instance)
    base = instance.counters()
    ours = p.send(flags="FA", ack_off=-1)  # ACK the data, not its FIN
    r = p.recv(timeout=0.5)
    acks = [s for s in r["segs"] if s["ack"] == (ours["seq"] + 1) & M32]
    assert acks, "our FIN was not acknowledged in CLOSING: %s" % desc(r["segs"])
    a = acks[0]
    assert "A" in a["flags"] and "R" not in a["flags"] and a["len"] == 0, a
    assert a["seq"] == st["rcv_nxt"], ("the ACK's seq must follow its FIN", a, st)
    wait_states(instance, {"CLOSING": s0["CLOSING"] + 1, "FIN-WAIT-1": s0["FIN-WAIT-1"] - 1})
    d = deltas(instance, base, ["tcp_closed_normal"])
    assert d == {"tcp_closed_normal": 0}, ("closed before both FINs were acknowledged", d)
    p.recv(timeout=0.02)  # its FIN may be retransmitted meanwhile (RTO): drain
    p.send(flags="A")  # ACK its FIN
    # Its FIN acknowledged, nothing more is sent (the FIN's retransmission timer is gone).
    assert_silent(p, 1.2, "in TIME-WAIT after a simultaneous close", grace=GRACE_S)
    wait_states(instance, {"CLOSING": s0["CLOSING"], "TIME-WAIT": s0["TIME-WAIT"] + 1})
    tw_born()
    instance.wait_counters(base, {"tcp_closed_normal": 1}, timeout=3)
    # TIME-WAIT answers our repeated FIN.
    assert probe_time_wait(p) == "TIME-WAIT"
    d = deltas(instance, base, ["tcp_closed_normal", "tcp_estab_resets", "tcp_aborts"])
    assert d == {"tcp_closed_normal": 1, "tcp_estab_resets": 0, "tcp_aborts": 0}, d
    p.connected = False  # leave the TIME-WAIT alone


def test_rst_in_closing(instance, peer):
    """CLOSING and a RST: the connection is gone; its FIN is not retransmitted any more."""
    p = peer(8, dport=SOURCE)
    fin = source_until_fin(p, 200)
    s0 = states(instance)
    p.send(flags="FA", ack_off=-1)
    wait_states(instance, {"CLOSING": s0["CLOSING"] + 1})
    r = p.recv(segs=2, timeout=2.5)  # the ACK of our FIN, then its FIN again (RTO)
    assert any("F" in s["flags"] and s["seq"] == fin["seq"] for s in r["segs"]), \
        "no FIN retransmission in CLOSING: %s" % desc(r["segs"])
    rst_then_silence(p, 2.5, "after a RST in CLOSING")
    wait_states(instance, {"CLOSING": s0["CLOSING"]})
    assert_gone(p, "CLOSING")


# ----------------------------------------------------------------------------------------------
# 3. TIME-WAIT reuse
TW_CASES = [
    (1 << 24, 100000, True),
    (-(1 << 24), -100000, False),
    (-(1 << 24), 100000, True),
    (1 << 24, -100000, False),
    (1 << 24, 0, True),
    (-(1 << 24), 0, False),
]


@pytest.mark.parametrize("isn_step,ts_step,accept", TW_CASES,
                         ids=["newer-isn-newer-ts", "older-isn-older-ts", "older-isn-newer-ts",
                              "newer-isn-older-ts", "newer-isn-same-ts", "older-isn-same-ts"])
def test_time_wait_reuse(instance, peer, isn_step, ts_step, accept):
    """RFC 6191 2 (RFC 9293 3.6.1): a SYN for a 4-tuple in TIME-WAIT, the old connection with
    timestamps, is honoured if its TSval is newer than the last one seen (whatever its ISN),
    or equal to it with an ISN above the old RCV.NXT, and otherwise dropped, leaving
    TIME-WAIT alone (an ACK of the old connection, RFC 5961 4, is tolerated; a SYN-ACK is
    not). Honoured, it is a new connection: tcp_tw_reuse moves and the source service serves
    it. (Linux honours the same set: tcp_timewait_state_process.)"""
    index = 30 + [c[:2] for c in TW_CASES].index((isn_step, ts_step))
    mac = rand_mac()
    p1 = peer(index, src_mac=mac, dport=SOURCE, isn=random.randrange(1 << 28, 1 << 30),
              tsval_base=10000000)
    ours = enter_time_wait(instance, p1, 300)
    old_nxt = (ours["seq"] + 1) & M32
    p1.connected = False  # no RST at the end: it stays in TIME-WAIT
    p1.close()
    base = instance.counters()
    p2 = peer(index, src_mac=mac, dport=SOURCE, isn=(old_nxt + isn_step) & M32,
              tsval_base=(ours["tsval"] + ts_step) & M32)
    # The SYN's TSval exactly: the last one the old connection saw, plus ts_step.
    r = p2.cmd("connect", timeout=2 if accept else 1.5,
               tsval=(ours["tsval"] + ts_step) & M32)
    d = deltas(instance, base, ["tcp_tw_reuse", "tcp_passive_opens"])
    others = desc(r["others"])
    if not accept:
        assert r["synack"] is None, \
            "a SYN with an older TSval (%+d) and ISN %+d took over TIME-WAIT: %s; counters %s" % (
                ts_step, isn_step, r["synack"], d)
        for s in r["others"]:
            assert s["flags"] == "A" and s["len"] == 0 and s["ack"] == old_nxt, \
                ("only an ACK of the old connection may answer", others)
        assert d == {"tcp_tw_reuse": 0, "tcp_passive_opens": 0}, d
        return
    assert r["synack"] is not None, \
        "SYN with TSval %+d and ISN %+d (vs the old connection's last TSval and RCV.NXT) not " \
        "accepted in TIME-WAIT; answers %s, counters %s" % (ts_step, isn_step, others, d)
    assert r["synack"]["ack"] == (old_nxt + isn_step + 1) & M32, r["synack"]
    assert d == {"tcp_tw_reuse": 1, "tcp_passive_opens": 1}, d
    p2.connected = True
    p2.send(flags="PA", text="777\n")
    r = p2.recv(fin=True, timeout=3, autoack=True)
    assert r["met"], desc(r["segs"])
    assert bytes.fromhex(p2.state(rx=True)["rx"]) == source_stream(777)


# ----------------------------------------------------------------------------------------------
# 4. Large scaled windows
def check_edges(segs, acks, shift, what, prior_edge=None):
    """Each data segment must end within the right edge of an ACK we sent before we saw it
    (RFC 9293 3.8.6: never beyond the window). The dataplane can only know ACKs we sent, so
    the newest edge sent before is an upper bound of what it could use: a segment beyond it
    is a violation for sure."""
    edges = [(a["mono"], (a["ack"] + (a["win"] << shift)) & M32) for a in acks]
    for s in data_segs(segs):
        best = prior_edge
        for mono, e in edges:
            if mono <= s["mono"] and (best is None or rel(e, best) > 0):
                best = e
        end = (s["seq"] + s["len"]) & M32
        assert best is None or rel(end, best) <= 0, \
            "%s: segment %s ends %d bytes beyond our advertised window" % (
                what, (s["t"], s["rseq"], s["len"]), rel(end, best))


def max_flight(segs, acks, start_ack):
    """The largest (segment end - newest ACK we had sent when we saw it): a lower bound of
    the dataplane's bytes in flight then."""
    la = start_ack
    acks = sorted(acks, key=lambda a: a["mono"])
    i, worst = 0, 0
    for s in sorted(data_segs(segs), key=lambda s: s["mono"]):
        while i < len(acks) and acks[i]["mono"] <= s["mono"]:
            if rel(acks[i]["ack"], la) > 0:
                la = acks[i]["ack"]
            i += 1
        worst = max(worst, rel((s["seq"] + s["len"]) & M32, la))
    return worst


def test_window_scale_14_large_transfer(instance, peer, record_property):
    """RFC 7323 2: we announce WS=14 and a window of 65535 << 14 (~1 GiB); the source sends
    2 MiB. Its bytes in flight never exceed its 256 KiB send buffer (with so big a window the
    buffer and cwnd are the limits), its own window (WS=3) never exceeds its 256 KiB receive
    buffer, a zero window (0 << 14) stops it but for probes, and a small scaled window
    (2 << 14 = 32 KiB) bounds it."""
    n = 2 << 20
    p = peer(13, dport=SOURCE, wscale=14, win=65535)
    r = p.connect()
    sa = r["synack"]
    assert sa["opts"].get("ws") == DP_WSCALE, ("dataplane window shift", sa["opts"])
    assert sa["win"] == min(RCV_BUF, 65535), ("a SYN's window is never scaled", sa)
    iss = sa["seq"]
    p.send(flags="PA", text="%d\n" % n)

    # Phase 1: ~1 MiB, every segment acknowledged at once with the full window.
    r1 = p.recv(bytes=1 << 20, timeout=15, autoack=True, brief=True)
    assert r1["met"], "only %d bytes of 1 MiB in 15 s" % r1["rx_total"]
    segs1 = data_segs(r1["segs"])
    f1 = max_flight(r1["segs"], r1["acks"], (iss + 1) & M32)
    assert f1 <= SND_BUF, "%d bytes in flight beyond the %d-byte send buffer" % (f1, SND_BUF)
    for s in r1["segs"]:
        assert s["win"] << DP_WSCALE <= RCV_BUF, ("its window beyond its buffer", s)
        assert s["len"] <= SEG_MAX, s
    # The service consumes our 8-byte request at once: (almost) the whole buffer is offered.
    wins = sorted({s["win"] for s in segs1})
    assert all(RCV_BUF - 64 <= w << DP_WSCALE <= RCV_BUF for w in wins), wins

    # Phase 2: we stop acknowledging: it sends what its buffer and cwnd allow, not more.
    last_ack = r1["acks"][-1]["ack"]
    r2 = p.recv(timeout=0.4, brief=True)
    ends = [rel((s["seq"] + s["len"]) & M32, last_ack) for s in data_segs(r2["segs"])]
    f2 = max(ends + [f1, 0])
    record_property("max_flight_bytes", f2)
    print("max bytes in flight: %d (phase 1 %d)" % (f2, f1))
    assert f2 <= SND_BUF, "%d bytes in flight beyond the %d-byte send buffer" % (f2, SND_BUF)
    assert f2 > 10 * SEG_MAX, ("the window never opened beyond the initial cwnd", f2)

    # Phase 3: a zero window (0 << 14). First as a pure window update (it ACKs nothing new,
    # so the window shrinks under data already sent and received, RFC 9293 3.8.6.2.2: the
    # sender must cope), then the ACK of everything, still with a zero window: no new data
    # may flow, only probes. (test_ack_of_everything_with_zero_window does it in one ACK.)
    hi = max(rel((s["seq"] + s["len"]) & M32, iss) for s in data_segs(r1["segs"] + r2["segs"]))
    p.cmd("set", win=0)
    p.send(flags="A", ack=last_ack)
    zero = p.send(flags="A")
    edge = zero["ack"]
    limit = max(rel(edge, iss), hi)
    r3 = p.recv(timeout=1.2, brief=True)
    beyond = [s for s in data_segs(r3["segs"])
              if rel((s["seq"] + s["len"]) & M32, iss) > limit + (1 if s["len"] == 1 else 0)]
    assert not beyond, "new data beyond a zero window: %s" % desc(r3["segs"], edge)
    assert r3["segs"], "no zero-window probe in 1.2 s"

    # Phase 4: a small scaled window, 2 << 14 = 32 KiB.
    p.cmd("set", win=2)
    reopen = p.send(flags="A")
    st = p.state()
    r4 = p.recv(bytes=256 << 10, bytes_base=st["rx_total"], timeout=10, autoack=True,
                brief=True)
    assert r4["met"], "only %d bytes after the window reopened" % (r4["rx_total"] -
                                                                  st["rx_total"])
    check_edges(r4["segs"], [reopen] + r4["acks"], 14, "32 KiB window")
    f4 = max_flight(r4["segs"], [reopen] + r4["acks"], reopen["ack"])
    assert f4 <= 2 << 14, ("flight beyond a 32 KiB window", f4)

    # Phase 5: the full window again, to the end of the stream and its FIN.
    p.cmd("set", win=65535)
    p.send(flags="A")
    r5 = p.recv(fin=True, timeout=15, autoack=True, brief=True)
    assert r5["met"], "the stream did not complete: %d of %d bytes" % (r5["rx_total"], n)
    got = bytes.fromhex(p.state(rx=True)["rx"])
    assert len(got) == n and got == source_stream(n), "2 MiB stream differs"


def test_ack_of_everything_with_zero_window(instance, peer):
    """RFC 9293 3.10.7.4 (fifth, ESTABLISHED): an ACK of new data updates SND.UNA *and* the
    send window before anything more is sent. A receiver that has taken everything but its
    application has not read it answers with exactly that: an ACK of all data, window 0.
    The sender must then send no new data (3.8.6.1: only zero-window probes)."""
    p = peer(14, dport=SOURCE)  # WS=7, window 65535 << 7 = 8 MiB
    r = p.connect()
    iss = r["synack"]["seq"]
    n = 1 << 20
    p.send(flags="PA", text="%d\n" % n)
    r1 = p.recv(bytes=256 << 10, timeout=10, autoack=True, brief=True)
    assert r1["met"], r1["rx_total"]
    r2 = p.recv(timeout=0.4, brief=True)  # stall: what was in flight arrives, no ACK
    hi = max(rel((s["seq"] + s["len"]) & M32, iss) for s in data_segs(r1["segs"] + r2["segs"]))
    p.cmd("set", win=0)
    zero = p.send(flags="A")  # ACK of all received, window 0, in one segment
    edge = zero["ack"]
    limit = max(rel(edge, iss), hi)
    r3 = p.recv(timeout=1.0, brief=True)
    beyond = [s for s in data_segs(r3["segs"])
              if rel((s["seq"] + s["len"]) & M32, iss) > limit + (1 if s["len"] == 1 else 0)]
    assert not beyond, \
        "new data beyond a zero window, sent in answer to the ACK that closed it " \
        "(t, flags, seq - our ACK, len): %s" % desc(r3["segs"], edge)
    assert r3["segs"], "no zero-window probe in 1 s"
    p.cmd("set", win=65535)
    st = p.state()
    p.send(flags="A")
    r4 = p.recv(fin=True, timeout=10, autoack=True, brief=True)
    assert r4["met"], (st["rx_total"], r4["rx_total"])
    assert bytes.fromhex(p.state(rx=True)["rx"]) == source_stream(n)


# ----------------------------------------------------------------------------------------------
# 5. A kernel client reusing one local port
REUSE_CLIENT = r"""
import errno, json, socket, sys, time
host, src, lport, n, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
    int(sys.argv[5])
want = bytes(((7 * k + 3 * (k >> 8) + 1) & 0xFF) for k in range(n))
ok, bad, retries, slow = 0, [], 0, []
t_end = time.monotonic() + 40
for i in range(count):
    if time.monotonic() > t_end:
        bad.append((i, "deadline"))
        break
    t0 = time.monotonic()
    while True:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(5)
        try:
            s.bind((src, lport))
            s.connect((host, 19))
            break
        except OSError as e:
            s.close()
            if e.errno in (errno.EADDRNOTAVAIL, errno.EADDRINUSE) and \
                    time.monotonic() - t0 < 3:
                retries += 1
                time.sleep(0.002)
                continue
            bad.append((i, repr(e)))
            s = None
            break
    if s is None:
        continue
    dt = time.monotonic() - t0
    if dt > 0.5:
        slow.append((i, round(dt, 3)))
    try:
        s.sendall(b"%d\n" % n)
        got = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except OSError as e:
        bad.append((i, repr(e)))
        s.close()
        continue
    s.close()
    if got == want:
        ok += 1
    else:
        bad.append((i, "got %d bytes" % len(got)))
print(json.dumps({"ok": ok, "bad": bad[:10], "nbad": len(bad), "retries": retries,
                  "slow": slow[:10], "nslow": len(slow)}))
"""


def test_kernel_client_reuses_port_through_time_wait(instance):
    """200 sequential connections from one local port (SO_REUSEADDR) to the source service:
    the dataplane closes first each time and keeps TIME-WAIT, the kernel closes second (no
    TIME-WAIT on its side) and connects again at once with a higher ISN and TSval. Every SYN
    must take over the TIME-WAIT (RFC 6191): no connection fails or waits for a SYN
    retransmission, and tcp_tw_reuse moves for all but the first."""
    count, n = 200, 1000
    lport = random.randrange(20000, 32000)
    base = instance.counters()
    p = instance.exec(PY, "-c", REUSE_CLIENT, instance.ipv4, instance.peer_ipv4, lport, n,
                      count, timeout=90, check=False)
    assert p.returncode == 0, "client failed (%d): %s" % (p.returncode, p.stderr[-2000:])
    r = json.loads(p.stdout.strip().splitlines()[-1])
    d = deltas(instance, base, ["tcp_tw_reuse", "tcp_accepts", "tcp_attempt_fails",
                                "tcp_challenge_acks", "tcp_closed_normal"])
    assert r["ok"] == count and r["nbad"] == 0, (r, d)
    assert r["nslow"] == 0, ("connections that waited (SYN retransmitted?)", r, d)
    d = instance.wait_counters(base, {"tcp_closed_normal": count}, timeout=5)
    d = deltas(instance, base, ["tcp_tw_reuse", "tcp_accepts", "tcp_attempt_fails",
                                "tcp_challenge_acks", "tcp_closed_normal"])
    # A SYN refused in TIME-WAIT gets a challenge ACK (RFC 5961 4); Linux in SYN-SENT answers
    # it with a RST, which closes the TIME-WAIT, and resends its SYN ~2 ms later
    # (tcp_rcv_synsent_state_process): the connection works, but not through reuse.
    assert d["tcp_tw_reuse"] >= count - 1 and d["tcp_challenge_acks"] == 0, \
        "%d of %d SYNs reused TIME-WAIT; %d were refused (challenge ACKs) - typically a " \
        "SYN whose TSval equals the last one seen (same millisecond) with a higher ISN, " \
        "which RFC 6191 2 honours: %s %s" % (d["tcp_tw_reuse"], count - 1,
                                             d["tcp_challenge_acks"], d, r)
    assert d["tcp_accepts"] == count and d["tcp_attempt_fails"] == 0, (d, r)
    tw_born()

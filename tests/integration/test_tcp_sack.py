"""SACK-based loss recovery (RFC 6675) of the dataplane's sender, driven by the scripted peer.

The peer (tcp_peer.py through test_tcp_edge.Peer) sends 8 full segments to the echo service,
takes the 8 echoed segments without acknowledging them, then reports a loss pattern with SACK
blocks the way a receiver would. The dataplane must resend exactly the holes the scoreboard
names (RFC 6675 4 NextSeg, IsLost), at once (long before its retransmission timeout), and
D-SACK (RFC 2883) or bogus blocks must not disturb it.
"""
import random

import pytest

from test_tcp_edge import M32, SEG_MAX, Peer, data_segs, deltas, payload

pytestmark = pytest.mark.netns

NSEG = 8
# Well inside the first RTO after the handshake (1 s) and the 200 ms floor: "at once".
PROMPT_S = 0.15
PORT_BASE = random.randrange(61000, 64000, 100)
PORTS_PER_TEST = 10
COUNTERS = ["tcp_sack_recoveries", "tcp_sack_rexmits", "tcp_fast_rexmits", "tcp_rto_timeouts",
            "tcp_dsack_rcvd", "tcp_sack_bad_blocks"]


@pytest.fixture
def peer(instance):
    peers = []

    def make(index, **cfg):
        p = Peer(instance, PORT_BASE + index * PORTS_PER_TEST, **cfg)
        peers.append(p)
        return p

    yield make
    for p in peers:
        p.close()


def eight_in_flight(p):
    """Connect, have NSEG full segments echoed and left unacknowledged. Returns S, where
    S(k) is the first sequence number of segment k (1..NSEG), S(NSEG + 1) the end."""
    r = p.connect()
    iss = r["synack"]["seq"]
    data = payload(NSEG * SEG_MAX, 9)
    for off in range(0, len(data), SEG_MAX):
        p.send(flags="PA", data=data[off:off + SEG_MAX].hex())
    r = p.recv(bytes=len(data), timeout=3, accept=True)
    assert r["met"], "echo incomplete: %s" % [(s["rseq"], s["len"]) for s in r["segs"]]
    segs = data_segs(r["segs"])
    assert [(s["seq"], s["len"]) for s in segs] == \
        [((iss + 1 + k * SEG_MAX) & M32, SEG_MAX) for k in range(NSEG)], segs

    def S(k):
        return (iss + 1 + (k - 1) * SEG_MAX) & M32
    return S


def resent(p, want):
    """Data segments the dataplane sends within PROMPT_S (stops early at `want` of them)."""
    r = p.recv(data_segs=want, timeout=PROMPT_S, accept=False)
    return [(s["seq"], s["len"]) for s in data_segs(r["segs"])]


def test_sack_holes_2_4_6_of_8_resent_exactly(instance, peer):
    """Segments 1, 3, 5 lost, 7 and 8 late: the peer's ACKs SACK 2, then 2 and 4, then 2, 4, 6
    (three duplicate ACKs: recovery, segment 1 resent), then 6-7 and 6-8 as they arrive, which
    make 3 and 5 lost by IsLost(). Exactly 1, 3, 5 are resent, at once, and no RTO."""
    p = peer(0)
    S = eight_in_flight(p)
    base = instance.counters()
    one = lambda k: [S(k), S(k + 1)]  # noqa: E731
    for blocks in ([one(2)], [one(4), one(2)], [one(6), one(4), one(2)],
                   [[S(6), S(8)], one(4), one(2)], [[S(6), S(9)], one(4), one(2)]):
        p.send(flags="A", ack=S(1), sack=blocks)
    got = resent(p, 3)
    p.send(flags="A", ack=S(9))  # everything arrived
    extra = resent(p, 1)
    d = deltas(instance, base, COUNTERS)
    assert got == [(S(1), SEG_MAX), (S(3), SEG_MAX), (S(5), SEG_MAX)], (got, d)
    assert not extra, ("sent after the final ACK", extra)
    assert d["tcp_sack_recoveries"] == 1 and d["tcp_fast_rexmits"] == 1, d
    assert d["tcp_sack_rexmits"] == 3 and d["tcp_rto_timeouts"] == 0, d


def test_sack_recovery_with_dsack_and_bogus_blocks(instance, peer):
    """The loss of 1, 3, 5 and 7 (8 late), with a block beyond what was
    sent (ignored, counted), a D-SACK below the cumulative ACK (RFC 2883 4.1.1) and one inside
    the second block (4.1.2): both counted, neither recorded; the holes are still resent
    exactly once each and nothing else is."""
    p = peer(1)
    S = eight_in_flight(p)
    base = instance.counters()
    one = lambda k: [S(k), S(k + 1)]  # noqa: E731
    p.send(flags="A", ack=S(1), sack=[one(2), [S(9), (S(9) + 1000) & M32]])  # beyond SND.MAX
    p.send(flags="A", ack=S(1), sack=[one(4), one(2)])
    p.send(flags="A", ack=S(1), sack=[one(6), one(4), one(2)])
    got = resent(p, 1)
    assert got == [(S(1), SEG_MAX)], got
    # Segment 1 and a duplicate of it arrived: ACK 3 with a D-SACK of 1; 8 arrived meanwhile.
    p.send(flags="A", ack=S(3), sack=[one(1), one(8), one(6)])
    p.send(flags="A", ack=S(3), sack=[one(8), one(6), one(4)])
    got += resent(p, 2)
    # A D-SACK inside the second block (a duplicate of 6): nothing to resend for it, and
    # the resent 3 and 5 fill cwnd (RFC 6675 pipe): 7 waits.
    p.send(flags="A", ack=S(3), sack=[one(6), [S(6), S(7)], one(4)])
    none = resent(p, 1)
    # 3 and 5 arrive: 7 is a hole below SACKed data, resent by rule 3 (no new data to send).
    p.send(flags="A", ack=S(7), sack=[one(8)])
    got += resent(p, 2)
    p.send(flags="A", ack=S(9))
    d = deltas(instance, base, COUNTERS)
    assert not none, ("sent on a D-SACK", none)
    assert got == [(S(1), SEG_MAX), (S(3), SEG_MAX), (S(5), SEG_MAX), (S(7), SEG_MAX)], (got, d)
    assert d["tcp_dsack_rcvd"] == 2 and d["tcp_sack_bad_blocks"] == 1, d
    assert d["tcp_sack_recoveries"] == 1 and d["tcp_rto_timeouts"] == 0, d
    assert d["tcp_sack_rexmits"] == 4, d

"""The dataplane's ARP cache against the kernel as its neighbour (docs/internals/arp.md).

A 1-worker instance of its own with a short reachable time (arp_reachable_ms=2000, so entries
go stale after 1-3 s). The kernel side holds a permanent neighbour entry for the appliance, so
it never asks for our address: everything our cache knows it learns from answers to its own
requests. A long-lived echo connection keeps traffic flowing while an AF_PACKET socket in the
namespace records every ARP frame.
"""
import json
from pathlib import Path

import pytest

from harness import PY, instance_up, run

pytestmark = pytest.mark.netns

ARP_PEER = Path(__file__).resolve().parent / "arp_peer.py"
REACHABLE_MS = 2000
OP_REQUEST, OP_REPLY = 1, 2


@pytest.fixture(scope="module")
def arp_inst(request):
    from harness import instance_down
    name = "spt-itarp"
    instance_down(name, purge=True)
    try:
        inst = instance_up(name, 1, "--set", "test_services=true", "--set", "api=false",
                           "--set", "arp_reachable_ms=%d" % REACHABLE_MS,
                           "--set", "arp_probes=3")
        # The kernel never resolves us: our requests are the only ARP on the link.
        run(["ip", "-n", inst.netns, "neigh", "replace", inst.ipv4, "lladdr", inst.mac(),
             "dev", inst.iface, "nud", "permanent"], timeout=10)
        yield inst
    finally:
        instance_down(name, purge=True)


def watch(inst, seconds):
    p = inst.exec(PY, ARP_PEER, "echo-watch", inst.ipv4, inst.iface, seconds,
                  timeout=seconds + 60, check=False)
    assert p.returncode == 0, "arp_peer failed (%d):\n%s" % (p.returncode, p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def ours(inst, r, op):
    return [f for f in r["arp"] if f.get("op") == op and f["sha"] == inst.mac()
            and f["tip"] == inst.peer_ipv4]


def test_resolves_and_reconfirms_across_expiry(arp_inst):
    inst = arp_inst
    peer_mac = inst.peer_mac()
    base = inst.counters()
    r = watch(inst, 9)
    assert r["ok"] and r["rounds"] > 40, r
    reqs = ours(inst, r, OP_REQUEST)
    # Resolution: the first request is a broadcast, answered by the kernel.
    assert reqs and reqs[0]["dst"] == "ff:ff:ff:ff:ff:ff", r["arp"]
    replies = [f for f in r["arp"] if f.get("op") == OP_REPLY and f["sip"] == inst.peer_ipv4]
    assert replies, r["arp"]
    # After expiry the kernel sees unicast probes for itself, answers them, and the echo
    # connection never stalls (r["ok"]).
    probes = [f for f in reqs if f["dst"] == peer_mac]
    assert len(probes) >= 2, r["arp"]
    # At most one request per second to this neighbour (RFC 1122 2.3.2.1).
    times = [f["t"] for f in reqs]
    assert all(b - a >= 0.9 for a, b in zip(times, times[1:])), times
    c = inst.counters()
    d = {k: c[k] - base[k] for k in c}
    assert d["arp_expired"] >= 2 and d["arp_probe_out"] >= 2, d
    assert d["arp_reply_in"] >= 3 and d["arp_failed"] == 0, d
    assert d["arp_cache_hit"] > 0, d
    # the status report carries each worker's cache occupancy
    arp = inst.dataplane()["arp"]
    assert len(arp) == 1 and 1 <= arp[0]["entries"] <= arp[0]["capacity"], arp


def test_silent_peer_entry_goes_away(arp_inst):
    """The kernel stops answering ARP: probes go unanswered, the entry is dropped (counted),
    re-resolution by broadcast starts, and the connection keeps going on its SYN's MAC."""
    inst = arp_inst
    nft = ["ip", "netns", "exec", inst.netns, "nft"]
    run(nft + ["add table arp spt_arp_block"], timeout=10)
    try:
        run(nft + ["add chain arp spt_arp_block out { type filter hook output priority 0 ; }"],
            timeout=10)
        run(nft + ["add rule arp spt_arp_block out drop"], timeout=10)
        base = inst.counters()
        r = watch(inst, REACHABLE_MS * 1.5 / 1000 + 6)
        assert r["ok"], r
        assert not [f for f in r["arp"] if f.get("op") == OP_REPLY], r["arp"]
        reqs = ours(inst, r, OP_REQUEST)
        times = [f["t"] for f in reqs]
        assert all(b - a >= 0.9 for a, b in zip(times, times[1:])), times
        c = inst.counters()
        d = {k: c[k] - base[k] for k in c}
        assert d["arp_failed"] >= 1, d
        assert d["arp_probe_out"] >= 3, d
        assert d["arp_hint_tx"] > 0, d
    finally:
        run(nft + ["delete table arp spt_arp_block"], timeout=10, check=False)
    # Answers again: the cache resolves and stops falling back.
    base = inst.counters()
    r = watch(inst, 4)
    assert r["ok"], r
    c = inst.counters()
    assert c["arp_reply_in"] - base["arp_reply_in"] >= 1

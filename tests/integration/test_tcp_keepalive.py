"""Keepalive (RFC 1122 4.2.3.6) against the kernel's TCP, and a peer that vanishes.

An instance with a short keepalive (1 s idle, 1 s interval, 3 probes): an idle kernel client
answers the probes and its connection survives; then an nftables netdev ingress rule on the
tap drops everything the dataplane sends (the peer "vanished"), and the dataplane resets the
connection after its unanswered probes.
"""
import time

import pytest

from harness import PY, instance_up

pytestmark = [pytest.mark.netns, pytest.mark.slow]

HOLD = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], 7), timeout=5)
s.sendall(b"x"); assert s.recv(1) == b"x"
time.sleep(float(sys.argv[2]))
"""


def estab(inst):
    return inst.dataplane()["tcp"]["states"]["ESTABLISHED"]


def test_keepalive_probes_then_peer_vanishes(fresh_name):
    inst = instance_up(fresh_name("k"), 1, "--set", "test_services=true",
                       "--set", "tcp_keepalive_idle_s=1", "--set", "tcp_keepalive_intvl_s=1",
                       "--set", "tcp_keepalive_probes=3")
    base = inst.counters()
    inst.exec("bash", "-c", "%s -c '%s' %s 20 >/dev/null 2>&1 &" % (PY, HOLD, inst.ipv4),
              timeout=30)
    deadline = time.time() + 10
    while estab(inst) != 1 and time.time() < deadline:
        time.sleep(0.2)
    assert estab(inst) == 1
    time.sleep(4)  # idle: probes go out every second after the first idle second, answered
    c = inst.counters()
    assert c["tcp_keepalive_probes"] - base["tcp_keepalive_probes"] >= 2, c
    assert c["tcp_keepalive_drops"] == base["tcp_keepalive_drops"]
    assert estab(inst) == 1, "an answered keepalive must keep the connection"
    # The peer vanishes: drop every frame the dataplane sends to the kernel.
    inst.exec("nft", "add table netdev spk", timeout=10)
    try:
        inst.exec("nft", "add chain netdev spk in { type filter hook ingress device %s "
                  "priority 0 ; policy drop ; }" % inst.iface, timeout=10)
        deadline = time.time() + 15
        while estab(inst) != 0 and time.time() < deadline:
            time.sleep(0.5)
        c = inst.counters()
        assert estab(inst) == 0, inst.dataplane()["tcp"]
        assert c["tcp_keepalive_drops"] - base["tcp_keepalive_drops"] == 1, c
    finally:
        inst.exec("nft", "delete table netdev spk", timeout=10, check=False)

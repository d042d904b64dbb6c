"""DPDK to DPDK over net_memif: a second DPDK process (dpdk-testpmd, Debian's dpdk-dev) sends
to the dataplane's memif port, and the dataplane's own counters show the frames arrived on that
port's queue and went through its receive path. Both sides use a filesystem socket
(socket-abstract=no): an abstract Unix socket, memif's default, lives in one network
namespace, and the dataplane runs in the instance's.

The instance gets a second port, net_memif in server role, beside its tap. testpmd connects
as the memif client, in txonly mode, addressed to the dataplane's MAC and address, for a few
seconds (bounded by timeout). Its frames are UDP, which the dataplane does not serve yet, so
they are counted as drop_ip_proto: proof they were parsed, not just received.

The instance runs two workers, and memif has no RSS, so software steering is on for that
port: testpmd sends over two queues with --txonly-multi-flow (varying source addresses), and
each flow's frames must be processed by the worker its Toeplitz hash names, whichever queue
they came in on: the receiving workers hand frames to their owners (steer_out / steer_in).

testpmd connects, sends and leaves CYCLES times (SPATE_MEMIF_CYCLES, default 3; the soak
tools/soak/memif.sh runs 50): every departure unmaps the shared regions under the workers'
polls, which DPDK 22.11's memif does not synchronise with the datapath (the interrupt-thread
gate, dataplane/core/intr_gate.h, does). The dataplane must still be there after each one,
with the gate having cycled.
"""
import os
import re
import shutil
import subprocess
import time

import pytest

from harness import instance_up

pytestmark = [pytest.mark.netns, pytest.mark.slow]

SECONDS = 3
CYCLES = int(os.environ.get("SPATE_MEMIF_CYCLES", "3"))


@pytest.mark.skipif(shutil.which("dpdk-testpmd") is None, reason="dpdk-testpmd not installed")
def test_memif_frames_from_another_dpdk_process(fresh_name):
    name = fresh_name("m")
    sock = "/run/spate/%s-memif.sock" % name
    subnet = "198.19.250"
    inst = instance_up(name, 2, "--set", "port1=net_memif0,role=server,socket=%s,socket-abstract=no" % sock,
                       "--set", "port1_ipv4=%s.2/24" % subnet)
    ports = inst.dataplane()["ports"]
    memif = [p for p in ports if p["name"] == "net_memif0"]
    assert memif, ports
    assert memif[0]["rss"] is False and memif[0]["steering"] is True, memif
    mac = memif[0]["mac"]
    try:
        for cycle in range(CYCLES):
            memif_cycle(inst, name, sock, subnet, mac, cycle)
    finally:
        subprocess.run(["rm", "-rf", "/var/run/dpdk/%s-tp" % name], check=False)
    gate = inst.dataplane()["intr_gate"]
    assert gate["enabled"] is True and gate["rounds"] > 0, gate
    print("intr_gate %s" % gate)


def memif_cycle(inst, name, sock, subnet, mac, cycle):
    """One testpmd session: connect, flood for SECONDS, leave; then the dataplane's view."""
    base = inst.counters()
    base_rx = sum(q["rx_pkts"] for q in memif_port(inst)["queues"])
    cmd = ["timeout", "-s", "INT", str(SECONDS + 5), "dpdk-testpmd", "--no-pci",
           "--file-prefix", name + "-tp", "--huge-unlink", "-m", "128", "-l", "0,1",
           "--vdev", "net_memif0,role=client,socket=%s,socket-abstract=no" % sock, "--log-level", "4", "--",
           "--forward-mode=txonly", "--txonly-multi-flow", "--rxq=2", "--txq=2",
           "--eth-peer=0,%s" % mac,
           "--tx-ip=%s.1,%s.2" % (subnet, subnet), "--stats-period", "1", "--nb-cores=1"]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS + 30)
    assert time.time() - t0 < SECONDS + 20
    sent = [int(x) for x in re.findall(r"TX-packets:\s+(\d+)", p.stdout)]
    assert sent and max(sent) > 0, p.stdout[-2000:] + p.stderr[-2000:]
    # testpmd has left: the dataplane survived the disconnect and still answers
    memif = memif_port(inst)
    rx = sum(q["rx_pkts"] for q in memif["queues"]) - base_rx
    assert rx > 1000, (cycle, memif)
    c = inst.counters()
    assert c["drop_ip_proto"] - base["drop_ip_proto"] > 1000, c
    # Steering moved frames between the workers, and both own some flows. (testpmd floods:
    # a full ring may drop, counted as steer_drop_full, like a full rx queue.)
    workers = [w["counters"] for w in inst.dataplane()["workers"]]
    assert c["steer_out"] - base["steer_out"] > 100, c
    assert all(w["steer_in"] > 0 and w["drop_ip_proto"] > 0 for w in workers), workers
    print("cycle %d: steer_out %d steer_in %d steer_drop_full %d rx %d" % (
        cycle, c["steer_out"] - base["steer_out"], c["steer_in"] - base["steer_in"],
        c["steer_drop_full"] - base["steer_drop_full"], rx))


def memif_port(inst):
    return [q for q in inst.dataplane()["ports"] if q["name"] == "net_memif0"][0]

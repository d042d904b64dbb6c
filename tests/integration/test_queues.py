"""With two workers, each owns an rx queue of port 0 and both see traffic.

The kernel side of the multi-queue tap picks the queue by flow hash, so many distinct UDP flows
spread over both queues. UDP is not served yet (drop_ip_proto), which is fine: the queues count
every frame they receive.
"""
import json

import pytest

from harness import NSTOOL, PY

pytestmark = pytest.mark.netns

FLOWS = 256
PKTS_PER_FLOW = 2


def queue_rx(instance):
    return {q["queue"]: q["rx_pkts"] for q in instance.port0()["queues"]}


def test_two_workers_each_own_a_queue(instance):
    if instance.workers < 2:
        pytest.skip("instance has %d worker(s)" % instance.workers)
    dp = instance.dataplane()
    queues = dp["ports"][0]["queues"]
    assert len(queues) == instance.workers, queues
    assert sorted(q["worker"] for q in queues) == list(range(instance.workers)), queues
    assert len({q["lcore"] for q in queues}) == instance.workers, queues
    assert len(dp["workers"]) == instance.workers, dp["workers"]


def test_flows_spread_over_both_queues(instance):
    if instance.workers < 2:
        pytest.skip("instance has %d worker(s)" % instance.workers)
    # make sure the kernel has resolved the appliance before the burst
    assert instance.ping(2)[1] == 2
    before = queue_rx(instance)
    base = instance.counters()
    p = instance.exec(PY, NSTOOL, "udp", instance.ipv4, 9, FLOWS, PKTS_PER_FLOW, timeout=60)
    sent = json.loads(p.stdout)["sent"]
    assert sent >= FLOWS, p.stdout
    instance.wait_counters(base, {"drop_ip_proto": FLOWS})
    after = queue_rx(instance)
    deltas = {q: after[q] - before.get(q, 0) for q in after}
    assert deltas.get(0, 0) > 0 and deltas.get(1, 0) > 0, \
        "per-queue rx deltas %s after %d flows" % (deltas, FLOWS)
    assert sum(deltas.values()) >= FLOWS, deltas

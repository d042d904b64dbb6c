"""Traffic takes the DPDK path: no kernel socket listens in the namespace, yet the dataplane's
receive counters move when the appliance's address is used."""
import pytest

from harness import run

pytestmark = pytest.mark.netns


def listeners(instance, flags):
    p = run(["ip", "netns", "exec", instance.netns, "ss", "-H", flags], timeout=10)
    return [line for line in p.stdout.splitlines() if line.strip()]


def test_no_kernel_listener_and_dataplane_counts(instance):
    assert listeners(instance, "-ltn") == []
    assert listeners(instance, "-lun") == []
    # the appliance's address is not a kernel address in the namespace
    p = run(["ip", "-n", instance.netns, "-4", "-o", "addr", "show"], timeout=10)
    assert instance.ipv4 + "/" not in p.stdout, p.stdout
    base = instance.counters()
    port_base = instance.port0()["stats"]["ipackets"]
    tx, rx, out = instance.ping(20)
    assert rx == 20, out
    instance.wait_counters(base, {"rx_pkts": 20, "icmp_echo_in": 20})
    assert instance.port0()["stats"]["ipackets"] - port_base >= 20

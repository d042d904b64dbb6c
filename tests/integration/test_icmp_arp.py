"""The appliance answers ICMP echo and ARP, and says so in its own counters."""
import pytest

from harness import run

pytestmark = pytest.mark.netns


def test_ping_1000_no_loss(instance):
    base = instance.counters()
    tx, rx, out = instance.ping(1000, interval=0.002)
    assert tx == 1000 and rx == 1000, "ping lost replies:\n" + out
    instance.wait_counters(base, {"icmp_echo_in": 1000, "icmp_echo_reply_out": 1000,
                                  "rx_pkts": 1000, "tx_pkts": 1000})


def test_arping_gets_five_answers(instance):
    base = instance.counters()
    p = instance.exec("arping", "-c", 5, "-w", 10, "-I", instance.iface, instance.ipv4,
                      timeout=30, check=False)
    assert "Received 5 response" in p.stdout, "arping:\n%s\n%s" % (p.stdout, p.stderr)
    assert p.returncode == 0, p.stdout
    c = instance.wait_counters(base, {"arp_req_in": 5, "arp_reply_out": 5})
    # every answer came from the MAC address the dataplane reports for port 0
    mac = instance.mac()
    assert mac in p.stdout.lower(), "arping answers not from %s:\n%s" % (mac, p.stdout)
    assert c["arp_reply_out"] - base["arp_reply_out"] <= c["arp_req_in"] - base["arp_req_in"]


def test_kernel_neighbour_is_the_dataplane_mac(instance):
    """After traffic, the namespace's neighbour entry for the appliance is port 0's MAC."""
    tx, rx, out = instance.ping(3)
    assert rx == 3, out
    p = run(["ip", "-n", instance.netns, "neigh", "show", instance.ipv4], timeout=10)
    assert instance.mac() in p.stdout.lower(), p.stdout

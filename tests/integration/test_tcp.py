"""The userspace TCP stack against the kernel's TCP as a peer, on a clean link.

Workloads run inside the instance's namespace (tcp_client.py) against the dataplane's test
services (echo 7, SHA-256 sink 9, source 19; config key test_services, set by conftest);
results are judged by byte-exact SHA-256 comparison and by the dataplane's own counters.
"""
import json
from pathlib import Path

import pytest

import frames as F
from harness import PY

pytestmark = pytest.mark.netns

TCP_CLIENT = Path(__file__).resolve().parent / "tcp_client.py"
GIB = 1 << 30


def client(instance, *args, timeout=300):
    p = instance.exec(PY, TCP_CLIENT, *args, timeout=timeout, check=False)
    assert p.returncode == 0, "tcp_client %s failed (%d):\n%s" % (args, p.returncode, p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def tcp_conns(instance):
    return instance.dataplane()["tcp"]


def test_port_without_listener_is_refused(instance):
    base = instance.counters()
    r = client(instance, "refused", instance.ipv4, 4242)
    assert r["ok"], r
    instance.wait_counters(base, {"tcp_drop_no_listener": 1, "tcp_out_rsts": 1})


def test_echo_small(instance):
    base = instance.counters()
    r = client(instance, "echo", instance.ipv4, 1000)
    assert r["ok"], r
    instance.wait_counters(base, {"tcp_passive_opens": 1, "tcp_accepts": 1})


def test_echo_64mib(instance):
    r = client(instance, "echo", instance.ipv4, 64 << 20)
    assert r["ok"], r


def test_sink_1gib_sha256(instance):
    """1 GiB from the kernel to the dataplane; the server's SHA-256 must match ours."""
    r = client(instance, "sink", instance.ipv4, GIB, timeout=600)
    assert r["ok"], r


def test_source_1gib_sha256(instance):
    """1 GiB from the dataplane to the kernel, checked against the defined stream."""
    r = client(instance, "source", instance.ipv4, GIB, timeout=600)
    assert r["ok"], r


def test_1000_concurrent_clients_echo_64kib(instance):
    base = instance.counters()
    r = client(instance, "concurrent", instance.ipv4, 1000, 65536, timeout=600)
    assert r["ok"], r
    instance.wait_counters(base, {"tcp_accepts": 1000, "tcp_closed_normal": 1000}, timeout=30)


def test_malformed_segments_are_counted_and_dropped(instance):
    c_mac, p_mac = instance.mac(), instance.peer_mac()
    us, peer = instance.ipv4, instance.peer_ipv4

    def seg(**kw):
        return F.eth(c_mac, p_mac, F.ETH_P_IP, F.ipv4(peer, us, F.IPPROTO_TCP, F.tcp(
            peer, us, 40001, 7, **kw)))

    cases = [
        (seg(checksum=0x1234), "tcp_drop_csum"),
        (seg(doff=3), "tcp_drop_offset"),
        (seg(doff=15), "tcp_drop_offset"),
        (seg(flags=F.TCP_SYN | F.TCP_RST), "tcp_drop_flags"),
        (seg(flags=F.TCP_SYN | F.TCP_FIN), "tcp_drop_flags"),
        (seg(flags=0), "tcp_drop_flags"),
        (seg(options=b"\x02\x03\x05"), "tcp_drop_opts"),       # MSS option with length 3
        (seg(options=b"\x08\x01"), "tcp_drop_opts"),           # option length below 2
        (F.eth(c_mac, p_mac, F.ETH_P_IP, F.ipv4(peer, us, F.IPPROTO_TCP, b"\x00" * 12)),
         "tcp_drop_short"),
    ]
    for frame, counter in cases:
        base = instance.counters()
        instance.send_frames([frame], count=3)
        instance.wait_counters(base, {counter: 3})
        assert instance.counters()["tcp_passive_opens"] == base["tcp_passive_opens"], counter
    # An ACK for no connection on a listening port is answered by a RST (RFC 9293 3.10.7.2).
    base = instance.counters()
    instance.send_frames([seg(flags=F.TCP_ACK, ack=77)], count=2)
    instance.wait_counters(base, {"tcp_out_rsts": 2})
    # ... and the stack still serves.
    r = client(instance, "echo", instance.ipv4, 100000)
    assert r["ok"], r


def test_connections_end_cleanly(instance):
    """Every connection of the tests above is gone, or parked in TIME-WAIT (2 MSL)."""
    def open_states():
        st = tcp_conns(instance)["states"]
        return {k: v for k, v in st.items() if v and k != "TIME-WAIT"}

    import time
    deadline = time.time() + 20
    while open_states() and time.time() < deadline:
        time.sleep(0.5)
    assert not open_states(), tcp_conns(instance)

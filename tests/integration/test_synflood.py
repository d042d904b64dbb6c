"""A bounded SYN flood from hping3 inside the namespace: legitimate clients still connect.

hping3 floods the echo port from an address of the subnet that no host owns (198.18.S.99,
so nobody answers the SYN-ACKs and half-open connections pile up) for a few seconds, at the
highest rate it reaches here. Meanwhile the kernel's own clients connect and echo: once a
worker's half-open connections reach tcp_syn_backlog, SYNs are answered with SYN cookies,
and the clients' handshakes complete through them.
"""
import json
import time
from pathlib import Path

import pytest

from harness import PY, instance_up

pytestmark = [pytest.mark.netns, pytest.mark.slow]

TCP_CLIENT = Path(__file__).resolve().parent / "tcp_client.py"
FLOOD_SECONDS = 6


def test_syn_flood_legitimate_clients_served(fresh_name):
    inst = instance_up(fresh_name("s"), 2, "--set", "test_services=true")
    spoof = inst.ipv4.rsplit(".", 1)[0] + ".99"
    base = inst.counters()
    flood = inst.exec("bash", "-c",
                      "timeout %d hping3 -q -S -p 7 --flood -a %s %s >/dev/null 2>&1 & "
                      "echo $!" % (FLOOD_SECONDS, spoof, inst.ipv4), timeout=30)
    assert flood.returncode == 0, flood.stderr
    time.sleep(2)  # the flood has filled the backlog
    p = inst.exec(PY, TCP_CLIENT, "concurrent", inst.ipv4, 50, 65536, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["ok"], r
    time.sleep(FLOOD_SECONDS)  # the flood has stopped by itself
    c = inst.counters()
    d = {k: c[k] - base[k] for k in ("tcp_syncookies_sent", "tcp_syncookies_ok",
                                    "tcp_accepts", "rx_pkts")}
    assert d["tcp_syncookies_sent"] > 1000, d
    assert d["tcp_syncookies_ok"] > 0, d
    assert d["tcp_accepts"] >= 50, d
    # half-open state stayed bounded by the backlog (2 workers x 1024)
    st = inst.dataplane()["tcp"]["states"]
    assert st["SYN-RECEIVED"] <= 2 * 1024, st

"""spatectl status, as a table and as JSON, shows the dataplane's shape and live counters."""
import json
import re

import pytest

from harness import run, spatectl_bin

pytestmark = pytest.mark.netns

QUEUE_KEYS = {"queue", "lcore", "worker", "rx_pkts", "rx_bytes", "tx_pkts", "tx_bytes",
              "tx_drops"}
COUNTERS_DEF = __import__("pathlib").Path(__file__).resolve().parents[2] / \
    "include" / "spate" / "counters.def"


def counter_names():
    return re.findall(r"^SP_COUNTER\((\w+),", COUNTERS_DEF.read_text(), re.M)


def test_status_json_shape(instance):
    st = instance.status()
    assert "control" in st and "dataplane" in st, st.keys()
    dp = st["dataplane"]
    assert dp["connected"] is True
    assert dp["pid"] == instance.dataplane_pid
    assert len(dp["lcores"]) >= instance.workers, dp["lcores"]
    assert len(dp["ports"]) >= 1
    p0 = dp["ports"][0]
    assert p0["port"] == 0
    assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", p0["mac"].lower()), p0["mac"]
    assert str(p0["ipv4"]).startswith(instance.ipv4), p0["ipv4"]
    assert {"ipackets", "opackets"} <= set(p0["stats"]), p0["stats"]
    assert len(p0["queues"]) == instance.workers, p0["queues"]
    for q in p0["queues"]:
        assert QUEUE_KEYS <= set(q), q
    names = counter_names()
    assert names, "no counters parsed from counters.def"
    missing = [n for n in names if n not in dp["counters"]]
    assert not missing, "status lacks counters %s" % missing
    assert len(dp["workers"]) == instance.workers
    for w in dp["workers"]:
        assert set(names) <= set(w["counters"]), w


def test_status_table(instance):
    p = instance.spatectl("status")
    out = p.stdout
    assert out.strip(), "empty table"
    low = out.lower()
    assert instance.ipv4 in out, out
    assert instance.mac() in low, out
    assert "lcore" in low, out
    assert "queue" in low or "rx" in low, out


def test_status_via_name(instance):
    """spatectl --name resolves the socket under SPATE_RUN_BASE."""
    env_base = str(instance.run_dir.parent)
    p = run(["env", "SPATE_RUN_BASE=" + env_base, spatectl_bin(), "--name", instance.name,
             "--json", "status"], timeout=15)
    assert json.loads(p.stdout)["dataplane"]["connected"] is True


def test_counters_move_between_calls(instance):
    s1 = instance.dataplane()
    tx, rx, out = instance.ping(30, interval=0.005)
    assert rx == 30, out

    def moved():
        s2 = instance.dataplane()
        c1, c2 = s1["counters"], s2["counters"]
        ok = (c2["rx_pkts"] - c1["rx_pkts"] >= 30 and c2["tx_pkts"] - c1["tx_pkts"] >= 30
              and c2["icmp_echo_in"] - c1["icmp_echo_in"] >= 30
              and c2["polls"] > c1["polls"]
              and s2["ports"][0]["stats"]["ipackets"] - s1["ports"][0]["stats"]["ipackets"] >= 30
              and s2["ports"][0]["stats"]["opackets"] - s1["ports"][0]["stats"]["opackets"] >= 30)
        q1 = sum(q["rx_pkts"] for q in s1["ports"][0]["queues"])
        q2 = sum(q["rx_pkts"] for q in s2["ports"][0]["queues"])
        return ok and q2 - q1 >= 30

    from harness import wait_until
    wait_until(moved, 10, interval=0.3, what="counters to move after 30 pings")

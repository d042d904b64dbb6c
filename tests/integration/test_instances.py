"""Instances are independent, `down --purge` leaves nothing behind, and `up` after `down`
recovers the instance's data dir and address."""
import glob
import os
from pathlib import Path

import pytest

from harness import instance_down, instance_up, pid_alive, run

pytestmark = [pytest.mark.netns, pytest.mark.slow]


def netns_list():
    p = run(["ip", "netns", "list"], timeout=10)
    return [line.split()[0] for line in p.stdout.splitlines() if line.strip()]


def assert_gone(inst, control_pid, data_dir_kept):
    assert inst.name not in netns_list()
    assert glob.glob("/dev/hugepages/spate-%smap_*" % inst.name) == []
    assert not os.path.exists("/var/run/dpdk/spate-%s" % inst.name)
    assert not inst.run_dir.exists(), list(inst.run_dir.iterdir())
    assert inst.data_dir.exists() == data_dir_kept
    assert not pid_alive(inst.dataplane_pid), "dataplane %d still runs" % inst.dataplane_pid
    assert not pid_alive(control_pid), "control %d still runs" % control_pid


def test_two_instances_coexist_and_purge_leaves_nothing(instance, fresh_name):
    name = fresh_name("2")
    second = instance_up(name, 1)
    control_pid = int(second.info["control_pid"])
    assert second.slot != instance.slot
    assert second.ipv4 != instance.ipv4
    # the dataplane may unlink its hugepage files once mapped; its mappings still name them
    maps = Path("/proc/%d/maps" % second.dataplane_pid).read_text()
    assert "spate-%smap_" % name in maps, "second dataplane maps no hugepages of its own"
    for inst in (instance, second):
        tx, rx, out = inst.ping(20, interval=0.01)
        assert rx == 20, "%s: %s" % (inst.name, out)
    assert second.counters()["icmp_echo_in"] >= 20
    instance_down(name, purge=True)
    assert_gone(second, control_pid, data_dir_kept=False)
    # the session instance is untouched
    assert instance.ping(10)[1] == 10


def test_up_after_down_recovers_data_dir(fresh_name):
    name = fresh_name("3")
    first = instance_up(name, 1)
    catalog = first.data_dir / "catalog.db"
    creds = (first.data_dir / "credentials").read_text()
    assert catalog.exists(), "no catalog.db in %s" % first.data_dir
    assert first.ping(5)[1] == 5

    instance_down(name, purge=False)
    assert_gone(first, int(first.info["control_pid"]), data_dir_kept=True)
    assert catalog.exists()
    assert (first.data_dir / "log" / "dataplane.log").exists()

    again = instance_up(name, 1)
    assert again.slot == first.slot and again.ipv4 == first.ipv4
    assert again.data_dir == first.data_dir
    assert catalog.exists()
    assert (again.data_dir / "credentials").read_text() == creds
    assert again.ping(5)[1] == 5
    instance_down(name, purge=True)
    assert not Path(again.data_dir).exists()

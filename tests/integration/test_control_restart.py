"""The dataplane does not depend on spate-control to forward: killing control leaves pings
answered, and a restarted control gets the dataplane back within seconds."""
import time

import pytest

from harness import kill_pid, pid_alive, spate_dev, wait_until

pytestmark = pytest.mark.netns

RECONNECT_S = 10


def test_kill_control_dataplane_keeps_answering(instance):
    pid_file = instance.run_dir / "control.pid"
    cpid = int(pid_file.read_text().split()[0])
    with open("/proc/%d/cmdline" % cpid, "rb") as f:
        assert b"spate-control" in f.read(), "control.pid does not name spate-control"
    before = instance.counters()

    kill_pid(cpid)
    try:
        tx, rx, out = instance.ping(200, interval=0.005)
        assert tx == rx == 200, "ping without control:\n" + out
        assert pid_alive(instance.dataplane_pid), "dataplane died with control"
        p = instance.spatectl("ping", check=False)
        assert p.returncode == 3, "spatectl ping after SIGKILL: exit %d" % p.returncode
    finally:
        p = spate_dev("restart-control", instance.name, timeout=60)
    new_pid = int(p.stdout.strip().split("=", 1)[1])
    assert new_pid != cpid and pid_alive(new_pid)

    t0 = time.monotonic()
    dp = wait_until(lambda: instance.status()["dataplane"].get("connected") and
                    instance.status()["dataplane"], RECONNECT_S, interval=0.2,
                    what="dataplane to reconnect to the new control")
    took = time.monotonic() - t0
    assert dp["pid"] == instance.dataplane_pid, "a different dataplane answered"
    # the dataplane kept its counters across the control restart, and they still move
    assert dp["counters"]["icmp_echo_in"] >= before["icmp_echo_in"] + 200
    base = dp["counters"]
    assert instance.ping(10)[1] == 10
    instance.wait_counters(base, {"icmp_echo_in": 10})
    print("dataplane reconnected %.2fs after control answered" % took)

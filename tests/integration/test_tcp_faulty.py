"""The TCP stack on a faulty link, both directions, against the kernel's TCP.

Each case brings up its own instance whose dataplane runs the seeded impairment stage
(dataplane/core/pktio_fault.c: config keys fault_*) between its workers and the tap, so every
frame in both directions is subject to it. Transfers stay small here (CI); the 1 GiB impaired
runs are in tools/soak/tcp-impaired.sh. Judged by SHA-256 of every byte and by counters: the
impairment happened, retransmissions moved, nothing was corrupted or lost.
"""
import json
from pathlib import Path

import pytest

from harness import PY, instance_up

pytestmark = [pytest.mark.netns, pytest.mark.slow]

TCP_CLIENT = Path(__file__).resolve().parent / "tcp_client.py"
MIB = 1 << 20

# (id, fault settings, counters that must move)
CASES = [
    ("loss5", {"fault_loss_ppm": 50000}, ["fault_drops", "tcp_retrans_segs"]),
    ("reorder25", {"fault_reorder_ppm": 250000}, ["fault_reorders", "tcp_ooo_segs"]),
    ("dup2", {"fault_dup_ppm": 20000}, ["fault_dups"]),
    ("corrupt0.1", {"fault_corrupt_ppm": 1000}, ["fault_corrupts"]),
    ("delay20ms", {"fault_delay_us": 20000, "fault_jitter_us": 10000}, ["fault_delayed"]),
    ("all", {"fault_loss_ppm": 50000, "fault_reorder_ppm": 250000, "fault_dup_ppm": 20000,
             "fault_corrupt_ppm": 1000, "fault_delay_us": 20000, "fault_jitter_us": 10000},
     ["fault_drops", "fault_reorders", "fault_dups", "fault_corrupts", "tcp_retrans_segs"]),
]


def client(inst, *args, timeout=600):
    p = inst.exec(PY, TCP_CLIENT, *args, timeout=timeout, check=False)
    assert p.returncode == 0, "tcp_client %s failed (%d):\n%s" % (args, p.returncode, p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case_id,faults,moved", CASES, ids=[c[0] for c in CASES])
def test_faulty_link(fresh_name, case_id, faults, moved):
    name = fresh_name("f")
    sets = []
    for k, v in sorted(dict(faults, test_services="true", fault_seed=7).items()):
        sets += ["--set", "%s=%s" % (k, v)]
    inst = instance_up(name, 1, *sets)
    size = 4 * MIB if case_id != "all" else 2 * MIB
    results = {
        "echo": client(inst, "echo", inst.ipv4, size),
        "sink": client(inst, "sink", inst.ipv4, size),
        "source": client(inst, "source", inst.ipv4, size),
        "concurrent": client(inst, "concurrent", inst.ipv4, 20, 65536),
    }
    bad = {k: r for k, r in results.items() if not r["ok"]}
    assert not bad, bad
    c = inst.counters()
    still = [k for k in moved if c[k] == 0]
    assert not still, "counters did not move: %s" % still
    if "fault_corrupt_ppm" in faults:
        # corrupted frames are caught by checksums, ours and the kernel's
        assert c["fault_corrupts"] > 0

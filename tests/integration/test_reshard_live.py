"""Live resharding under load (reference §2.2, §2.5, §3.2, §3.3, §4), read as KCL would.

The module brings up an instance of its own (2 workers, storage on, 8 MiB shard rings so that
reads of older records come from the store) and runs reshard_load.run() on a fresh 4-shard
stream per test: 4 producers put records under fixed keys (each key's records one at a time),
lineage-following readers read every shard from TRIM_HORIZON to its end and then its children,
and a reshaper does OPS random SplitShard / MergeShards / UpdateShardCount operations, each
waited for until the stream is ACTIVE again. reshard_load.py's docstring lists the checks.

  test_lineage_readers_steady     no operations: the producers, readers and checks on a stream
                                  that is not resharded (a baseline that must always pass)
  test_reshard_live               OPS operations under load
  test_reshard_live_control_kill  the same while spate-control is SIGKILLed at random moments
                                  during operations and restarted
  test_move_live                  MOVES shard moves between the two workers under load (no
                                  reshard), then kill -9 of the dataplane, a restart, and the
                                  whole stream read again: moved shards' records come from
                                  each store that held a part (docs/internals/reshard.md)
  test_move_reshard_live          moves and reshard operations at once (children move too)

Beside the boto3 producers, a load-generator producer (a second dataplane over net_memif,
dataplane/app/loadgen.h mode put) writes its own records for the whole run; they are checked
too (SPATE_RESHARD_LOADGEN=0 leaves it out).

A one-line summary (starting "reshard-live:") and the operation log are printed before the
verdict. Environment: SPATE_RESHARD_OPS (default 10), SPATE_RESHARD_PRODUCERS (4),
SPATE_RESHARD_SEED (random; printed), SPATE_RESHARD_MAX_OPEN (8), SPATE_RESHARD_NAME (instance,
default spt-itrs), SPATE_RESHARD_MEM_MB (hugepage MiB, default 1536; each shard made, open or
closed, may hold a ring and a 10 MiB write buffer). tools/soak/reshard.sh runs 50 operations.
"""
import os

import pytest

from harness import instance_down, instance_up
from kinesis_env import Env, read_credentials
from reshard_load import PROBLEMS_SHOWN, RunConfig, run

pytestmark = [pytest.mark.netns, pytest.mark.slow]

NAME = os.environ.get("SPATE_RESHARD_NAME", "spt-itrs")
MEM_MB = int(os.environ.get("SPATE_RESHARD_MEM_MB", "1536"))
WORKERS = 2
RING_MB = 8
STEADY_S = 4.0
MOVES = 4        # 4 shards, 2 workers: each may move once (not back to a past owner)


LOADGEN = os.environ.get("SPATE_RESHARD_LOADGEN", "1") != "0"
LG_NAME = NAME + "l"
LG_SOCK = "/run/spate/%s-memif.sock" % NAME
LG_NET = "198.19.248"


def loadgen_starter(inst):
    """loadgen_up for reshard_load.run: a producer dataplane (1 worker, 2 connections,
    10 records a call, 20 ms between a connection's calls) writing to the run's stream."""
    def up(stream):
        instance_down(LG_NAME, purge=True)
        client = instance_up(
            LG_NAME, 1, "--set", "mem_mb=512", "--set", "shard_ring_mb=16",
            "--set", "port1=net_memif0,role=client,socket=%s,socket-abstract=no" % LG_SOCK,
            "--set", "port1_ipv4=%s.1/24" % LG_NET, "--set", "api=false",
            "--set", "loadgen_target=%s.2" % LG_NET, "--set", "loadgen_mode=put",
            "--set", "loadgen_conns=2", "--set", "loadgen_records=10",
            "--set", "loadgen_gap_ms=20", "--set", "loadgen_stream=%s" % stream,
            "--set", "loadgen_credentials=%s" % (inst.data_dir / "credentials"))

        def stop():
            try:
                return client.counters()
            finally:
                instance_down(LG_NAME, purge=True)
        return stop
    return up


@pytest.fixture(scope="module")
def reshard_env():
    instance_down(NAME, purge=True)  # a killed run may have left it behind
    memif = (["--set", "port1=net_memif0,role=server,socket=%s,socket-abstract=no" % LG_SOCK,
              "--set", "port1_ipv4=%s.2/24" % LG_NET] if LOADGEN else [])
    try:
        inst = instance_up(NAME, WORKERS, "--set", "shard_ring_mb=%d" % RING_MB,
                           "--set", "mem_mb=%d" % MEM_MB, *memif)
        key, secret = read_credentials(inst.data_dir / "credentials")
        env = Env("spate", "http://%s:80" % inst.ipv4, key, secret, netns=inst.netns,
                  instance=inst)
        try:
            yield inst, env
        finally:
            env.close()
    finally:
        instance_down(NAME, purge=True)


def verdict(res):
    # on a line of its own: pytest -q has written its progress mark without a newline
    print("\n" + res.line("reshard-live:"), flush=True)
    for line in res.oplog:
        print("  " + line)
    if res.problems:
        seed = dict(res.summary)["seed"]
        pytest.fail("seed %s, %d problems, the first %d:\n%s" % (
            seed, len(res.problems), PROBLEMS_SHOWN, "\n".join(res.problems[:PROBLEMS_SHOWN])),
            pytrace=False)


def test_lineage_readers_steady(reshard_env):
    inst, env = reshard_env
    verdict(run(inst, env, RunConfig.from_env(ops=0, idle_s=STEADY_S)))


def test_reshard_live(reshard_env):
    inst, env = reshard_env
    verdict(run(inst, env, RunConfig.from_env(),
                loadgen_up=loadgen_starter(inst) if LOADGEN else None))


def test_reshard_live_control_kill(reshard_env):
    inst, env = reshard_env
    verdict(run(inst, env, RunConfig.from_env(kill_control=True),
                loadgen_up=loadgen_starter(inst) if LOADGEN else None))


def test_move_live(reshard_env):
    inst, env = reshard_env
    verdict(run(inst, env, RunConfig.from_env(ops=0, moves=MOVES, idle_s=1.0,
                                              workers=WORKERS, reread_restart=True),
                loadgen_up=loadgen_starter(inst) if LOADGEN else None))


def test_move_reshard_live(reshard_env):
    inst, env = reshard_env
    verdict(run(inst, env, RunConfig.from_env(ops=6, moves=6, workers=WORKERS),
                loadgen_up=loadgen_starter(inst) if LOADGEN else None))

"""Balancing by measured load, automatic, through the real appliance (docs/internals/reshard.md,
"Moving shards and balancing" and "Moving a shard (dataplane)").

One instance of its own: 2 workers, spate-control started with --balance-interval-s 5
(spate-dev's SPATE_BALANCE_INTERVAL_S). A 4-shard stream spreads its shards over both
workers; boto3 then writes PutRecords batches only into the two shards of one worker
(ExplicitHashKey inside their ranges), so that worker's measured load is far above the
other's. Nobody asks for a move: control measures the load (a sample every 5 s), plans, and
moves one of the hot shards to the idle worker under the load. Checks: the status shows the
new owner writing the ring and the old owner in the shard's past owners; control's log names
the move; every record acknowledged before, during and after it is read back once from its
shard, in order, byte-exact.
"""
import os
import threading
import time

import pytest

from harness import instance_down, instance_up, wait_until
from kinesis_env import Env, read_credentials, wait_active

pytestmark = [pytest.mark.netns, pytest.mark.spate_only]

NAME = "spt-bal"
STREAM = "balanced"
BATCH = 250
MOVE_TIMEOUT_S = 60   # two 5 s samples, a 5 s balance interval, and the handover
AFTER_S = 2.0         # production after the move


@pytest.fixture(scope="module")
def inst():
    instance_down(NAME, purge=True)
    old = os.environ.get("SPATE_BALANCE_INTERVAL_S")
    os.environ["SPATE_BALANCE_INTERVAL_S"] = "5"
    try:
        i = instance_up(NAME, 2, "--set", "shard_ring_mb=8", "--set", "mem_mb=768")
    finally:
        if old is None:
            del os.environ["SPATE_BALANCE_INTERVAL_S"]
        else:
            os.environ["SPATE_BALANCE_INTERVAL_S"] = old
    yield i
    instance_down(NAME, purge=True)


def _rows(inst):
    return {r["shard"]: r for r in inst.dataplane()["api"]["shards"] if r["stream"] == STREAM}


def _read_shard(c, shard):
    it = c.get_shard_iterator(StreamName=STREAM, ShardId=shard,
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got, empty = [], 0
    while it and empty < 2:
        r = c.get_records(ShardIterator=it, Limit=5000)
        got += [(int(x["SequenceNumber"]), x["Data"]) for x in r["Records"]]
        it = r["NextShardIterator"]
        empty = empty + 1 if not r["Records"] and r["MillisBehindLatest"] == 0 else 0
    return got


def test_hot_worker_is_balanced_automatically(inst):
    key, secret = read_credentials(inst.data_dir / "credentials")
    env = Env("spate", "http://%s:80" % inst.ipv4, key, secret, netns=inst.netns,
              instance=inst)
    c = env.client(retries=True)
    c.create_stream(StreamName=STREAM, ShardCount=4)
    wait_active(c, STREAM)
    shards = c.list_shards(StreamName=STREAM)["Shards"]
    rows = _rows(inst)
    by_worker = {}
    for s in shards:
        by_worker.setdefault(rows[s["ShardId"]]["owner"], []).append(s)
    assert sorted(len(v) for v in by_worker.values()) == [2, 2], rows
    hot_worker = min(by_worker)
    hot = {s["ShardId"]: int(s["HashKeyRange"]["StartingHashKey"]) + 7
           for s in by_worker[hot_worker]}

    sent = {sid: [] for sid in hot}   # shard -> [(seq, data)] acknowledged
    stop = threading.Event()
    errors = []

    def produce():
        pc = env.client(single=True)  # one attempt: a retry could store a batch twice
        n = 0
        try:
            while not stop.is_set():
                for sid, ehk in hot.items():
                    recs = [{"Data": b"bal-%08d-" % (n + i) + os.urandom(40),
                             "PartitionKey": "k%d" % (i % 16), "ExplicitHashKey": str(ehk)}
                            for i in range(BATCH)]
                    n += BATCH
                    r = pc.put_records(StreamName=STREAM, Records=recs)
                    for x, e in zip(recs, r["Records"]):
                        if "SequenceNumber" in e:
                            assert e["ShardId"] == sid, (e, sid)
                            sent[sid].append((int(e["SequenceNumber"]), x["Data"]))
        except Exception as e:  # noqa: BLE001 -- reported below
            errors.append(repr(e))

    t = threading.Thread(target=produce, daemon=True)
    t.start()
    try:
        def moved():
            now = _rows(inst)
            return [sid for sid in hot if now[sid]["owner"] != hot_worker and
                    now[sid].get("writer") == now[sid]["owner"]]
        wait_until(lambda: moved() or errors, MOVE_TIMEOUT_S, interval=0.5,
                   what="control to move a hot shard off worker %d" % hot_worker)
        assert not errors, errors
        time.sleep(AFTER_S)
    finally:
        stop.set()
        t.join(30)
    assert not errors, errors
    now = _rows(inst)
    gone = [sid for sid in hot if now[sid]["owner"] != hot_worker]
    assert len(gone) == 1, now  # one move evens two equal hot shards out
    assert now[gone[0]]["past_owners"] == [hot_worker], now[gone[0]]
    log = (inst.data_dir / "log" / "control.log").read_text(errors="replace")
    assert "moved from worker %d" % hot_worker in log, log[-2000:]

    rc = env.client(retries=True)
    for sid in hot:
        got = _read_shard(rc, sid)
        assert len(sent[sid]) > 0
        assert got == sorted(sent[sid]), (sid, len(got), len(sent[sid]))
    print("balance: %s moved off worker %d; records %s" % (
        gone[0], hot_worker, {sid: len(v) for sid, v in sent.items()}))

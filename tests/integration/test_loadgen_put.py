"""The load generator as a Kinesis producer (loadgen_mode=put): a second dataplane, joined to
the server by net_memif, sends SigV4-signed PutRecords over its own TCP stack's active opens.

The server's stream is read back whole with boto3 afterwards. Every record the producer says
was acknowledged must be there exactly once, none may be there twice, each partition key's
records must come in the order the producer numbered them, and each must sit on the shard its
partition key's MD5 names. The producer's own verdicts (its worker counters) must show no
refusal and no error; records of the last requests, cut off when the producer was stopped, may
be stored without having been acknowledged, and nothing else.
"""
import hashlib
import time

import pytest

from harness import instance_down, instance_up
from kinesis_env import Env, read_credentials

pytestmark = [pytest.mark.netns, pytest.mark.slow]

SOCK = "/run/spate/spt-itlp-memif.sock"
NET = "198.19.249"
STREAM = "lgput"
SHARDS = 3
CONNS = 4  # per worker
RECORDS = 25  # per PutRecords
WORKERS = 2
COMMON = ["--set", "mem_mb=768", "--set", "shard_ring_mb=16"]


@pytest.fixture(scope="module")
def server():
    name = "spt-itlps"
    instance_down(name, purge=True)
    inst = instance_up(name, WORKERS, *COMMON,
                       "--set", "port1=net_memif0,role=server,socket=%s,socket-abstract=no" % SOCK,
                       "--set", "port1_ipv4=%s.2/24" % NET)
    key, secret = read_credentials(inst.data_dir / "credentials")
    env = Env("spate", "http://%s:80" % inst.ipv4, key, secret, netns=inst.netns, instance=inst)
    try:
        yield inst, env
    finally:
        env.close()
        instance_down(name, purge=True)


def read_all(kin):
    """Every record of the stream, per shard, with the shard's hash-key range."""
    out = []
    shards = kin.list_shards(StreamName=STREAM)["Shards"]
    for sh in shards:
        lo, hi = int(sh["HashKeyRange"]["StartingHashKey"]), int(sh["HashKeyRange"]["EndingHashKey"])
        it = kin.get_shard_iterator(StreamName=STREAM, ShardId=sh["ShardId"],
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            r = kin.get_records(ShardIterator=it, Limit=10000)
            for rec in r["Records"]:
                out.append((sh["ShardId"], lo, hi, rec))
            if not r["Records"] and r.get("MillisBehindLatest", 0) == 0:
                break
            it = r.get("NextShardIterator")
    return out


def test_producer_over_memif(server):
    inst, env = server
    kin = env.client()
    kin.create_stream(StreamName=STREAM, ShardCount=SHARDS)
    deadline = time.time() + 30
    while kin.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"][
            "StreamStatus"] != "ACTIVE":
        assert time.time() < deadline
        time.sleep(0.2)
    name = "spt-itlpc"
    instance_down(name, purge=True)
    client = instance_up(name, WORKERS, *COMMON,
                         "--set", "port1=net_memif0,role=client,socket=%s,socket-abstract=no" % SOCK,
                         "--set", "port1_ipv4=%s.1/24" % NET, "--set", "api=false",
                         "--set", "loadgen_target=%s.2" % NET, "--set", "loadgen_mode=put",
                         "--set", "loadgen_conns=%d" % CONNS, "--set", "loadgen_msg=48",
                         "--set", "loadgen_records=%d" % RECORDS, "--set", "loadgen_stream=%s" % STREAM,
                         "--set", "loadgen_credentials=%s" % (inst.data_dir / "credentials"))
    try:
        deadline = time.time() + 30
        while client.counters()["lg_records_acked"] < 20000:
            assert time.time() < deadline, {
                k: v for k, v in client.counters().items() if k.startswith(("lg_", "tcp_")) and v}
            time.sleep(0.5)
        dp = client.dataplane()
    finally:
        instance_down(name, purge=True)  # stops the producer mid-flight
    c = dp["counters"]
    assert c["lg_errors"] == 0 and c["lg_records_failed"] == 0, c
    # both workers produced, each over its own connections
    assert all(w["counters"]["lg_connects"] >= CONNS and w["counters"]["lg_records_acked"] > 0
               for w in dp["workers"]), dp["workers"]
    acked = c["lg_records_acked"]
    recs = read_all(kin)
    seen = {}
    last = {}
    for shard_id, lo, hi, rec in recs:
        key = rec["PartitionKey"]
        if not key.startswith("lg-"):
            continue
        w, slot, n = rec["Data"].decode().rstrip(".").split(".")
        assert key == "lg-w%s-s%s" % (w, slot), (key, rec["Data"])
        ident = (int(w), int(slot), int(n))
        assert ident not in seen, "record %s read twice" % (ident,)
        seen[ident] = rec["SequenceNumber"]
        # on the shard the key's MD5 names
        h = int(hashlib.md5(key.encode()).hexdigest(), 16)
        assert lo <= h <= hi, (key, shard_id)
        # per key, in the producer's order
        assert last.get(key, -1) < int(n), (key, n, last.get(key))
        last[key] = int(n)
    # every acknowledged record is there (the producer went on after the sample, so more may be)
    assert acked <= len(seen), (acked, len(seen))
    # per key, no gap: numbers 0..max all present
    for key, mx in last.items():
        w, s = key[4:].split("-s")
        assert all((int(w), int(s), k) in seen for k in range(mx + 1)), key
    print("put: %d acked, %d read, %d keys" % (acked, len(seen), len(last)))


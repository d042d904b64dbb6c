"""Resharding through real clients (reference §3.2, §4; issue 7).

SplitShard, MergeShards and UpdateShardCount with boto3 and the AWS CLI: the UPDATING ->
ACTIVE lifecycle, lineage in ListShards and DescribeStream, every record read exactly once by a
lineage-following reader on the shard an independent MD5 predicts, GetRecords ending a closed
shard with ChildShards (also after a dataplane restart, from the store), and the documented
errors with their exact `__type` and message. The live-load variant with producers, consumers
and SIGKILLed control is test_reshard_live.py.
"""
import hashlib
import time

import pytest
from botocore.exceptions import ClientError

from kinesis_env import (HASH_MAX, cli_json, expect_client_error, list_all_shards,
                         wait_active)

ACCOUNT = "123456789012"


def _key_hash(pk):
    return int.from_bytes(hashlib.md5(pk.encode()).digest(), "big")


def _put_many(c, name, first, n):
    acked = {}
    for i in range(first, first + n, 50):
        recs = [{"Data": b"r%d" % k, "PartitionKey": "pk%d" % k}
                for k in range(i, min(first + n, i + 50))]
        out = c.put_records(StreamName=name, Records=recs)
        assert out["FailedRecordCount"] == 0
        for r, e in zip(recs, out["Records"]):
            acked[r["Data"]] = (e["ShardId"], e["SequenceNumber"])
    return acked


def _read_lineage(c, name):
    """Read every shard from TRIM_HORIZON, parents before children (KCL's rule)."""
    shards = {s["ShardId"]: s for s in list_all_shards(c, name)}
    done, got, ends = set(), {}, {}
    pending = sorted(shards)
    guard = 0
    while pending:
        guard += 1
        assert guard < 10000
        sid = pending.pop(0)
        if sid in done:
            continue
        parents = [p for p in (shards[sid].get("ParentShardId"),
                               shards[sid].get("AdjacentParentShardId")) if p in shards]
        if any(p not in done for p in parents):
            pending.append(sid)
            continue
        closed = "EndingSequenceNumber" in shards[sid]["SequenceNumberRange"]
        it = c.get_shard_iterator(StreamName=name, ShardId=sid,
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        empty = 0
        while it:
            r = c.get_records(ShardIterator=it)
            last = None
            for rec in r["Records"]:
                got.setdefault(rec["Data"], []).append((sid, rec["SequenceNumber"]))
                assert last is None or int(rec["SequenceNumber"]) > last
                last = int(rec["SequenceNumber"])
            it = r.get("NextShardIterator")
            if it is None:
                assert closed, "an open shard never ends"
                ends[sid] = r.get("ChildShards", [])
            empty = empty + 1 if not r["Records"] else 0
            if not closed and empty >= 2:
                break
            assert empty < 50, "closed shard %s never ended" % sid
        done.add(sid)
    return shards, got, ends


def _check(shards, got, acked):
    assert sorted(got) == sorted(acked), "records lost or invented"
    for data, reads in got.items():
        assert len(reads) == 1, "read twice: %r %r" % (data, reads)
        sid, seq = reads[0]
        assert (sid, seq) == acked[data]
        rng = shards[sid]["HashKeyRange"]
        h = _key_hash("pk" + data.decode()[1:])
        assert int(rng["StartingHashKey"]) <= h <= int(rng["EndingHashKey"])


def _open(shards):
    return sorted((int(s["HashKeyRange"]["StartingHashKey"]),
                   int(s["HashKeyRange"]["EndingHashKey"]), s["ShardId"])
                  for s in shards.values()
                  if "EndingSequenceNumber" not in s["SequenceNumberRange"])


def test_split_merge_scale_lineage(kenv, streams):
    c = kenv.client()
    name = streams.create(shards=2)
    acked = _put_many(c, name, 0, 200)
    c.split_shard(StreamName=name, ShardToSplit="shardId-000000000000",
                  NewStartingHashKey=str(1 << 125))
    st = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert st["StreamStatus"] in ("UPDATING", "ACTIVE")
    wait_active(c, name)
    acked.update(_put_many(c, name, 200, 200))
    c.merge_shards(StreamName=name, ShardToMerge="shardId-000000000003",
                   AdjacentShardToMerge="shardId-000000000001")
    wait_active(c, name)
    acked.update(_put_many(c, name, 400, 200))
    out = c.update_shard_count(StreamName=name, TargetShardCount=3,
                               ScalingType="UNIFORM_SCALING")
    assert (out["StreamName"], out["CurrentShardCount"], out["TargetShardCount"]) == (name, 2, 3)
    wait_active(c, name)
    acked.update(_put_many(c, name, 600, 200))
    shards, got, ends = _read_lineage(c, name)
    _check(shards, got, acked)
    # lineage as ListShards shows it
    s2, s3 = shards["shardId-000000000002"], shards["shardId-000000000003"]
    assert s2["ParentShardId"] == s3["ParentShardId"] == "shardId-000000000000"
    assert int(s2["HashKeyRange"]["EndingHashKey"]) + 1 == 1 << 125
    s4 = shards["shardId-000000000004"]
    assert (s4["ParentShardId"], s4["AdjacentParentShardId"]) == (
        "shardId-000000000003", "shardId-000000000001")
    # the open shards after UNIFORM_SCALING are CreateStream(3)'s
    step = (1 << 128) // 3
    assert [(a, b) for a, b, _ in _open(shards)] == [
        (0, step - 1), (step, 2 * step - 1), (2 * step, HASH_MAX)]
    # ChildShards at every closed shard's end name the shards that list it as a parent
    for sid, kids in ends.items():
        want = sorted(k for k, s in shards.items()
                      if sid in (s.get("ParentShardId"), s.get("AdjacentParentShardId")))
        assert sorted(k["ShardId"] for k in kids) == want
        for k in kids:
            s = shards[k["ShardId"]]
            assert k["ParentShards"] == [p for p in (s.get("ParentShardId"),
                                                     s.get("AdjacentParentShardId")) if p]
            assert k["HashKeyRange"] == s["HashKeyRange"]
    # DescribeStream shows the closed shards too, in index order
    d = c.describe_stream(StreamName=name)["StreamDescription"]
    assert [s["ShardId"] for s in d["Shards"]] == sorted(shards)


def test_closed_shard_iterators(kenv, streams):
    """LATEST, AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER on a closed shard."""
    c = kenv.client()
    name = streams.create(shards=1)
    acked = _put_many(c, name, 0, 20)
    c.split_shard(StreamName=name, ShardToSplit="0", NewStartingHashKey=str(1 << 127))
    wait_active(c, name)
    last = max(int(seq) for _, seq in acked.values())
    for kind, extra, want in (("LATEST", {}, 0), ("AFTER_SEQUENCE_NUMBER",
                                                  {"StartingSequenceNumber": str(last)}, 0),
                              ("AT_SEQUENCE_NUMBER", {"StartingSequenceNumber": str(last)}, 1)):
        it = c.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                  ShardIteratorType=kind, **extra)["ShardIterator"]
        n = 0
        for _ in range(5):
            r = c.get_records(ShardIterator=it)
            n += len(r["Records"])
            if "NextShardIterator" not in r or r["NextShardIterator"] is None:
                break
            it = r["NextShardIterator"]
        assert n == want and r.get("NextShardIterator") is None, kind
        assert [k["ShardId"] for k in r["ChildShards"]] == ["shardId-000000000001",
                                                             "shardId-000000000002"]
        assert r["MillisBehindLatest"] == 0
    # writes now land on the children only
    out = c.put_record(StreamName=name, Data=b"x", PartitionKey="after")
    assert out["ShardId"] in ("shardId-000000000001", "shardId-000000000002")


def test_cli_split_and_merge(kenv, streams):
    c = kenv.client()
    name = streams.create(shards=2)
    cli_json(kenv.cli("split-shard", "--stream-name", name, "--shard-to-split",
                      "shardId-000000000001", "--new-starting-hash-key", str(3 << 126)))
    wait_active(c, name)
    cli_json(kenv.cli("merge-shards", "--stream-name", name, "--shard-to-merge",
                      "shardId-000000000002", "--adjacent-shard-to-merge",
                      "shardId-000000000003"))
    wait_active(c, name)
    out = cli_json(kenv.cli("update-shard-count", "--stream-name", name,
                            "--target-shard-count", "4", "--scaling-type", "UNIFORM_SCALING"))
    assert out["CurrentShardCount"] == 2 and out["TargetShardCount"] == 4
    wait_active(c, name)
    shards = {s["ShardId"]: s for s in list_all_shards(c, name)}
    assert len(_open(shards)) == 4


def test_put_during_reshard_is_routed_once(kenv, streams):
    """Records put while a split runs land once, on the shard their hash says, parents first."""
    c = kenv.client()
    name = streams.create(shards=1)
    acked = {}
    c.split_shard(StreamName=name, ShardToSplit="0", NewStartingHashKey=str(1 << 127))
    k = 0
    deadline = time.time() + 30
    while time.time() < deadline:
        acked.update(_put_many(c, name, k, 50))
        k += 50
        st = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if st["StreamStatus"] == "ACTIVE" and k >= 300:
            break
    acked.update(_put_many(c, name, k, 50))
    shards, got, _ = _read_lineage(c, name)
    _check(shards, got, acked)


def test_closed_shards_after_dataplane_restart(kenv, streams):
    """Closed shards' records come from the store after a restart; the shard still ends."""
    if not kenv.is_spate or kenv.instance is None:
        pytest.skip("needs the appliance")
    c = kenv.client()
    name = streams.create(shards=2)
    acked = _put_many(c, name, 0, 300)
    c.merge_shards(StreamName=name, ShardToMerge="0", AdjacentShardToMerge="1")
    wait_active(c, name)
    acked.update(_put_many(c, name, 300, 100))
    kenv.instance.restart_dataplane()
    c = kenv.client(retries=True)
    shards, got, ends = _read_lineage(c, name)
    _check(shards, got, acked)
    assert [k["ShardId"] for k in ends["shardId-000000000000"]] == ["shardId-000000000002"]


SPLIT_RANGE = ("NewStartingHashKey {k} used in SplitShard() on shard shardId-000000000000 in "
               "stream {s} under account " + ACCOUNT + " is not both greater than one plus the "
               "shard's StartingHashKey 0 and less than the shard's EndingHashKey " + str(HASH_MAX)
               + ".")


def test_reshard_errors(kenv, streams):
    c = kenv.client()
    name = streams.create(shards=1)
    for k in ("0", "1", str(HASH_MAX)):
        expect_client_error(c.split_shard, "InvalidArgumentException",
                            SPLIT_RANGE.format(k=k, s=name), StreamName=name,
                            ShardToSplit="shardId-000000000000", NewStartingHashKey=k)
    expect_client_error(c.split_shard, "ResourceNotFoundException",
                        "Could not find shard shardId-000000000009 in stream %s under account "
                        "%s." % (name, ACCOUNT), StreamName=name, ShardToSplit="9",
                        NewStartingHashKey="99")
    expect_client_error(c.split_shard, "ResourceNotFoundException",
                        "Could not find shard oops in stream %s under account %s." % (
                            name, ACCOUNT), StreamName=name, ShardToSplit="oops",
                        NewStartingHashKey="99")
    expect_client_error(c.split_shard, "ResourceNotFoundException",
                        "Stream nope-%s under account %s not found." % (name, ACCOUNT),
                        StreamName="nope-" + name, ShardToSplit="0", NewStartingHashKey="99")
    c.split_shard(StreamName=name, ShardToSplit="0", NewStartingHashKey=str(1 << 127))
    # while UPDATING (the switch waits for the dataplane; it may already be done, and a
    # DescribeStreamSummary first would race with it: CI saw UPDATING there, then ACTIVE)
    try:
        r = c.update_shard_count(StreamName=name, TargetShardCount=2,
                                 ScalingType="UNIFORM_SCALING")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceInUseException", e.response
        assert e.response["Error"]["Message"] == (
            "Stream %s under account %s not ACTIVE, instead in state UPDATING" % (
                name, ACCOUNT)), e.response
    else:
        # the split had switched already: ACTIVE with 2 shards, so 2 is a no-op
        assert (r["CurrentShardCount"], r["TargetShardCount"]) == (2, 2), r
    wait_active(c, name)
    expect_client_error(c.merge_shards, "ResourceInUseException",
                        "Shard shardId-000000000000 in stream %s under account %s has already "
                        "been merged or split, and thus is not eligible for merging." % (
                            name, ACCOUNT), StreamName=name, ShardToMerge="0",
                        AdjacentShardToMerge="1")
    expect_client_error(c.merge_shards, "InvalidArgumentException",
                        "Shards shardId-000000000002 and shardId-000000000001 in stream %s under "
                        "account %s are not an adjacent pair of shards eligible for merging" % (
                            name, ACCOUNT), StreamName=name, ShardToMerge="2",
                        AdjacentShardToMerge="1")
    expect_client_error(c.update_shard_count, "LimitExceededException",
                        "UpdateShardCount cannot scale up over double your current open shard "
                        "count. Current open shard count: 2, Target shard count: 5",
                        StreamName=name, TargetShardCount=5, ScalingType="UNIFORM_SCALING")


def test_reshard_validation(kenv, streams):
    name = streams.create(shards=1)
    r = kenv.call("SplitShard", {"StreamName": name, "ShardToSplit": "0",
                                 "NewStartingHashKey": "12a"})
    assert r.status == 400
    assert r.json() == {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value '12a' at 'newStartingHashKey' failed to "
                   "satisfy constraint: Member must satisfy regular expression pattern: "
                   "0|([1-9]\\d{0,38})"}
    r = kenv.call("UpdateShardCount", {"StreamName": name, "TargetShardCount": 2,
                                       "ScalingType": "NONUNIFORM"})
    assert r.status == 400 and r.json()["__type"] == "ValidationException"
    assert "Member must satisfy enum value set: [UNIFORM_SCALING]" in r.json()["message"]
    r = kenv.call("MergeShards", {"StreamName": name, "ShardToMerge": "0"})
    assert r.json() == {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value null at 'adjacentShardToMerge' failed to "
                   "satisfy constraint: Member must not be null"}


def test_update_stream_mode(kenv, streams):
    c = kenv.client()
    name = streams.create(shards=2)
    arn = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    c.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    st = wait_active(c, name)
    assert st["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
    assert st["OpenShardCount"] == 2  # on-demand starts from the current capacity
    expect_client_error(c.split_shard, "ValidationException",
                        "Stream %s under account %s is in ON_DEMAND mode: shard capacity is "
                        "managed by the service and cannot be changed by this operation." % (
                            name, ACCOUNT), StreamName=name, ShardToSplit="0",
                        NewStartingHashKey="99")
    expect_client_error(c.update_stream_mode, "InvalidArgumentException",
                        "Stream %s under account %s is already in ON_DEMAND mode." % (
                            name, ACCOUNT), StreamARN=arn,
                        StreamModeDetails={"StreamMode": "ON_DEMAND"})
    c.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"})
    expect_client_error(c.update_stream_mode, "LimitExceededException",
                        "Stream %s under account %s has already switched capacity mode 2 times "
                        "in the last 24 hours, the most UpdateStreamMode allows." % (
                            name, ACCOUNT), StreamARN=arn,
                        StreamModeDetails={"StreamMode": "ON_DEMAND"})
    c.put_record(StreamName=name, Data=b"still", PartitionKey="writes")


def test_closed_ring_drained_then_read_from_store(kenv, streams):
    """A parent's ring is freed once its records are durable; its records stay readable."""
    if not kenv.is_spate or kenv.instance is None:
        pytest.skip("needs the appliance")
    c = kenv.client()
    name = streams.create(shards=1)
    before = kenv.instance.dataplane()["api"]
    acked = _put_many(c, name, 0, 300)
    c.split_shard(StreamName=name, ShardToSplit="0", NewStartingHashKey=str(1 << 127))
    wait_active(c, name)
    deadline = time.time() + 20
    while time.time() < deadline:
        api = kenv.instance.dataplane()["api"]
        if (api["reshard"]["rings_drained"] > before["reshard"]["rings_drained"] and
                api["rings_freed"] > before["rings_freed"]):
            break
        time.sleep(0.2)
    else:
        pytest.fail("the closed shard's ring was not drained and freed: %r" % api)
    acked.update(_put_many(c, name, 300, 100))
    shards, got, ends = _read_lineage(c, name)
    _check(shards, got, acked)
    assert sorted(k["ShardId"] for k in ends["shardId-000000000000"]) == [
        "shardId-000000000001", "shardId-000000000002"]

"""Operator stream administration with spatectl (the control socket's `kinesis` method).

A stream is created with boto3, then split, merged, scaled, given a retention and tags with the
real spatectl binary against the real instance; boto3 checks the result (ListShards lineage,
DescribeStreamSummary, ListTagsForStream) and `spatectl --json shards` the dataplane's own
per-shard figures (owner worker, records appended after puts).
"""
import json

import pytest

from kinesis_env import wait_active

pytestmark = [pytest.mark.netns, pytest.mark.spate_only]

HALF = 2 ** 127  # shard 0 of a 2-shard stream is [0, 2^127 - 1]


def ctl(instance, *args, check=True):
    return instance.spatectl(*args, timeout=90, check=check)


def ctl_json(instance, *args):
    return json.loads(ctl(instance, "--json", *args).stdout)


def all_shards(c, name):
    return c.list_shards(StreamName=name)["Shards"]


def open_shards(c, name):
    return [s for s in all_shards(c, name)
            if "EndingSequenceNumber" not in s["SequenceNumberRange"]]


def test_split_merge_scale(instance, kenv, streams):
    c = kenv.client(retries=True)
    name = streams.create(shards=2)

    rows = {r["StreamName"]: r for r in ctl_json(instance, "streams")}
    assert rows[name]["StreamStatus"] == "ACTIVE", rows[name]
    assert rows[name]["OpenShardCount"] == 2, rows[name]
    assert name in ctl(instance, "streams").stdout

    # split without a key: the middle of shard 0's range
    ctl(instance, "--wait", "split", name, "0")
    shards = {s["ShardId"]: s for s in all_shards(c, name)}
    assert len(shards) == 4, shards
    kids = [s for s in shards.values() if s.get("ParentShardId") == "shardId-000000000000"]
    assert len(kids) == 2, shards
    starts = sorted(int(s["HashKeyRange"]["StartingHashKey"]) for s in kids)
    assert starts == [0, (HALF - 1) // 2 + 1], starts
    assert "EndingSequenceNumber" in shards["shardId-000000000000"]["SequenceNumberRange"]

    # merge the two children again
    a, b = sorted(s["ShardId"] for s in kids)
    ctl(instance, "--wait", "merge", name, a, b)
    merged = [s for s in all_shards(c, name) if s.get("AdjacentParentShardId")]
    assert len(merged) == 1, all_shards(c, name)
    assert {merged[0]["ParentShardId"], merged[0]["AdjacentParentShardId"]} == {a, b}
    assert len(open_shards(c, name)) == 2

    # scale to 4 open shards
    ctl(instance, "--wait", "scale", name, "4")
    wait_active(c, name)
    live = open_shards(c, name)
    assert len(live) == 4, live
    live_ids = {s["ShardId"] for s in live}

    # records land on the open shards, counted by their rings; owners are workers
    n = 120
    recs = [{"Data": b"x" * 10, "PartitionKey": "pk-%d" % i} for i in range(n)]
    resp = c.put_records(StreamName=name, Records=recs)
    assert resp.get("FailedRecordCount", 0) == 0, resp
    rows = ctl_json(instance, "--interval", "0", "shards", name)
    by_id = {r["shard"]: r for r in rows}
    assert set(by_id) == {s["ShardId"] for s in all_shards(c, name)}
    for sid, r in by_id.items():
        assert r["open"] == (sid in live_ids), r
        assert isinstance(r["owner"], int) and 0 <= r["owner"] < instance.workers, r
        # a closed shard is sealed, or its ring is already gone (drained into the store)
        assert r["sealed"] is False if sid in live_ids else r["sealed"] in (True, None), r
    assert sum(by_id[s]["records"] for s in live_ids) == n, rows
    assert sum(by_id[s]["bytes"] for s in live_ids) >= n * 10, rows
    per_shard = {}
    for i, e in enumerate(resp["Records"]):
        per_shard[e["ShardId"]] = per_shard.get(e["ShardId"], 0) + 1
    for sid, cnt in per_shard.items():
        assert by_id[sid]["records"] == cnt, (sid, cnt, by_id[sid])

    # the table, with rates over a short interval
    out = ctl(instance, "--interval", "0.3", "shards", name).stdout
    assert "closed" in out and "open" in out and "REC/S" in out, out


def test_retention_and_tags(instance, kenv, streams):
    c = kenv.client(retries=True)
    name = streams.create(shards=1)

    ctl(instance, "retention", name, "48")
    s = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["RetentionPeriodHours"] == 48
    ctl(instance, "retention", name, "24")
    s = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["RetentionPeriodHours"] == 24

    tags = ctl_json(instance, "tags", name, "team=ops", "env=test")
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "ops", "env": "test"}
    ctl(instance, "tags", name, "--remove", "env")
    got = c.list_tags_for_stream(StreamName=name)["Tags"]
    assert {t["Key"]: t["Value"] for t in got} == {"team": "ops"}


def test_errors(instance):
    p = ctl(instance, "split", "sc-no-such-stream", "0", "12345", check=False)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "ResourceNotFoundException" in p.stderr, p.stderr
    p = ctl(instance, "scale", "x", "zero", check=False)
    assert p.returncode == 2, (p.stdout, p.stderr)
    p = ctl(instance, "call", "kinesis", '{"op":"PutRecord","body":{}}', check=False)
    assert p.returncode == 1 and "-32602" in p.stderr, p.stderr

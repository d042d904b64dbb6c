"""Records above 1 MiB on streams created with MaxRecordSizeInKiB (reference §3.1, §3.3, §5).

A stream's record limit (Data + partition key) is its MaxRecordSizeInKiB, 1 MiB by default and
up to 10 MiB. The service model lets Data reach 10 MiB; the stream's own limit is checked once
the stream is known, with the model check's message shape, so a default stream still answers
with AWS's classic 1 MiB text. A PutRecords call takes 10 MiB in all on a stream whose limit is
above 1 MiB, 5 MiB otherwise.

This installation's botocore predates MaxRecordSizeInKiB, so the stream is created with a raw
signed call; puts and reads go through boto3 itself.
"""
import hashlib
import os
import re

import pytest

from kinesis_env import (b64, expect_client_error, expect_validation, unique_name,
                         wait_active)

MIB = 1 << 20
HEAP = "'java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]'"


def _item(value, path, constraint):
    return "Value %s at '%s' failed to satisfy constraint: %s" % (value, path, constraint)


def _create(kenv, streams, kib):
    name = unique_name("large")
    streams.names.append(name)
    r = kenv.call("CreateStream", {"StreamName": name, "ShardCount": 1,
                                   "MaxRecordSizeInKiB": kib})
    assert r.status == 200, r
    wait_active(kenv.client(retries=True), name)
    return name


def _read_all(c, name, want):
    it = c.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = []
    for _ in range(50):
        r = c.get_records(ShardIterator=it)
        got.extend(r["Records"])
        if len(got) >= want:
            break
        it = r["NextShardIterator"]
    return got


@pytest.mark.spate_only
def test_ten_mib_record_round_trip(kenv, streams):
    """A record of exactly 10 MiB (Data + key) goes in through boto3 and comes back intact."""
    name = _create(kenv, streams, 10240)
    c = kenv.client()
    key = "large-key"
    data = os.urandom(10 * MIB - len(key))
    put = c.put_record(StreamName=name, Data=data, PartitionKey=key)
    recs = _read_all(c, name, 1)
    assert len(recs) == 1
    assert recs[0]["SequenceNumber"] == put["SequenceNumber"]
    assert recs[0]["PartitionKey"] == key
    assert hashlib.sha256(recs[0]["Data"]).digest() == hashlib.sha256(data).digest()


@pytest.mark.spate_only
def test_stream_limit_counts_the_key(kenv, streams):
    name = _create(kenv, streams, 2048)
    c = kenv.client()
    # Data alone over the stream's limit: the model check's text with the stream's bound.
    n = 2 * MIB + 1
    r = kenv.call("PutRecord", {"StreamName": name, "Data": b64(b"\x07" * n),
                                "PartitionKey": "k"})
    expect_validation(kenv, r, [_item(HEAP % (n, n), "data",
                                      "Member must have length less than or equal to %d"
                                      % (2 * MIB))])
    # Data at the limit, the key over it: Spate's InvalidArgumentException (no AWS text).
    expect_client_error(c.put_record, "InvalidArgumentException",
                        "Record size %d (data + partition key) exceeds the stream's limit of "
                        "%d bytes." % (2 * MIB + 2, 2 * MIB),
                        StreamName=name, Data=b"\x07" * (2 * MIB), PartitionKey="kk")
    # Exactly at the limit: accepted.
    c.put_record(StreamName=name, Data=b"\x07" * (2 * MIB - 2), PartitionKey="kk")


@pytest.mark.spate_only
def test_put_records_lists_every_record_over_the_limit(kenv, streams):
    name = _create(kenv, streams, 1024 + 1)
    limit = (1024 + 1) * 1024
    recs = [{"Data": b64(b"a" * (limit + 1)), "PartitionKey": "k"},
            {"Data": "AA==", "PartitionKey": "k"},
            {"Data": b64(b"b" * (limit + 5)), "PartitionKey": "k"}]
    r = kenv.call("PutRecords", {"StreamName": name, "Records": recs})
    bound = "Member must have length less than or equal to %d" % limit
    expect_validation(kenv, r, [
        _item(HEAP % (limit + 1, limit + 1), "records.1.member.data", bound),
        _item(HEAP % (limit + 5, limit + 5), "records.3.member.data", bound)])


def test_model_limit_is_ten_mib(kenv, streams):
    """Data above 10 MiB fails the model's own check, whatever the stream allows."""
    name = _create(kenv, streams, 10240) if kenv.kind == "spate" else streams.create()
    n = 10 * MIB + 1
    r = kenv.call("PutRecord", {"StreamName": name, "Data": b64(b"\x01" * n),
                                "PartitionKey": "k"})
    if kenv.kind != "spate":
        pytest.skip("kinesalite's model still stops Data at 1 MiB")
    expect_validation(kenv, r, [_item(HEAP % (n, n), "data",
                                      "Member must have length less than or equal to %d"
                                      % (10 * MIB))])


@pytest.mark.spate_only
def test_put_records_total_is_ten_mib_on_large_streams(kenv, streams):
    c = kenv.client()
    large = _create(kenv, streams, 4096)
    # 3 x 3 MiB = 9 MiB: over the classic 5 MiB, within 10 MiB.
    recs = [{"Data": bytes([i]) * (3 * MIB), "PartitionKey": "k%d" % i} for i in range(3)]
    r = c.put_records(StreamName=large, Records=recs)
    assert r["FailedRecordCount"] == 0 and len(r["Records"]) == 3
    got = _read_all(c, large, 3)
    assert [g["Data"] for g in got] == [x["Data"] for x in recs]
    # 10.5 MiB: over 10 MiB (in base64 still under the 16 MiB body cap, which answers 413).
    recs.append({"Data": b"\x09" * (3 * MIB // 2), "PartitionKey": "k3"})
    expect_client_error(c.put_records, "InvalidArgumentException",
                        "Records size exceeds 10 MB limit", StreamName=large, Records=recs)
    # A default stream keeps the classic 5 MiB total.
    small = streams.create()
    recs = [{"Data": bytes([i]) * (MIB - 8), "PartitionKey": "k%d" % i} for i in range(6)]
    expect_client_error(c.put_records, "InvalidArgumentException",
                        "Records size exceeds 5 MB limit", StreamName=small, Records=recs)


@pytest.mark.spate_only
def test_raised_limit_applies_to_existing_shards(kenv, streams):
    """UpdateMaxRecordSize on a stream with data: its shards take the larger records at once
    (the control answer follows the snapshot that carries the new limit)."""
    name = streams.create()
    c = kenv.client()
    data = os.urandom(3 * MIB // 2)
    c.put_record(StreamName=name, Data=b"small", PartitionKey="k")
    expect_client_error(c.put_record, "ValidationException", re.compile(r"1 validation error.*"),
                        StreamName=name, Data=data, PartitionKey="k")
    arn = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    r = kenv.call("UpdateMaxRecordSize", {"StreamARN": arn, "MaxRecordSizeInKiB": 2048})
    assert r.status == 200, r
    put = c.put_record(StreamName=name, Data=data, PartitionKey="k")
    got = _read_all(c, name, 2)
    assert [g["Data"] for g in got] == [b"small", data]
    assert got[1]["SequenceNumber"] == put["SequenceNumber"]

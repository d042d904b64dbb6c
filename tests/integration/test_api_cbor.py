"""The Kinesis API in CBOR (application/x-amz-cbor-1.1, ../shared/reference/kinesis-api.md §1.4),
as the Java SDK v2 and the KCL speak it: request bodies built with python3-cbor2 the way the
Java SDK encodes them (indefinite-length maps and arrays, Data as a byte string, timestamps as
tag 1 + integer epoch milliseconds; definite lengths too), signed with botocore's SigV4 over
the CBOR body and sent raw.

- every operation round-trips in CBOR (the answers are CBOR, with that Content-Type);
- a differential: the same requests, good and bad, in JSON and in CBOR give the same answer
  (after converting representations: base64 <-> bytes, epoch seconds <-> tag 1 milliseconds)
  and the same errors (status, __type, message, x-amzn-ErrorType);
- CBOR-only refusals (not one map, trailing bytes, empty body) answer in CBOR;
- SubscribeToShard with a CBOR request over HTTP/2 (its events stay JSON, §6.2).
"""
import base64
import io
import json
import time

import cbor2
import pytest
from cbor2 import decoder as cbor_decoder

from h2client import H2, signed_headers
from kinesis_env import b64, wait_active
from test_api_fanout import _messages, _messages_safe, _register

pytestmark = pytest.mark.spate_only

CBOR = "application/x-amz-cbor-1.1"
TS_KEYS = {"Timestamp", "StreamCreationTimestamp", "ConsumerCreationTimestamp",
           "ApproximateArrivalTimestamp"}


class Ms(int):
    """Epoch milliseconds: tag 1 + integer in CBOR, as the Java SDKs send and expect them."""


def enc(v, definite=False):
    """CBOR as the Java SDK writes it: indefinite maps and arrays (or definite ones)."""
    if isinstance(v, dict):
        items = b"".join(enc(k, definite) + enc(x, definite) for k, x in v.items())
        if definite:
            return _head(5, len(v)) + items
        return b"\xbf" + items + b"\xff"
    if isinstance(v, list):
        items = b"".join(enc(x, definite) for x in v)
        return (_head(4, len(v)) if definite else b"\x9f") + items + (b"" if definite else b"\xff")
    if isinstance(v, Ms):
        return cbor2.dumps(cbor2.CBORTag(1, int(v)))
    return cbor2.dumps(v)


def _head(major, n):
    """A definite map/array head (cbor2 writes only whole items)."""
    if n < 24:
        return bytes([major << 5 | n])
    if n < 256:
        return bytes([major << 5 | 24, n])
    return bytes([major << 5 | 25]) + n.to_bytes(2, "big")


def dec(body):
    """CBOR answer to Python, tag 1 as Ms (cbor2 would read it as seconds)."""
    saved = cbor_decoder.semantic_decoders[1]
    cbor_decoder.semantic_decoders[1] = lambda d: Ms(d._decode())
    try:
        return cbor_decoder.CBORDecoder(io.BytesIO(body)).decode()
    finally:
        cbor_decoder.semantic_decoders[1] = saved


def to_json_form(v):
    """A CBOR request's value as the JSON request would carry it."""
    if isinstance(v, dict):
        return {k: to_json_form(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json_form(x) for x in v]
    if isinstance(v, (bytes, bytearray)):
        return b64(bytes(v))
    if isinstance(v, Ms):
        return int(v) / 1000.0
    return v


def norm_json(v, key=None):
    """A JSON answer in comparable form: timestamps in ms, Data as bytes."""
    if isinstance(v, dict):
        return {k: norm_json(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [norm_json(x) for x in v]
    if key in TS_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool):
        return round(v * 1000)
    if key == "Data" and isinstance(v, str):
        return base64.b64decode(v)
    return v


def norm_cbor(v, key=None):
    if isinstance(v, dict):
        return {k: norm_cbor(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [norm_cbor(x) for x in v]
    if isinstance(v, Ms):
        return int(v)
    return v


def call(kenv, op, payload, definite=False, body=None):
    return kenv.raw(op, enc(payload, definite) if body is None else body, content_type=CBOR)


def ok(r):
    assert r.status == 200, (r, dec(r.body) if r.body else None)
    assert r.headers.get("content-type") == CBOR, r.headers
    return dec(r.body) if r.body else None


def error_of(r, cbor=True):
    """(status, __type, message, message key) of an error answer, with its header checked."""
    assert r.status >= 400, r
    assert r.headers.get("content-type") == (CBOR if cbor else "application/x-amz-json-1.1")
    body = dec(r.body) if cbor else r.json()
    assert isinstance(body, dict), body
    assert r.headers.get("x-amzn-errortype") == body["__type"], (r.headers, body)
    keys = sorted(set(body) - {"__type"})
    return r.status, body["__type"], body.get("message", body.get("Message")), keys


def wait_cbor_active(kenv, name, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        d = ok(call(kenv, "DescribeStreamSummary", {"StreamName": name}))
        if d["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            return d["StreamDescriptionSummary"]
        time.sleep(0.2)
    raise AssertionError("stream %s not ACTIVE" % name)


def read_all(kenv, it):
    """GetRecords in CBOR from iterator it until an empty answer: the records."""
    out = []
    for _ in range(20):
        g = ok(call(kenv, "GetRecords", {"ShardIterator": it, "Limit": 1000}))
        out += g["Records"]
        assert isinstance(g["MillisBehindLatest"], int)
        if not g["Records"]:
            break
        it = g["NextShardIterator"]
    return out


def shard_iterator(kenv, name, shard, kind, **kw):
    body = {"StreamName": name, "ShardId": shard, "ShardIteratorType": kind}
    body.update(kw)
    return ok(call(kenv, "GetShardIterator", body))["ShardIterator"]


def test_cbor_round_trip(kenv, streams):
    name = streams.name()
    before = int(time.time() * 1000) - 2000
    r = call(kenv, "CreateStream", {"StreamName": name, "ShardCount": 2})
    assert r.status == 200 and r.headers.get("content-type") == CBOR, r
    summ = wait_cbor_active(kenv, name)
    assert isinstance(summ["StreamCreationTimestamp"], Ms)
    assert before <= summ["StreamCreationTimestamp"] <= time.time() * 1000 + 2000
    assert summ["OpenShardCount"] == 2 and summ["RetentionPeriodHours"] == 24
    desc = ok(call(kenv, "DescribeStream", {"StreamName": name}))["StreamDescription"]
    assert desc["StreamCreationTimestamp"] == summ["StreamCreationTimestamp"]
    assert [s["ShardId"] for s in desc["Shards"]] == ["shardId-000000000000",
                                                       "shardId-000000000001"]
    shards = ok(call(kenv, "ListShards", {"StreamName": name}, definite=True))["Shards"]
    assert [s["ShardId"] for s in shards] == [s["ShardId"] for s in desc["Shards"]]
    filt = ok(call(kenv, "ListShards", {"StreamName": name, "ShardFilter": {
        "Type": "AT_TIMESTAMP", "Timestamp": Ms(int(time.time() * 1000))}}))["Shards"]
    assert len(filt) == 2

    # puts: byte-string Data (binary), base64 text Data, a definite PutRecords
    t0 = Ms(int(time.time() * 1000) - 1000)
    p1 = ok(call(kenv, "PutRecord", {"StreamName": name, "PartitionKey": "a",
                                     "ExplicitHashKey": "0", "Data": b"\x00\xffone"}))
    assert p1["ShardId"] == "shardId-000000000000" and p1["EncryptionType"] == "NONE"
    p2 = ok(call(kenv, "PutRecord", {"StreamName": name, "PartitionKey": "b",
                                     "ExplicitHashKey": "0", "Data": b64(b"two")}))
    datas = [bytes([i]) * (i + 1) for i in range(20)]
    for definite in (False, True):
        pr = ok(call(kenv, "PutRecords", {"StreamName": name, "Records": [
            {"PartitionKey": "k%d" % i, "ExplicitHashKey": "0", "Data": d}
            for i, d in enumerate(datas)]}, definite=definite))
        assert pr["FailedRecordCount"] == 0 and len(pr["Records"]) == 20
        assert all(e["ShardId"] == "shardId-000000000000" for e in pr["Records"])
    want = [b"\x00\xffone", b"two"] + datas + datas

    # every iterator type, GetRecords with byte-string Data and tag-1 arrival times
    recs = read_all(kenv, shard_iterator(kenv, name, "shardId-000000000000", "TRIM_HORIZON"))
    assert [r["Data"] for r in recs] == want
    assert all(isinstance(r["ApproximateArrivalTimestamp"], Ms) for r in recs)
    assert all(t0 <= r["ApproximateArrivalTimestamp"] <= time.time() * 1000 + 2000
               for r in recs)
    assert recs[0]["PartitionKey"] == "a" and recs[0]["SequenceNumber"] == p1["SequenceNumber"]
    at = read_all(kenv, shard_iterator(kenv, name, "shardId-000000000000", "AT_SEQUENCE_NUMBER",
                                       StartingSequenceNumber=p2["SequenceNumber"]))
    assert [r["Data"] for r in at] == want[1:]
    after = read_all(kenv, shard_iterator(kenv, name, "shardId-000000000000",
                                          "AFTER_SEQUENCE_NUMBER",
                                          StartingSequenceNumber=p2["SequenceNumber"]))
    assert [r["Data"] for r in after] == want[2:]
    by_time = read_all(kenv, shard_iterator(kenv, name, "shardId-000000000000", "AT_TIMESTAMP",
                                            Timestamp=t0))
    assert [r["Data"] for r in by_time] == want
    future = Ms(int(time.time() * 1000) + 3600 * 1000)  # refused, the tag-1 ms in its text
    st, etype, msg, _ = error_of(call(kenv, "GetShardIterator", {
        "StreamName": name, "ShardId": "shardId-000000000000",
        "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": future}))
    assert (st, etype) == (400, "InvalidArgumentException")
    assert "timestampInMillis: %d," % future in msg, msg
    latest = shard_iterator(kenv, name, "shardId-000000000000", "LATEST")
    ok(call(kenv, "PutRecord", {"StreamName": name, "PartitionKey": "z", "ExplicitHashKey": "0",
                                "Data": b"late"}))
    assert [r["Data"] for r in read_all(kenv, latest)] == [b"late"]

    # tags, retention
    ok(call(kenv, "AddTagsToStream", {"StreamName": name, "Tags": {"t1": "v1", "t2": ""}}))
    tags = ok(call(kenv, "ListTagsForStream", {"StreamName": name}))
    assert tags["Tags"] == [{"Key": "t1", "Value": "v1"}, {"Key": "t2", "Value": ""}]
    assert tags["HasMoreTags"] is False
    ok(call(kenv, "RemoveTagsFromStream", {"StreamName": name, "TagKeys": ["t2"]}))
    assert ok(call(kenv, "ListTagsForStream", {"StreamName": name}))["Tags"] == \
        [{"Key": "t1", "Value": "v1"}]
    ok(call(kenv, "IncreaseStreamRetentionPeriod", {"StreamName": name,
                                                    "RetentionPeriodHours": 48}))
    assert wait_cbor_active(kenv, name)["RetentionPeriodHours"] == 48
    ok(call(kenv, "DecreaseStreamRetentionPeriod", {"StreamName": name,
                                                    "RetentionPeriodHours": 24}))
    assert wait_cbor_active(kenv, name)["RetentionPeriodHours"] == 24

    # split, merge
    ok(call(kenv, "SplitShard", {"StreamName": name, "ShardToSplit": "shardId-000000000000",
                                 "NewStartingHashKey": str(1 << 126)}))
    wait_cbor_active(kenv, name)
    opened = ok(call(kenv, "ListShards", {"StreamName": name, "ShardFilter": {
        "Type": "AT_LATEST"}}))["Shards"]
    assert sorted(s["ShardId"] for s in opened) == ["shardId-000000000001",
                                                    "shardId-000000000002",
                                                    "shardId-000000000003"]
    ok(call(kenv, "MergeShards", {"StreamName": name, "ShardToMerge": "shardId-000000000002",
                                  "AdjacentShardToMerge": "shardId-000000000003"}))
    wait_cbor_active(kenv, name)
    # the split parent read to its end: no next iterator, its children instead
    ended = ok(call(kenv, "GetRecords", {"ShardIterator": shard_iterator(
        kenv, name, "shardId-000000000000", "LATEST")}))
    assert ended["Records"] == [] and "NextShardIterator" not in ended
    assert sorted(c["ShardId"] for c in ended["ChildShards"]) == ["shardId-000000000002",
                                                                   "shardId-000000000003"]

    # consumers
    arn = desc["StreamARN"]
    reg = ok(call(kenv, "RegisterStreamConsumer", {"StreamARN": arn, "ConsumerName": "c1"}))
    assert isinstance(reg["Consumer"]["ConsumerCreationTimestamp"], Ms)
    carn = reg["Consumer"]["ConsumerARN"]
    d = ok(call(kenv, "DescribeStreamConsumer", {"ConsumerARN": carn}))
    assert d["ConsumerDescription"]["ConsumerCreationTimestamp"] == \
        reg["Consumer"]["ConsumerCreationTimestamp"]
    lst = ok(call(kenv, "ListStreamConsumers", {"StreamARN": arn}))["Consumers"]
    assert [c["ConsumerName"] for c in lst] == ["c1"]
    ok(call(kenv, "DeregisterStreamConsumer", {"ConsumerARN": carn}))

    # delete
    ok(call(kenv, "DeleteStream", {"StreamName": name, "EnforceConsumerDeletion": True}))
    end = time.time() + 30
    while time.time() < end:
        r = call(kenv, "DescribeStreamSummary", {"StreamName": name})
        if r.status != 200:
            break
        time.sleep(0.2)
    st, etype, msg, _ = error_of(r)
    assert (st, etype) == (400, "ResourceNotFoundException") and name in msg


@pytest.mark.parametrize("body", [
    b"\x80", b"\x9f\xff", b"\x61a", b"\x00", b"\xc1\xa0", b"\xa0\x00", b"\xbf", b"\xa1\x61a",
    b"\xff", b"\x1c", b'{"StreamName":"x"}'])
@pytest.mark.parametrize("op", ["DescribeStreamSummary", "PutRecord", "PutRecords",
                                "GetShardIterator", "GetRecords", "SubscribeToShard"])
def test_cbor_not_one_map(kenv, op, body):
    assert error_of(call(kenv, op, None, body=body)) == (400, "SerializationException", None, [])


def test_cbor_empty_body_and_unknown_op(kenv):
    assert error_of(call(kenv, "ListStreams", None, body=b"")) == \
        (400, "SerializationException", None, [])
    assert error_of(call(kenv, "NoSuchOperation", None, body=b"")) == \
        (400, "UnknownOperationException", None, [])
    assert error_of(call(kenv, "NoSuchOperation", {})) == \
        (400, "UnknownOperationException", None, [])


@pytest.fixture(scope="module")
def dstream(kenv):
    """A 1-shard stream with one record, for the differential."""
    c = kenv.client(retries=True)
    name = "it-cbor-%d" % int(time.time() * 1000)
    c.create_stream(StreamName=name, ShardCount=1)
    wait_active(c, name)
    c.add_tags_to_stream(StreamName=name, Tags={"a": "1"})
    c.put_record(StreamName=name, PartitionKey="k", Data=b"\x01\x02")
    yield name
    c.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def _diff_cases(name, it):
    sub = {"ConsumerARN": "arn:aws:kinesis:us-east-1:000000000000:stream/%s/consumer/x:1" % name,
           "ShardId": "shardId-000000000000"}
    now = Ms(int(time.time() * 1000))
    return [
        # good (answers that do not change between two calls)
        ("DescribeStreamSummary", {"StreamName": name}),
        ("DescribeStream", {"StreamName": name, "Limit": 1}),
        ("ListShards", {"StreamName": name}),
        ("ListShards", {"StreamName": name, "ShardFilter": {"Type": "AT_TIMESTAMP",
                                                            "Timestamp": now}}),
        ("ListShards", {"StreamName": name, "ShardFilter": {"Type": "FROM_TIMESTAMP",
                                                            "Timestamp": Ms(1500)}}),
        ("ListTagsForStream", {"StreamName": name}),
        ("ListStreamConsumers", {"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:"
                                              "stream/nope"}),
        ("GetRecords", {"ShardIterator": it}),
        ("GetRecords", {"ShardIterator": it, "Limit": 1.9}),
        # bad: types, constraints, logic
        ("DescribeStreamSummary", {}),
        ("DescribeStreamSummary", {"StreamName": "nope-none"}),
        ("DescribeStreamSummary", {"StreamName": True}),
        ("DescribeStreamSummary", {"StreamName": 12}),
        ("DescribeStreamSummary", {"StreamName": [name]}),
        ("DescribeStreamSummary", {"StreamName": {"a": 1}}),
        ("DescribeStream", {"StreamName": name, "Limit": "x"}),
        ("DescribeStream", {"StreamName": name, "Limit": 0}),
        ("ListShards", {"StreamName": name, "MaxResults": 0}),
        ("ListShards", {"StreamName": name, "ShardFilter": {"Type": "BOGUS"}}),
        ("ListShards", {"StreamName": name, "ShardFilter": {"Type": "AT_TIMESTAMP"}}),
        ("ListShards", {"StreamName": name, "ShardFilter": {"Type": "AT_TIMESTAMP",
                                                            "Timestamp": "x"}}),
        ("ListShards", {"StreamName": name, "NextToken": "bad",
                        "StreamCreationTimestamp": now}),
        ("CreateStream", {"StreamName": "a b", "ShardCount": 1}),
        ("CreateStream", {"StreamName": name, "ShardCount": 1}),
        ("CreateStream", {"StreamName": name, "ShardCount": True}),
        ("AddTagsToStream", {"StreamName": name, "Tags": {}}),
        ("AddTagsToStream", {"StreamName": name, "Tags": ["a"]}),
        ("IncreaseStreamRetentionPeriod", {"StreamName": name, "RetentionPeriodHours": 1}),
        ("PutRecord", {"StreamName": name, "PartitionKey": "", "Data": b"x"}),
        ("PutRecord", {"StreamName": name, "PartitionKey": "k"}),
        ("PutRecord", {"StreamName": name, "PartitionKey": "k", "Data": 5}),
        ("PutRecord", {"StreamName": name, "PartitionKey": "k", "Data": "abc"}),
        ("PutRecord", {"StreamName": "nope-none", "PartitionKey": "k", "Data": b"x"}),
        ("PutRecord", {"PartitionKey": "k", "Data": b"x"}),
        ("PutRecords", {"StreamName": name, "Records": []}),
        ("PutRecords", {"StreamName": name, "Records": [{"PartitionKey": "k"}] * 2}),
        ("PutRecords", {"StreamName": name, "Records": {"a": 1}}),
        ("GetShardIterator", {"StreamName": name, "ShardId": "shardId-000000000009",
                              "ShardIteratorType": "LATEST"}),
        ("GetShardIterator", {"StreamName": name, "ShardId": "shardId-000000000000",
                              "ShardIteratorType": "BOGUS"}),
        ("GetShardIterator", {"StreamName": name, "ShardId": "shardId-000000000000",
                              "ShardIteratorType": "AT_TIMESTAMP"}),
        ("GetShardIterator", {"StreamName": name, "ShardId": "shardId-000000000000",
                              "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": "now"}),
        ("GetShardIterator", {"StreamName": name, "ShardId": "shardId-000000000000",
                              "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                              "StartingSequenceNumber": "12"}),
        ("GetRecords", {"ShardIterator": "bogus"}),
        ("GetRecords", {"ShardIterator": it, "Limit": 0}),
        ("GetRecords", {"ShardIterator": it, "Limit": True}),
        ("GetRecords", {}),
        ("SubscribeToShard", {}),
        ("SubscribeToShard", dict(sub, StartingPosition={"Type": "AT_TIMESTAMP",
                                                         "Timestamp": "x"})),
        ("SubscribeToShard", dict(sub, StartingPosition={"Type": "AT_TIMESTAMP",
                                                         "Timestamp": now})),
        ("SubscribeToShard", dict(sub, StartingPosition={})),
    ]


def test_cbor_json_differential(kenv, dstream):
    it = kenv.client().get_shard_iterator(StreamName=dstream, ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    cases = _diff_cases(dstream, it)
    n_ok = n_err = 0
    for op, payload in cases:
        for definite in (False, True):
            rj = kenv.raw(op, json.dumps(to_json_form(payload)))
            rc = call(kenv, op, payload, definite=definite)
            assert rc.status == rj.status, (op, payload, rj, rc)
            if rj.status == 200:
                a, b = norm_json(rj.json()), norm_cbor(ok(rc))
                for ans in (a, b):  # an iterator's seal differs from call to call
                    ans.pop("NextShardIterator", None)
                    ans.pop("MillisBehindLatest", None)
                assert a == b, (op, payload, a, b)
                n_ok += 1
            else:
                assert error_of(rc) == error_of(rj, cbor=False), (op, payload)
                n_err += 1
    assert n_ok >= 16 and n_err >= 60, (n_ok, n_err)


def test_cbor_subscribe_to_shard(kenv, streams):
    name = streams.create(shards=1)
    carn = _register(kenv, name, "cb")
    c = kenv.client()
    t0 = int(time.time() * 1000) - 1000
    seqs = [c.put_record(StreamName=name, PartitionKey="k", Data=b"s%d" % i)["SequenceNumber"]
            for i in range(3)]
    body = enc({"ConsumerARN": carn, "ShardId": "shardId-000000000000",
                "StartingPosition": {"Type": "AT_TIMESTAMP", "Timestamp": Ms(t0)}})

    def talk():
        h = H2(kenv.host)
        try:
            h.start()
            sid = h.request(signed_headers(kenv, "SubscribeToShard", body,
                                           {"Content-Type": CBOR}), body)
            assert h.pump(lambda: len(_messages_safe(h.responses[sid].body)) >= 2, 10)
            return h.responses[sid]
        finally:
            h.close()

    resp = kenv.ex.run(talk)
    assert resp.status == 200, (resp.status, resp.body)
    msgs = _messages(resp.body)
    assert msgs[1][0][":event-type"] == "SubscribeToShardEvent"
    ev = json.loads(msgs[1][1])  # events stay JSON (§6.2)
    assert [r["SequenceNumber"] for r in ev["Records"]] == seqs

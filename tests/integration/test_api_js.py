"""The AWS SDK for JavaScript v3 (@aws-sdk/client-kinesis) against the endpoint, through
js/kinesis_js.mjs (node runs inside the instance's namespace on Spate), each test three times:
over NodeHttpHandler (HTTP/1.1), over the client's default handler, NodeHttp2Handler (HTTP/2 with
prior knowledge on http://, dataplane/api/api_h2.c), and (Spate only) over the default handler
on https:// with the instance's dev CA (TLS, h2 chosen by ALPN). On Spate, the HTTP/2 runs also
check that their requests arrived as HTTP/2 streams, the TLS run that they came over TLS.

Needs tools/setup/install-js.sh (tests/integration/js/node_modules).
"""
import base64
import os
import random

import pytest

from kinesis_env import b64, instance_env, md5_hash_key, shard_for

MIB = 1 << 20
HANDLER_CLASS = {"http1": "NodeHttpHandler", "default": "NodeHttp2Handler",
                 "tls": "NodeHttp2Handler"}


class Node:
    """env.node with one handler; on Spate over HTTP/2, counts the streams the calls made."""

    def __init__(self, env, handler):
        self.env = env
        self.handler = handler
        self.calls = 0

    def __call__(self, steps, **kw):
        out = self.env.node(steps, handler="http1" if self.handler == "http1" else "default",
                            **kw)
        assert out["handler"] == HANDLER_CLASS[self.handler], out["handler"]
        self.calls += len(steps)
        return out


def _http(kenv):
    return kenv.instance.rpc("status")["dataplane"]["api"]["http"]


@pytest.fixture(params=["http1", "default", "tls"])
def node(request, kenv):
    spate = kenv.is_spate and kenv.instance is not None
    if request.param == "tls" and not spate:
        pytest.skip("TLS runs against Spate's own port and CA")
    env = instance_env(kenv.instance, 443) if request.param == "tls" else kenv
    n = Node(env, request.param)
    before = _http(kenv) if spate else None
    yield n
    if env is not kenv:
        env.close()
    if spate:
        after = _http(kenv)
        h2 = after["h2"]["streams"] - before["h2"]["streams"]
        tls_h2 = after["tls"]["alpn"]["h2"] - before["tls"]["alpn"]["h2"]
        if n.handler == "http1":
            assert h2 == 0, h2
        else:
            # every call went over HTTP/2 (other tests' clients do not speak it here)
            assert h2 >= n.calls > 0, (h2, n.calls)
        # and over TLS exactly when asked (a handshake per node process at least)
        assert (tls_h2 > 0) == (n.handler == "tls"), (tls_h2, n.handler)


def _ok(res):
    assert "ok" in res, res
    return res["ok"]


def _err(res):
    assert "error" in res, res
    e = res["error"]
    return e["name"], e["message"], e["status"]


def test_js_round_trip(node, streams):
    name = streams.name()
    out = node([{"op": "CreateStream", "input": {"StreamName": name, "ShardCount": 4}},
                {"op": "WaitActive", "input": {"StreamName": name}},
                {"op": "ListShards", "input": {"StreamName": name}}])
    res = out["results"]
    assert _ok(res[0])["$metadata"]["httpStatusCode"] == 200
    summary = _ok(res[1])["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 4
    shards = _ok(res[2])["Shards"]
    assert len(shards) == 4

    rng = random.Random(7)
    recs = []
    for i in range(600):
        key = "js-%d-%x" % (i, rng.getrandbits(64))
        recs.append((key, os.urandom(rng.randint(0, 4096))))
    big_key = "js-big"
    recs.append((big_key, os.urandom(MIB - len(big_key))))  # data + key = 1 MiB exactly
    steps = [{"op": "PutRecord", "input": {"StreamName": name, "PartitionKey": k,
                                           "Data": b64(d)}} for k, d in recs[:50]]
    steps.append({"op": "PutRecords", "input": {"StreamName": name, "Records": [
        {"PartitionKey": k, "Data": b64(d)} for k, d in recs[50:550]]}})
    steps.append({"op": "PutRecords", "input": {"StreamName": name, "Records": [
        {"PartitionKey": k, "Data": b64(d)} for k, d in recs[550:]]}})
    res = node(steps)["results"]
    acks = [_ok(r) for r in res[:50]]
    for r in res[50:]:
        out = _ok(r)
        assert out["FailedRecordCount"] == 0
        acks += out["Records"]
    assert len(acks) == len(recs)
    by_shard = {s["ShardId"]: [] for s in shards}
    for (k, d), a in zip(recs, acks):
        assert a["ShardId"] == shard_for(shards, md5_hash_key(k)), k
        by_shard[a["ShardId"]].append((k, d, a["SequenceNumber"]))

    res = node([{"op": "ReadShard", "input": {
        "StreamName": name, "ShardId": sid, "ShardIteratorType": "TRIM_HORIZON",
        "Want": len(want)}} for sid, want in by_shard.items()])["results"]
    for (sid, want), r in zip(by_shard.items(), res):
        got = _ok(r)["Records"]
        assert [(g["PartitionKey"], base64.b64decode(g["Data"]), g["SequenceNumber"])
                for g in got] == want, sid

    res = node([{"op": "DeleteStream", "input": {"StreamName": name}}])["results"]
    _ok(res[0])


def test_js_iterator_types(kenv, node, streams):
    c = kenv.client()
    name = streams.create(shards=1)
    seqs = [c.put_record(StreamName=name, Data=b"r%d" % i, PartitionKey="k")["SequenceNumber"]
            for i in range(10)]
    base = {"StreamName": name, "ShardId": "shardId-000000000000"}
    res = node([
        {"op": "ReadShard", "input": dict(base, ShardIteratorType="AT_SEQUENCE_NUMBER",
                                          StartingSequenceNumber=seqs[4], Want=6)},
        {"op": "ReadShard", "input": dict(base, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                          StartingSequenceNumber=seqs[4], Want=5)},
        {"op": "ReadShard", "input": dict(base, ShardIteratorType="TRIM_HORIZON", Want=10)},
        {"op": "GetShardIterator", "input": dict(base, ShardIteratorType="LATEST")},
    ])["results"]
    assert [g["SequenceNumber"] for g in _ok(res[0])["Records"]] == seqs[4:]
    assert [g["SequenceNumber"] for g in _ok(res[1])["Records"]] == seqs[5:]
    got = _ok(res[2])["Records"]
    assert [base64.b64decode(g["Data"]) for g in got] == [b"r%d" % i for i in range(10)]
    latest = _ok(res[3])["ShardIterator"]
    # AT_TIMESTAMP with the 7th record's arrival time (the SDK sends milliseconds)
    arrivals = [g["ApproximateArrivalTimestamp"] for g in got]
    t = arrivals[6]
    j = next(i for i, a in enumerate(arrivals) if a >= t)
    seq_new = c.put_record(StreamName=name, Data=b"new", PartitionKey="k")["SequenceNumber"]
    res = node([
        {"op": "ReadShard", "input": dict(base, ShardIteratorType="AT_TIMESTAMP", Timestamp=t,
                                          Want=11 - j)},
        {"op": "GetRecords", "input": {"ShardIterator": latest}},
    ])["results"]
    assert [g["SequenceNumber"] for g in _ok(res[0])["Records"]] == (seqs + [seq_new])[j:]
    assert [g["SequenceNumber"] for g in _ok(res[1])["Records"]] == [seq_new]


def test_js_errors(kenv, node, streams):
    name = streams.create(shards=1)
    acct = kenv.account_id(name)
    missing = name + "-missing"
    res = node([
        {"op": "DescribeStreamSummary", "input": {"StreamName": missing}},
        {"op": "PutRecord", "input": {"StreamName": name, "PartitionKey": "k" * 257,
                                      "Data": "AA=="}},
        {"op": "GetRecords", "input": {"ShardIterator": "AAAA"}},
        {"op": "PutRecord", "input": {"StreamName": name, "PartitionKey": "k",
                                      "Data": b64(b"\0" * (MIB + 1))}},
        {"op": "CreateStream", "input": {"StreamName": name, "ShardCount": 1}},
    ])["results"]
    assert _err(res[0]) == ("ResourceNotFoundException",
                            "Stream %s under account %s not found." % (missing, acct), 400)
    assert _err(res[1]) == ("ValidationException",
                            "1 validation error detected: Value '%s' at 'partitionKey' failed to "
                            "satisfy constraint: Member must have length less than or equal to "
                            "256" % ("k" * 257), 400)
    assert _err(res[2]) == ("InvalidArgumentException", "Invalid ShardIterator.", 400)
    assert _err(res[3]) == ("ValidationException",
                            "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 "
                            "lim=1048577 cap=1048577]' at 'data' failed to satisfy constraint: "
                            "Member must have length less than or equal to 1048576", 400)
    assert _err(res[4]) == ("ResourceInUseException",
                            "Stream %s under account %s already exists." % (name, acct), 400)


@pytest.mark.spate_only
def test_js_wrong_secret(kenv, node):
    """The SDK's own SigV4 (with its amz-sdk-* signed headers) is verified: a wrong secret
    fails, the right one passes."""
    good = node([{"op": "ListStreams", "input": {"Limit": 1}}])["results"][0]
    _ok(good)
    bad = node([{"op": "ListStreams", "input": {"Limit": 1}}],
               secret_key=kenv.secret_key + "x")["results"][0]
    assert _err(bad)[0] == "InvalidSignatureException" and _err(bad)[2] == 400

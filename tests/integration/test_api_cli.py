"""The AWS CLI (/usr/bin/aws, v2) against the endpoint (inside the instance's namespace on Spate).

CLI v2 takes blob arguments as base64 unless --cli-binary-format raw-in-base64-out is given,
and prints blobs as base64. Errors exit 254 with
`An error occurred (<type>) when calling the <Op> operation: <message>` on stderr.
"""
import base64
import json
import os
import time

import pytest

from kinesis_env import b64, cli_json, expect_cli_error, md5_hash_key, shard_for

MIB = 1 << 20


def _wait_active(kenv, name, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        st = cli_json(kenv.cli("describe-stream-summary", "--stream-name", name))
        if st["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            return st["StreamDescriptionSummary"]
        assert time.monotonic() < deadline, "stream %s not ACTIVE" % name
        time.sleep(0.2)


def test_cli_round_trip(kenv, streams, tmp_path):
    name = streams.name()
    cli_json(kenv.cli("create-stream", "--stream-name", name, "--shard-count", 2))
    summary = _wait_active(kenv, name)
    assert summary["OpenShardCount"] == 2
    shards = cli_json(kenv.cli("list-shards", "--stream-name", name))["Shards"]
    assert [s["ShardId"] for s in shards] == ["shardId-000000000000", "shardId-000000000001"]

    sent = []
    # PutRecord: binary data as base64 (the CLI v2 default), and text with raw-in-base64-out
    for i in range(3):
        data, key = os.urandom(300 * i + 1), "cli-key-%d" % i
        out = cli_json(kenv.cli("put-record", "--stream-name", name, "--partition-key", key,
                             "--data", b64(data)))
        assert out["ShardId"] == shard_for(shards, md5_hash_key(key))
        sent.append((key, data, out["ShardId"], out["SequenceNumber"]))
    out = cli_json(kenv.cli("put-record", "--stream-name", name, "--partition-key", "txt",
                         "--data", "hello from the cli", "--cli-binary-format",
                         "raw-in-base64-out"))
    sent.append(("txt", b"hello from the cli", out["ShardId"], out["SequenceNumber"]))
    # PutRecords from a file, including one record at the size limit (data + key = 1 MiB)
    recs = [("cli-batch-%d" % i, os.urandom(i * 37)) for i in range(200)]
    recs.append(("cli-big", os.urandom(MIB - len("cli-big"))))
    f = tmp_path / "records.json"
    f.write_text(json.dumps([{"PartitionKey": k, "Data": b64(d)} for k, d in recs]))
    out = cli_json(kenv.cli("put-records", "--stream-name", name, "--records", "file://%s" % f))
    assert out["FailedRecordCount"] == 0 and len(out["Records"]) == len(recs)
    for (k, d), a in zip(recs, out["Records"]):
        assert a["ShardId"] == shard_for(shards, md5_hash_key(k)), k
        sent.append((k, d, a["ShardId"], a["SequenceNumber"]))

    for sid in ("shardId-000000000000", "shardId-000000000001"):
        want = [x for x in sent if x[2] == sid]
        it = cli_json(kenv.cli("get-shard-iterator", "--stream-name", name, "--shard-id", sid,
                            "--shard-iterator-type", "TRIM_HORIZON"))["ShardIterator"]
        got = []
        for _ in range(50):
            out = cli_json(kenv.cli("get-records", "--shard-iterator", it))
            got += out["Records"]
            it = out["NextShardIterator"]
            if len(got) >= len(want) or not out["Records"]:
                break
        assert [(g["PartitionKey"], base64.b64decode(g["Data"]), g["SequenceNumber"])
                for g in got] == [(k, d, seq) for k, d, _, seq in want], sid

    cli_json(kenv.cli("delete-stream", "--stream-name", name))


def test_cli_errors(kenv, streams):
    name = streams.create(shards=1)
    acct = kenv.account_id(name)
    missing = name + "-missing"
    expect_cli_error(kenv.cli("describe-stream-summary", "--stream-name", missing),
               "ResourceNotFoundException", "DescribeStreamSummary",
               "Stream %s under account %s not found." % (missing, acct))
    key = "k" * 257
    expect_cli_error(kenv.cli("put-record", "--stream-name", name, "--partition-key", key,
                        "--data", "AA=="),
               "ValidationException", "PutRecord",
               "1 validation error detected: Value '%s' at 'partitionKey' failed to satisfy "
               "constraint: Member must have length less than or equal to 256" % key)
    expect_cli_error(kenv.cli("get-records", "--shard-iterator", "AAAA"),
               "InvalidArgumentException", "GetRecords", "Invalid ShardIterator.")
    expect_cli_error(kenv.cli("create-stream", "--stream-name", name, "--shard-count", 1),
               "ResourceInUseException", "CreateStream",
               "Stream %s under account %s already exists." % (name, acct))
    expect_cli_error(kenv.cli("get-shard-iterator", "--stream-name", name, "--shard-id",
                        "shardId-000000000000", "--shard-iterator-type", "AT_TIMESTAMP"),
               "InvalidArgumentException", "GetShardIterator",
               "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
               "Current request has no timestamp parameter.")


@pytest.mark.spate_only
def test_cli_wrong_secret(kenv):
    p = kenv.cli("list-streams", secret_key=kenv.secret_key + "x")
    expect_cli_error(p, "InvalidSignatureException", "ListStreams",
               "The request signature we calculated does not match the signature you provided. "
               "Check your AWS Secret Access Key and signing method. Consult the service "
               "documentation for details.")

"""Stream encryption at rest through real clients (docs/internals/encryption.md).

One instance of its own (1 worker, small rings) and boto3:
  - records written before StartStreamEncryption report EncryptionType NONE; after it (KMS,
    alias/aws/kinesis from the key file `spate-dev up` made) PutRecord, PutRecords and
    GetRecords report KMS, and the records read back byte-exact;
  - at rest: the store file holds the clear records' marker (the check can see clear text)
    and not one copy of the sealed records' marker, nor of their partition keys;
  - the dataplane killed and started again: every record comes back from the store (cold
    reads open the sealed ones), byte-exact, each with the EncryptionType it was written under;
  - StopStreamEncryption: later records are NONE again; all three generations read back;
  - the status counts what was sealed and opened, and no sealing error.
"""
import os
import time
import uuid
from pathlib import Path

import pytest

from harness import instance_down, instance_up
from kinesis_env import Env, read_credentials, wait_active

pytestmark = pytest.mark.spate_only

NAME = "sealed"


def _env(inst):
    key, secret = read_credentials(Path(inst.data_dir) / "credentials")
    return Env("spate", "http://%s:80" % inst.ipv4, key, secret, netns=inst.netns, instance=inst)


def _sealing(inst):
    return inst.dataplane()["api"]["storage"]["sealing"]


def _store_bytes(inst):
    """Every byte the store files hold, read extent by extent (they are sparse)."""
    out = []
    for f in sorted((Path(inst.data_dir) / "store").glob("store-*.spate")):
        fd = os.open(f, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            off = 0
            while off < size:
                try:
                    start = os.lseek(fd, off, os.SEEK_DATA)
                except OSError:
                    break  # no data after off
                end = os.lseek(fd, start, os.SEEK_HOLE)
                out.append(os.pread(fd, end - start, start))
                off = end
        finally:
            os.close(fd)
    return b"".join(out)


def _put(c, marker, n, gen):
    """n records in PutRecords batches of 50 and one PutRecord; [(seq, data, key)]."""
    sent, kinds = [], set()
    for b in range(0, n, 50):
        recs = [{"Data": marker + b"-%s-%05d-" % (gen, b + i) + os.urandom(64),
                 "PartitionKey": "%s-key-%d" % (marker.decode(), i % 7)}
                for i in range(min(50, n - b))]
        r = c.put_records(StreamName=NAME, Records=recs)
        assert r["FailedRecordCount"] == 0, r
        kinds.add(r["EncryptionType"])
        sent += [(int(e["SequenceNumber"]), x["Data"], x["PartitionKey"])
                 for x, e in zip(recs, r["Records"])]
    one = marker + b"-%s-single" % gen
    r = c.put_record(StreamName=NAME, Data=one, PartitionKey="%s-one" % marker.decode())
    kinds.add(r["EncryptionType"])
    sent.append((int(r["SequenceNumber"]), one, "%s-one" % marker.decode()))
    return sent, kinds


def _read_all(c):
    shard = c.list_shards(StreamName=NAME)["Shards"][0]["ShardId"]
    it = c.get_shard_iterator(StreamName=NAME, ShardId=shard,
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got, empty = [], 0
    while it and empty < 2:
        r = c.get_records(ShardIterator=it, Limit=300)
        got += [(int(x["SequenceNumber"]), x["Data"], x["PartitionKey"], x["EncryptionType"])
                for x in r["Records"]]
        it = r["NextShardIterator"]
        empty = empty + 1 if not r["Records"] and r["MillisBehindLatest"] == 0 else 0
    return got


def _expect(got, *gens):
    want = sorted((s, d, k, kind) for sent, kind in gens for (s, d, k) in sent)
    assert len(got) == len(want), (len(got), len(want))
    assert got == want


@pytest.fixture(scope="module")
def inst(request):
    name = "spt-seal"
    instance_down(name, purge=True)
    i = instance_up(name, 1, "--set", "shard_ring_mb=8", "--set", "mem_mb=768")
    yield i
    instance_down(name, purge=True)


def test_sealed_at_rest_and_after_restart(inst):
    env = _env(inst)
    c = env.client(retries=True)
    c.create_stream(StreamName=NAME, ShardCount=1)
    wait_active(c, NAME)
    tag = uuid.uuid4().hex[:10].encode()
    clear_marker, sealed_marker = b"CLEAR" + tag, b"SEALED" + tag
    clear, kinds = _put(c, clear_marker, 120, b"a")
    assert kinds == {"NONE"}

    c.start_stream_encryption(StreamName=NAME, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    st = wait_active(c, NAME)
    assert st["EncryptionType"] == "KMS" and st["KeyId"] == "alias/aws/kinesis", st
    sealed, kinds = _put(c, sealed_marker, 400, b"b")
    assert kinds == {"KMS"}, kinds
    _expect(_read_all(c), (clear, "NONE"), (sealed, "KMS"))

    # at rest (durable ack mode: acknowledged means written)
    disk = _store_bytes(inst)
    assert disk.count(clear_marker) >= len(clear), "clear records not found as written"
    assert sealed_marker not in disk
    assert (sealed_marker.decode() + "-key").encode() not in disk  # partition keys too
    s = _sealing(inst)
    assert s["keys"] and s["sealed"] >= len(sealed) and s["errors"] == 0, s

    # everything back from the store after a crash: the sealed records are opened
    inst.restart_dataplane(kill=True)
    c = env.client(retries=True)
    _expect(_read_all(c), (clear, "NONE"), (sealed, "KMS"))
    s = _sealing(inst)
    assert s["opened"] >= len(sealed) and s["errors"] == 0, s
    print("sealing after restart:", s)

    c.stop_stream_encryption(StreamName=NAME, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    st = wait_active(c, NAME)
    assert st["EncryptionType"] == "NONE", st
    later, kinds = _put(c, b"LATER" + tag, 60, b"c")
    assert kinds == {"NONE"}
    _expect(_read_all(c), (clear, "NONE"), (sealed, "KMS"), (later, "NONE"))
    assert _store_bytes(inst).count(b"LATER" + tag) >= len(later)

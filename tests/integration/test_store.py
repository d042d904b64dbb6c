"""Durable storage through real clients (docs/internals/store.md).

Each test brings up its own instance (the session one keeps its large rings):
  - a shard ring much smaller than the data: the ring drops durable records as it fills and
    GetRecords serves them from the store, so every record reads back, in order, byte-exact;
  - kill -9 of the dataplane: every acknowledged record reads back after the restart, from
    TRIM_HORIZON and from AT/AFTER_SEQUENCE_NUMBER iterators into the earlier boot, and the
    next boot's records follow them; recovery is reported in status;
  - ack_mode=memory: the same reads, acknowledged before the disk write;
  - retention with the test clock: a stream's records go once older than its period (whole
    segments, and the ring's copies), TRIM_HORIZON moves, a longer period keeps them;
  - a deleted stream's segments are freed; a full store refuses records with a clear
    InternalFailure, nothing crashes, and ingest resumes once space is freed;
  - the raw-device backend: the store on a loop device (store_devices), killed and recovered;
  - a torn tail made by hand in a stopped instance's store file: cut once at the next start,
    counted and logged, every record before the damage intact;
  - both processes SIGKILLed: `spate-dev up` with the same name recovers catalog and store;
  - the file system under the store fills up (a small tmpfs): writes fail with ENOSPC and are
    retried, new records are refused with "storage full", nothing crashes, and once a deleted
    stream's segments are punched out the waiting records are acknowledged and ingest resumes.
"""
import os
import time
from pathlib import Path

import pytest

import shutil
import subprocess
import threading

from harness import instance_down, instance_up
from kinesis_env import Env, read_credentials, wait_active

pytestmark = pytest.mark.spate_only


def _env(inst):
    key, secret = read_credentials(Path(inst.data_dir) / "credentials")
    return Env("spate", "http://%s:80" % inst.ipv4, key, secret, netns=inst.netns, instance=inst)


def _storage(inst):
    return inst.dataplane()["api"]["storage"]


def _put(c, name, batches, size, tag):
    """PutRecords batches of 200; returns [(sequence number, shard, data)] acknowledged."""
    sent = []
    for b in range(batches):
        recs = [{"Data": b"%s-%05d-%03d-" % (tag, b, i) + os.urandom(size),
                 "PartitionKey": "k%d" % (i % 17)} for i in range(200)]
        r = c.put_records(StreamName=name, Records=recs)
        for rec, e in zip(recs, r["Records"]):
            assert "SequenceNumber" in e, e  # nothing refused: the ring makes room
            sent.append((int(e["SequenceNumber"]), e["ShardId"], rec["Data"]))
    return sent


def _read(c, name, shard, kind="TRIM_HORIZON", seq=None, limit=10000):
    kw = {"StartingSequenceNumber": str(seq)} if seq is not None else {}
    it = c.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType=kind,
                              **kw)["ShardIterator"]
    got, empty = [], 0
    while it and empty < 2:
        r = c.get_records(ShardIterator=it, Limit=limit)
        got += [(int(x["SequenceNumber"]), shard, x["Data"]) for x in r["Records"]]
        it = r["NextShardIterator"]
        empty = empty + 1 if not r["Records"] and r["MillisBehindLatest"] == 0 else 0
    return got


def _at_time_check(c, name, shard):
    """AT_TIMESTAMP at several records' arrival times gives the first record that arrived then
    or later, wherever it is (store or ring)."""
    it = c.get_shard_iterator(StreamName=name, ShardId=shard,
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    allr, empty = [], 0
    while it and empty < 2:
        r = c.get_records(ShardIterator=it)
        allr += r["Records"]
        it = r["NextShardIterator"]
        empty = empty + 1 if not r["Records"] and r["MillisBehindLatest"] == 0 else 0
    assert allr
    ms = [int(round(x["ApproximateArrivalTimestamp"].timestamp() * 1000)) for x in allr]
    for k in (0, len(allr) // 3, len(allr) // 2, len(allr) - 1):
        # botocore sends whole seconds (its JSON timestamp is an integer)
        t = ms[k] // 1000 * 1000
        want = next(j for j in range(len(allr)) if ms[j] >= t)
        it = c.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="AT_TIMESTAMP",
                                  Timestamp=t // 1000)["ShardIterator"]
        got = []
        while it and not got:
            r = c.get_records(ShardIterator=it, Limit=3)
            got = r["Records"]
            it = r["NextShardIterator"] if not got else None
        assert got and got[0]["SequenceNumber"] == allr[want]["SequenceNumber"], (k, want)


def _by_shard(sent):
    out = {}
    for s in sorted(sent):
        out.setdefault(s[1], []).append(s)
    return out


def test_ring_smaller_than_the_data(fresh_name):
    inst = instance_up(fresh_name("st1"), 2, "--set", "shard_ring_mb=8", "--set", "mem_mb=1024")
    env = _env(inst)
    c = env.client(retries=True)
    c.create_stream(StreamName="small", ShardCount=2)
    wait_active(c, "small")
    sent = _put(c, "small", 100, 2000, b"a")  # ~40 MB over two 8 MiB rings
    want = _by_shard(sent)
    for shard, recs in want.items():
        got = _read(c, "small", shard, limit=777)
        assert got == recs, (shard, len(got), len(recs))
        _at_time_check(c, "small", shard)
    st = _storage(inst)
    assert st["ack_mode"] == "durable"
    assert st["api"]["ring_trims"] > 0 and st["api"]["cold_records"] > 0, st
    assert st["api"]["cold_errors"] == 0 and st["write_errors"] == 0, st
    # a consumer at the tip keeps reading while the ring trims under it
    tip = {s: c.get_shard_iterator(StreamName="small", ShardId=s,
                                   ShardIteratorType="LATEST")["ShardIterator"] for s in want}
    more = _by_shard(_put(c, "small", 60, 2000, b"b"))
    for shard, it in tip.items():
        got, empty = [], 0
        while it and empty < 2:
            r = c.get_records(ShardIterator=it)
            got += [(int(x["SequenceNumber"]), shard, x["Data"]) for x in r["Records"]]
            it = r["NextShardIterator"]
            empty = empty + 1 if not r["Records"] and r["MillisBehindLatest"] == 0 else 0
        assert got == more[shard]


def test_kill_restart_reads_everything_back(fresh_name):
    inst = instance_up(fresh_name("st2"), 2, "--set", "shard_ring_mb=16", "--set",
                       "mem_mb=1024")
    env = _env(inst)
    c = env.client(retries=True)
    c.create_stream(StreamName="crash", ShardCount=3)
    wait_active(c, "crash")
    before = _put(c, "crash", 20, 500, b"x")
    inst.restart_dataplane(kill=True)
    c = env.client(retries=True)  # the old connections died with the process
    st = _storage(inst)
    assert st["recovery"]["records"] == len(before), st
    after = _put(c, "crash", 10, 500, b"y")
    want = _by_shard(before + after)
    for shard, recs in want.items():
        assert _read(c, "crash", shard) == recs
        # into the earlier boot by number: AT gives the record, AFTER the one after it
        mid = [r for r in recs if r[2].startswith(b"x")]
        k = len(mid) // 2
        assert _read(c, "crash", shard, "AT_SEQUENCE_NUMBER", mid[k][0])[:3] == recs[k:k + 3]
        assert _read(c, "crash", shard, "AFTER_SEQUENCE_NUMBER",
                     mid[-1][0])[:2] == recs[len(mid):len(mid) + 2]
    for shard in want:
        _at_time_check(c, "crash", shard)
    # and once more: both boots' records come back after a second kill
    inst.restart_dataplane(kill=True)
    c = env.client(retries=True)
    assert _storage(inst)["recovery"]["records"] == len(before) + len(after)
    for shard, recs in want.items():
        assert _read(c, "crash", shard) == recs


def test_memory_ack_mode(fresh_name):
    inst = instance_up(fresh_name("st3"), 1, "--set", "ack_mode=memory", "--set",
                       "shard_ring_mb=8", "--set", "mem_mb=1024")
    env = _env(inst)
    c = env.client(retries=True)
    c.create_stream(StreamName="mem", ShardCount=1)
    wait_active(c, "mem")
    sent = _put(c, "mem", 40, 2000, b"m")
    shard = sent[0][1]
    assert _read(c, "mem", shard) == sorted(sent)
    st = _storage(inst)
    assert st["ack_mode"] == "memory"
    # acknowledged before the write, stored all the same
    deadline = time.time() + 10
    while _storage(inst)["appended"] < len(sent) and time.time() < deadline:
        time.sleep(0.1)
    assert _storage(inst)["appended"] == len(sent)


def _wait(pred, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.2)
    pytest.fail("timed out waiting for " + what)


def test_retention_and_deleted_streams(fresh_name):
    inst = instance_up(fresh_name("st4"), 1, "--set", "test_services=true", "--set",
                       "shard_ring_mb=8", "--set", "mem_mb=1024")
    env = _env(inst)
    c = env.client(retries=True)
    for n in ("short", "long", "gone"):
        c.create_stream(StreamName=n, ShardCount=1)
        wait_active(c, n)
    c.increase_stream_retention_period(StreamName="long", RetentionPeriodHours=48)
    data = {n: _put(c, n, 30, 2000, n.encode()) for n in ("short", "long", "gone")}
    shard = data["short"][0][1]
    # deleting a stream frees its segments
    c.delete_stream(StreamName="gone")
    _wait(lambda: _storage(inst)["logs_dropped"] >= 1 and _storage(inst)["segments_freed"] >= 1,
          "the deleted stream's segments to be freed")
    freed = _storage(inst)["segments_freed"]
    try:
        env.advance_clock(23 * 3600)  # inside both periods: nothing goes
        time.sleep(1)
        assert _storage(inst)["segments_freed"] == freed
        assert _read(c, "short", shard) == sorted(data["short"])
        env.advance_clock(2 * 3600)  # 25 h: past 24 h, not past 48 h
        _wait(lambda: _read(c, "short", shard) == [], "short's records to expire")
        st = _storage(inst)
        assert st["segments_freed"] > freed and st["ring_expired"] > 0, st
        assert _read(c, "long", shard) == sorted(data["long"])
        # new records after the purge are served from TRIM_HORIZON on (arrival times keep
        # the real clock: back to it first, or they would be 25 h old at once)
        env.set_clock_offset(0)
        fresh = _put(c, "short", 2, 100, b"new")
        assert _read(c, "short", shard) == sorted(fresh)
        env.set_clock_offset(49 * 3600 * 1000)
        _wait(lambda: _read(c, "long", shard) == [], "long's records to expire")
    finally:
        env.set_clock_offset(0)


def test_store_full_refuses_then_resumes(fresh_name):
    # one worker, a 64 MiB store: three 16 MiB segments
    inst = instance_up(fresh_name("st5"), 1, "--set", "test_services=true", "--set",
                       "shard_ring_mb=8", "--set", "mem_mb=1024", "--set", "store_mb=64")
    env = _env(inst)
    c = env.client(retries=False)
    c.create_stream(StreamName="full", ShardCount=1)
    wait_active(c, "full")
    acked, refused = [], None
    for b in range(200):
        recs = [{"Data": b"%05d-%03d-" % (b, i) + os.urandom(4000), "PartitionKey": "k"}
                for i in range(100)]
        r = c.put_records(StreamName="full", Records=recs)
        for rec, e in zip(recs, r["Records"]):
            if "SequenceNumber" in e:
                acked.append((int(e["SequenceNumber"]), e["ShardId"], rec["Data"]))
            else:
                refused = e
        if refused is not None:
            break
    assert refused is not None, "a 64 MiB store took %d records" % len(acked)
    assert refused["ErrorCode"] == "InternalFailure"
    assert "storage full" in refused["ErrorMessage"], refused
    # PutRecord: the same, as a 500 with the text
    with pytest.raises(c.exceptions.ClientError) as ei:
        c.put_record(StreamName="full", Data=b"x" * 4010, PartitionKey="k")
    assert ei.value.response["Error"]["Code"] == "InternalFailure"
    assert "storage full" in ei.value.response["Error"]["Message"]
    shard = acked[0][1]
    assert _read(c, "full", shard) == sorted(acked)  # nothing lost, nothing extra
    assert _storage(inst)["write_errors"] == 0
    try:
        env.advance_clock(25 * 3600)  # the old records expire: their segments free up
        _wait(lambda: _storage(inst)["segments_freed"] >= 2, "segments to be freed")
        env.set_clock_offset(0)  # new records must not be born 25 h old (real arrival times)
        r = c.put_record(StreamName="full", Data=b"after", PartitionKey="k")
        got = _read(c, "full", shard)
        assert [g[2] for g in got] == [b"after"] and got[0][0] == int(r["SequenceNumber"])
    finally:
        env.set_clock_offset(0)


def test_raw_device_store(fresh_name, tmp_path_factory):
    if shutil.which("losetup") is None:
        pytest.skip("losetup missing")
    name = fresh_name("st6")
    img = Path("/var/tmp") / ("spate-%s-%d.img" % (name, os.getpid()))
    dev = None
    try:
        with open(img, "wb") as f:
            f.truncate(256 << 20)  # a zeroed device: the store formats it
        dev = subprocess.run(["losetup", "--find", "--show", str(img)], check=True,
                             capture_output=True, text=True).stdout.strip()
        inst = instance_up(name, 1, "--set", "store_devices=" + dev, "--set",
                           "shard_ring_mb=8", "--set", "mem_mb=1024")
        env = _env(inst)
        c = env.client(retries=True)
        c.create_stream(StreamName="dev", ShardCount=2)
        wait_active(c, "dev")
        before = _put(c, "dev", 80, 1500, b"d")  # ~24 MB: the rings trim, the device serves
        inst.restart_dataplane(kill=True)
        c = env.client(retries=True)
        assert _storage(inst)["recovery"]["records"] == len(before)
        after = _put(c, "dev", 3, 100, b"e")
        for shard, recs in _by_shard(before + after).items():
            assert _read(c, "dev", shard) == recs
        # nothing went to a file: the data directory holds no store
        assert not list((Path(inst.data_dir) / "store").glob("store-*.spate"))
    finally:
        instance_down(name, purge=True)
        if dev:
            subprocess.run(["losetup", "-d", dev], check=False)
        img.unlink(missing_ok=True)


def _last_data(path, seg0=65536, seg=16 << 20):
    """(segment offset, offset of the last non-zero byte) of the newest written segment."""
    size = path.stat().st_size
    last = None
    with open(path, "rb") as f:
        off = seg0
        while off + seg <= size:
            f.seek(off)
            if f.read(4) != b"\0\0\0\0":
                last = off
            off += seg
        assert last is not None, "no segment in " + str(path)
        end = last + seg
        while end > last:
            f.seek(end - (1 << 20))
            chunk = f.read(1 << 20).rstrip(b"\0")
            if chunk:
                return last, end - (1 << 20) + len(chunk)
            end -= 1 << 20
    raise AssertionError("empty segment")


def test_both_processes_killed_then_up(fresh_name):
    name = fresh_name("st9")
    inst = instance_up(name, 2, "--set", "shard_ring_mb=8", "--set", "mem_mb=1024")
    env = _env(inst)
    c = env.client(retries=True)
    c.create_stream(StreamName="both", ShardCount=2)
    wait_active(c, "both")
    before = _put(c, "both", 10, 800, b"b")
    for pid in (inst.dataplane_pid, int(inst.info["control_pid"])):
        os.kill(pid, 9)
    deadline = time.time() + 20
    while time.time() < deadline and any(
            Path("/proc/%d" % p).exists()
            for p in (inst.dataplane_pid, int(inst.info["control_pid"]))):
        time.sleep(0.1)
    inst = instance_up(name, 2, "--set", "shard_ring_mb=8", "--set", "mem_mb=1024")
    env = _env(inst)
    c = env.client(retries=True)
    assert _storage(inst)["recovery"]["records"] == len(before)
    for shard, recs in _by_shard(before).items():
        assert _read(c, "both", shard) == recs


def test_torn_tail_is_cut_once(fresh_name):
    name = fresh_name("st7")
    inst = instance_up(name, 1, "--set", "shard_ring_mb=8", "--set", "mem_mb=1024")
    env = _env(inst)
    c = env.client(retries=True)
    c.create_stream(StreamName="torn", ShardCount=1)
    wait_active(c, "torn")
    acked = sorted(_put(c, "torn", 10, 500, b"t"))
    shard = acked[0][1]
    instance_down(name, purge=False)  # keeps the data directory
    store = Path(inst.data_dir) / "store" / "store-0.spate"
    seg, last = _last_data(store)
    with open(store, "r+b") as f:  # the last ~1500 bytes never reached the disk
        f.seek(last - 1500)
        f.write(b"\0" * 1501)
    inst = instance_up(name, 1, "--set", "shard_ring_mb=8", "--set", "mem_mb=1024")
    env = _env(inst)
    c = env.client(retries=True)
    rec = _storage(inst)["recovery"]
    assert rec["torn"] == 1 and rec["corrupt"] == 0, rec
    got = _read(c, "torn", shard)
    assert 0 < len(got) < len(acked) and got == acked[:len(got)]
    assert len(acked) - len(got) <= 4  # only the records the damage touched
    log = (Path(inst.data_dir) / "log" / "dataplane.log").read_text(errors="replace")
    assert "tail(s) cut" in log
    # made once: the next start finds a clean log
    inst.restart_dataplane(kill=False)
    rec = _storage(inst)["recovery"]
    assert rec["torn"] == 0 and rec["records"] == len(got), rec
    # damage inside the log (one flipped byte, valid records after it): corrupt, cut there
    instance_down(name, purge=False)
    seg, last = _last_data(store)
    with open(store, "r+b") as f:
        # walk the frames (4-byte length first, packed after the 4 KiB header block) to the
        # middle one and flip the last byte of its data
        off, frames = seg + 4096, []
        while True:
            f.seek(off)
            n = int.from_bytes(f.read(4), "little")
            if n == 0:
                break
            frames.append((off, n))
            off += n
        off, n = frames[len(frames) // 2]
        f.seek(off + n - 1)
        b = f.read(1)
        f.seek(off + n - 1)
        f.write(bytes([b[0] ^ 0x10]))
    inst = instance_up(name, 1, "--set", "shard_ring_mb=8", "--set", "mem_mb=1024")
    c = _env(inst).client(retries=True)
    rec = _storage(inst)["recovery"]
    assert rec["corrupt"] == 1 and rec["torn"] == 0, rec
    kept = _read(c, "torn", shard)
    assert 0 < len(kept) < len(got) and kept == got[:len(kept)]


def test_filesystem_full(fresh_name):
    name = fresh_name("st8")
    mnt = Path("/var/tmp") / ("spate-fs-%s-%d" % (name, os.getpid()))
    mnt.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mnt)], check=True)
    try:
        inst = instance_up(name, 1, "--set", "data_dir=%s/store" % mnt, "--set", "store_mb=256",
                           "--set", "shard_ring_mb=8", "--set", "mem_mb=1024")
        env = _env(inst)
        c = env.client(retries=False)
        for n in ("victim", "main"):
            c.create_stream(StreamName=n, ShardCount=1)
            wait_active(c, n)
        _put(c, "victim", 25, 4000, b"v")  # ~20 MB of the 40
        acked, refusals, done = [], [], threading.Event()

        def produce():
            for b in range(400):
                recs = [{"Data": b"m-%05d-%03d-" % (b, i) + os.urandom(4000),
                         "PartitionKey": "k"} for i in range(50)]
                r = c.put_records(StreamName="main", Records=recs)
                for rec, e in zip(recs, r["Records"]):
                    if "SequenceNumber" in e:
                        acked.append((int(e["SequenceNumber"]), e["ShardId"], rec["Data"]))
                    else:
                        refusals.append(e)
                if done.is_set():
                    return
            pytest.fail("main never filled the file system")

        t = threading.Thread(target=produce, daemon=True)
        t.start()
        _wait(lambda: _storage(inst)["write_errors"] > 0, "a write to fail (ENOSPC)", 60)
        # the producer's call waits for its records' write, retried; a new call is refused
        r = env.client(retries=False).put_records(
            StreamName="main", Records=[{"Data": b"late", "PartitionKey": "k"}])
        assert r["FailedRecordCount"] == 1, r
        e = r["Records"][0]
        assert e["ErrorCode"] == "InternalFailure" and "storage full" in e["ErrorMessage"], e
        # free space: the deleted stream's segments are punched out of the file system
        c.delete_stream(StreamName="victim")
        done.set()
        t.join(120)
        assert not t.is_alive(), "the producer never got its answers"
        r = c.put_record(StreamName="main", Data=b"after", PartitionKey="k")  # resumed
        acked.append((int(r["SequenceNumber"]), r["ShardId"], b"after"))
        shard = acked[0][1]
        assert _read(c, "main", shard) == sorted(acked)  # every acknowledged record, once
        st = _storage(inst)
        assert st["write_errors"] > 0 and st["segments_freed"] > 0, st
    finally:
        instance_down(name, purge=True)
        subprocess.run(["umount", str(mnt)], check=False)
        mnt.rmdir()

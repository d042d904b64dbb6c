"""Enhanced fan-out: SubscribeToShard (dataplane/api/api_sub.c) over HTTP/2.

- The JS SDK's subscribeToShard (default handler, js/kinesis_js.mjs FanOut) on every shard of a
  stream while boto3 puts records, with a split and a merge in the middle: every acknowledged
  record arrives exactly once, byte-exact, in sequence order per shard, and the subscribers
  follow ChildShards from the closed parents to their children.
- The protocol itself over python3-h2: the initial-response event, the event-stream framing
  (prelude and message CRC-32s), the 5-second rule, and the errors answered before the stream
  starts, with their exact types and messages.
"""
import base64
import contextlib
import json
import os
import struct
import threading
import time
import zlib

import pytest

from h2client import H2, signed_headers
from harness import instance_down, instance_up
from kinesis_env import instance_env, wait_active

pytestmark = pytest.mark.spate_only

SHARDS = 4


def _register(kenv, name, consumer="fan"):
    c = kenv.client()
    arn = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    carn = c.register_stream_consumer(StreamARN=arn, ConsumerName=consumer)["Consumer"][
        "ConsumerARN"]
    deadline = time.time() + 20
    while time.time() < deadline:
        d = c.describe_stream_consumer(ConsumerARN=carn)["ConsumerDescription"]
        if d["ConsumerStatus"] == "ACTIVE":
            break
        time.sleep(0.2)
    else:
        raise AssertionError("consumer not ACTIVE")
    # the dataplane serves the snapshot with the consumer ACTIVE
    want = kenv.instance.rpc("catalog_get")["catalog_version"]
    deadline = time.time() + 10
    while kenv.instance.dataplane()["api"]["catalog_version"] < want:
        assert time.time() < deadline, "snapshot not applied"
        time.sleep(0.05)
    return carn


def _subs(kenv):
    return kenv.instance.rpc("status")["dataplane"]["api"]["http"]["subscriptions"]


def _wait_active(c, name):
    deadline = time.time() + 60
    while c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamStatus"] != "ACTIVE":
        assert time.time() < deadline
        time.sleep(0.2)


def test_fanout_js_exactly_once_across_split_and_merge(kenv, streams):
    name = streams.create(shards=SHARDS)
    carn = _register(kenv, name)
    total = 100000
    batch = 500
    out = {}
    s0 = _subs(kenv)

    def consume():
        out["r"] = kenv.node([{"op": "FanOut", "input": {
            "ConsumerARN": carn, "StreamName": name, "Want": total, "TimeoutMs": 240000}}],
            timeout=300, handler="default")

    t = threading.Thread(target=consume)
    t.start()
    deadline = time.time() + 30
    while _subs(kenv)["open"] - s0["open"] < SHARDS:
        assert time.time() < deadline and t.is_alive(), ("subscriptions not up", _subs(kenv),
                                                         out)
        time.sleep(0.1)

    c = kenv.client(retries=True)
    acked = []  # (shard, seq, key, data)
    for b in range(total // batch):
        if b == 60:
            c.split_shard(StreamName=name, ShardToSplit="shardId-000000000000",
                          NewStartingHashKey=str(1 << 125))
            _wait_active(c, name)
        if b == 120:
            c.merge_shards(StreamName=name, ShardToMerge="shardId-000000000002",
                           AdjacentShardToMerge="shardId-000000000003")
            _wait_active(c, name)
        recs = [("k%d" % ((b * batch + i) % 997), b"%d:%d:" % (b, i) + bytes([i % 256]) * (i % 64))
                for i in range(batch)]
        todo = list(range(batch))
        while todo:  # resend what a reshard's switch refused (the records' fate is on the ack)
            r = c.put_records(StreamName=name, Records=[
                {"PartitionKey": recs[i][0], "Data": recs[i][1]} for i in todo])
            again = []
            for i, a in zip(todo, r["Records"]):
                if "SequenceNumber" in a:
                    acked.append((a["ShardId"], a["SequenceNumber"], recs[i][0], recs[i][1]))
                else:
                    again.append(i)
            todo = again
    t.join(300)
    assert not t.is_alive(), "fan-out consumer did not finish"
    res = out["r"]["results"][0]
    assert "ok" in res, res
    got = res["ok"]
    shards = got["Shards"]
    # every acknowledged record once, byte-exact, on the shard that acknowledged it
    seen = {}
    for sid, rows in shards.items():
        seqs = [int(r["SequenceNumber"]) for r in rows]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), sid
        for r in rows:
            seen[(sid, r["SequenceNumber"])] = (r["PartitionKey"], base64.b64decode(r["Data"]))
    assert len(seen) == sum(len(v) for v in shards.values()) == len(acked) == total, (
        len(seen), len(acked), got["Errors"][:5])
    for sid, seq, key, data in acked:
        assert seen[(sid, seq)] == (key, data), (sid, seq)
    # the parents were read to their ends and their children followed
    assert {"shardId-000000000000", "shardId-000000000002",
            "shardId-000000000003"} <= set(got["Done"]), got["Done"]
    assert {"shardId-000000000004", "shardId-000000000005",
            "shardId-000000000006"} <= set(shards), sorted(shards)
    s1 = _subs(kenv)
    print("fan-out: %d records, %d events, %d subscribes, errors %s" % (
        total, got["Events"], got["Subscribes"], got["Errors"][:3]))
    assert s1["failed"] == s0["failed"], s1


def _subscribe_body(carn, shard, pos):
    return json.dumps({"ConsumerARN": carn, "ShardId": shard, "StartingPosition": pos})


def _messages(data):
    """Split an event-stream byte string into (headers, payload), checking both CRC-32s."""
    out = []
    while data:
        total, hlen, pcrc = struct.unpack(">III", data[:12])
        assert zlib.crc32(data[:8]) == pcrc, "prelude CRC"
        msg = data[:total]
        assert zlib.crc32(msg[:-4]) == struct.unpack(">I", msg[-4:])[0], "message CRC"
        hdrs, h = {}, msg[12:12 + hlen]
        while h:
            n = h[0]
            name = h[1:1 + n].decode()
            assert h[1 + n] == 7
            vlen = struct.unpack(">H", h[2 + n:4 + n])[0]
            hdrs[name] = h[4 + n:4 + n + vlen].decode()
            h = h[4 + n + vlen:]
        out.append((hdrs, msg[12 + hlen:-4]))
        data = data[total:]
    return out


def test_subscribe_framing_and_five_second_rule(kenv, streams):
    name = streams.create(shards=1)
    carn = _register(kenv, name, "raw")
    c = kenv.client()
    seqs = [c.put_record(StreamName=name, PartitionKey="k", Data=b"d%d" % i)["SequenceNumber"]
            for i in range(3)]
    body = _subscribe_body(carn, "shardId-000000000000", {"Type": "TRIM_HORIZON"})

    def talk():
        h = H2(kenv.host)
        try:
            h.start()
            sid = h.request(signed_headers(kenv, "SubscribeToShard", body), body.encode())
            assert h.pump(lambda: len(_messages_safe(h.responses[sid].body)) >= 2, 10)
            first = h.responses[sid]
            # a second subscription at once: refused (the first is < 5 s old)
            sid2 = h.request(signed_headers(kenv, "SubscribeToShard", body), body.encode())
            assert h.wait([sid2], 10)
            return first.status, first.headers, first.body, h.responses[sid2]
        finally:
            h.close()

    status, headers, raw, second = kenv.ex.run(talk)
    assert status == 200 and headers["content-type"] == "application/vnd.amazon.eventstream"
    msgs = _messages(raw)
    assert msgs[0][0] == {":event-type": "initial-response", ":content-type": "application/json",
                          ":message-type": "event"} and msgs[0][1] == b"{}"
    ev = json.loads(msgs[1][1])
    assert msgs[1][0][":event-type"] == "SubscribeToShardEvent"
    assert [r["SequenceNumber"] for r in ev["Records"]] == seqs
    assert [base64.b64decode(r["Data"]) for r in ev["Records"]] == [b"d0", b"d1", b"d2"]
    assert ev["ContinuationSequenceNumber"] == seqs[-1] and ev["MillisBehindLatest"] >= 0
    assert second.status == 400 and second.headers["x-amzn-errortype"] == \
        "ResourceInUseException", (second.status, second.body)
    assert json.loads(second.body)["message"] == \
        "Another active subscription exists for this consumer: %s:shardId-000000000000." % carn


def _complete(data):
    """The whole messages at the front of data (the last may still be arriving)."""
    end = 0
    while len(data) - end >= 12:
        total = struct.unpack(">I", data[end:end + 4])[0]
        if len(data) - end < total:
            break
        end += total
    return data[:end]


def _messages_safe(data):
    try:
        return _messages(data)
    except (AssertionError, struct.error):
        return []


def test_subscribe_errors(kenv, streams):
    name = streams.create(shards=1)
    carn = _register(kenv, name, "errs")
    acct = kenv.account_id(name)
    cases = [
        (_subscribe_body(carn + "x", "shardId-000000000000", {"Type": "LATEST"}),
         "ResourceNotFoundException",
         "Consumer %sx under account %s not found." % (carn, acct)),
        (_subscribe_body(carn, "shardId-000000000009", {"Type": "LATEST"}),
         "ResourceNotFoundException",
         "Could not find shard shardId-000000000009 in stream %s under account %s." % (
             name, acct)),
        (_subscribe_body(carn, "shardId-000000000000", {"Type": "SIDEWAYS"}),
         "ValidationException",
         "1 validation error detected: Value 'SIDEWAYS' at 'startingPosition.type' failed to "
         "satisfy constraint: Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, "
         "AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]"),
        (json.dumps({"ShardId": "shardId-000000000000"}), "ValidationException",
         "2 validation errors detected: Value null at 'consumerARN' failed to satisfy "
         "constraint: Member must not be null; Value null at 'startingPosition' failed to "
         "satisfy constraint: Member must not be null"),
        (_subscribe_body(carn, "shardId-000000000000", {"Type": "AT_TIMESTAMP"}),
         "InvalidArgumentException", "Timestamp must be specified for AT_TIMESTAMP."),
    ]

    def talk():
        h = H2(kenv.host)
        try:
            h.start()
            sids = [h.request(signed_headers(kenv, "SubscribeToShard", b), b.encode())
                    for b, _, _ in cases]
            assert h.wait(sids, 10)
            return [h.responses[s] for s in sids]
        finally:
            h.close()

    for (_, etype, msg), r in zip(cases, kenv.ex.run(talk)):
        assert r.status == 400 and r.headers["x-amzn-errortype"] == etype, (r.status, r.body)
        assert json.loads(r.body)["message"] == msg


def test_subscribe_boto3_over_http1(kenv, streams):
    """boto3 speaks HTTP/1.1: the events come as chunks of one streamed answer. Records put
    before and during the subscription arrive once, in order; when the client closes, the
    subscription leaves the worker's table."""
    name = streams.create(shards=1)
    carn = _register(kenv, name, "py")
    c = kenv.client()
    before = [c.put_record(StreamName=name, PartitionKey="k", Data=b"b%d" % i)["SequenceNumber"]
              for i in range(20)]
    s0 = _subs(kenv)

    def consume():
        cl = kenv.client()
        r = cl.subscribe_to_shard(ConsumerARN=carn, ShardId="shardId-000000000000",
                                  StartingPosition={"Type": "TRIM_HORIZON"})
        got, events = [], 0
        stream = r["EventStream"]
        try:
            for ev in stream:
                e = ev.get("SubscribeToShardEvent")
                if e is None:
                    continue
                events += 1
                got += [(x["SequenceNumber"], x["Data"]) for x in e["Records"]]
                if len(got) >= 40:
                    break
        finally:
            stream.close()
        return got, events, r["ResponseMetadata"]["HTTPHeaders"]

    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", kenv.ex.run(consume)))
    t.start()
    deadline = time.time() + 20
    while _subs(kenv)["open"] - s0["open"] < 1:
        assert time.time() < deadline and t.is_alive(), out
        time.sleep(0.05)
    during = [c.put_record(StreamName=name, PartitionKey="k", Data=b"d%d" % i)["SequenceNumber"]
              for i in range(20)]
    t.join(30)
    assert not t.is_alive()
    got, events, headers = out["r"]
    assert headers["transfer-encoding"] == "chunked"
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert [g[0] for g in got] == before + during
    assert [g[1] for g in got] == [b"b%d" % i for i in range(20)] + [b"d%d" % i for i in range(20)]
    # the delivery-latency figure saw the live records (at least the last one put: nothing
    # newer replaced its publish stamp); its percentiles are ordered (values are not checked:
    # a figure, not a timed test)
    lat = _subs(kenv)["delivery_us"]
    assert lat["samples"] > s0["delivery_us"]["samples"], lat
    assert lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"], lat
    deadline = time.time() + 20
    while _subs(kenv)["open"] != s0["open"]:  # the client's close reaches the dataplane
        assert time.time() < deadline, _subs(kenv)
        time.sleep(0.1)


@contextlib.contextmanager
def _own_instance(fresh_name, tag, ring_mb, *extra):
    """An instance of the test's own (small rings), and an Env on it; always purged."""
    inst = instance_up(fresh_name(tag), 2, "--set", "shard_ring_mb=%d" % ring_mb, "--set",
                       "mem_mb=1024", *extra)
    env = instance_env(inst)
    try:
        yield inst, env
    finally:
        env.close()
        instance_down(inst.name, purge=True)


def _subscribe_records(env, carn, shard, pos, n):
    """Subscribe (raw HTTP/2) at pos; the first n records' (SequenceNumber, Data), or fewer
    if the stream ends or 30 s pass."""
    body = _subscribe_body(carn, shard, pos)

    def talk():
        h = H2(env.host)
        try:
            h.start()
            s = h.request(signed_headers(env, "SubscribeToShard", body), body.encode())
            recs = []

            def enough():
                recs.clear()
                for hdrs, p in _messages(_complete(h.responses[s].body)):
                    if hdrs.get(":event-type") == "SubscribeToShardEvent":
                        recs.extend(json.loads(p)["Records"])
                return len(recs) >= n or h.responses[s].ended
            h.pump(enough, 30)
            return [(r["SequenceNumber"], base64.b64decode(r["Data"])) for r in recs[:n]]
        finally:
            h.close()
    return env.ex.run(talk)


def test_subscribe_reads_the_store_after_a_restart(fresh_name):
    """Records that live only in the store (the dataplane was killed and started again, so
    its rings are new) reach a subscriber from TRIM_HORIZON through GetRecords' cold path,
    followed by the ones put after, in order, once each; AFTER_SEQUENCE_NUMBER into the store
    resumes exactly after that record."""
    with _own_instance(fresh_name, "fo", 16) as (inst, env):
        c = env.client(retries=True)
        name = "fo-store"
        c.create_stream(StreamName=name, ShardCount=1)
        wait_active(c, name)
        carn = _register(env, name, "after-restart")
        before = []
        for b in range(10):
            r = c.put_records(StreamName=name, Records=[
                {"PartitionKey": "k%d" % i, "Data": b"old-%d-%d" % (b, i)} for i in range(200)])
            before += [(a["SequenceNumber"], b"old-%d-%d" % (b, i))
                       for i, a in enumerate(r["Records"])]
        inst.restart_dataplane(kill=True)
        env2 = instance_env(inst)
        c2 = env2.client(retries=True)
        after = [(c2.put_record(StreamName=name, PartitionKey="n", Data=b"new-%d" % i)[
            "SequenceNumber"], b"new-%d" % i) for i in range(50)]
        want = before + after

        def subscribe(pos, n):
            return _subscribe_records(env2, carn, "shardId-000000000000", pos, n)

        got = subscribe({"Type": "TRIM_HORIZON"}, len(want))
        assert got == want, (len(got), len(want))
        mid = before[777][0]
        time.sleep(5.2)  # the 5-second rule holds for a closed subscription too
        got = subscribe({"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": mid},
                        len(want) - 778)
        assert got == want[778:], (len(got), len(want) - 778)
        assert inst.dataplane()["api"]["http"]["subscriptions"]["failed"] == 0
        env2.close()


def _tx_counters(kenv):
    h = kenv.instance.dataplane()["api"]["http"]
    return h["tx_zero_copy"], h["tx_body_ref_bytes"], h["tx_body_copied_bytes"]


def _put_kib(c, name, n, tag):
    """n records of 1 KiB (random bytes) in PutRecords of up to 500: [(seq, data)]."""
    out = []
    for b in range(0, n, 500):
        recs = [{"Data": os.urandom(1024), "PartitionKey": "%s%d" % (tag, i)}
                for i in range(b, min(b + 500, n))]
        r = c.put_records(StreamName=name, Records=recs)
        assert r["FailedRecordCount"] == 0
        out += [(x["SequenceNumber"], rec["Data"]) for x, rec in zip(r["Records"], recs)]
    return out


def _assert_by_reference(kenv, before, after, data_bytes):
    zc, ref0, cp0 = before
    _, ref1, cp1 = after
    if zc:
        assert ref1 - ref0 >= data_bytes, (ref1 - ref0, data_bytes)
        assert cp1 - cp0 <= (ref1 - ref0) // 20, (cp1 - cp0, ref1 - ref0)
    else:
        assert ref1 == ref0 and cp1 - cp0 >= data_bytes, (ref1 - ref0, cp1 - cp0)


def test_subscribe_many_records_by_reference_h2(kenv, streams):
    """Several MiB of events over HTTP/2, records put before and while the subscription runs
    (so each event is written while the previous one may still be unacknowledged: a fresh
    buffer each turn, api_sub.c): every record arrives once, byte-exact, in order, and the
    events' bytes went to TCP by reference (tx_body_ref_bytes), not copied."""
    name = streams.create(shards=1)
    carn = _register(kenv, name, "zc2")
    c = kenv.client()
    want = _put_kib(c, name, 3000, "b")
    body = _subscribe_body(carn, "shardId-000000000000", {"Type": "TRIM_HORIZON"})
    before = _tx_counters(kenv)
    total = len(want) + 20 * 100

    def count(raw):
        return sum(len(json.loads(p).get("Records", [])) for hd, p in _messages_safe(raw)
                   if hd.get(":event-type") == "SubscribeToShardEvent")

    def talk():
        h = H2(kenv.host)
        try:
            h.start()
            sid = h.request(signed_headers(kenv, "SubscribeToShard", body), body.encode())
            assert h.pump(lambda: count(h.responses[sid].body) >= len(want), 60)
            for k in range(20):  # while the subscription runs, in small steps
                want.extend(_put_kib(c, name, 100, "d%d-" % k))
                h.pump(lambda: False, 0.05)
            assert h.pump(lambda: count(h.responses[sid].body) >= total, 60), \
                count(h.responses[sid].body)
            return h.responses[sid].body
        finally:
            h.close()

    raw = kenv.ex.run(talk)
    after = _tx_counters(kenv)
    got = []
    for hd, payload in _messages(raw):
        if hd.get(":event-type") == "SubscribeToShardEvent":
            got += [(r["SequenceNumber"], base64.b64decode(r["Data"]))
                    for r in json.loads(payload)["Records"]]
    assert len(got) == total and got == want
    _assert_by_reference(kenv, before, after, total * 1024 * 4 // 3)


def test_subscribe_many_records_by_reference_http1(kenv, streams):
    """The same over HTTP/1.1 (boto3: one chunk per event)."""
    name = streams.create(shards=1)
    carn = _register(kenv, name, "zc1")
    c = kenv.client()
    want = _put_kib(c, name, 2000, "b")
    before = _tx_counters(kenv)
    total = len(want) + 10 * 100
    out = {}

    def consume():
        cl = kenv.client()
        r = cl.subscribe_to_shard(ConsumerARN=carn, ShardId="shardId-000000000000",
                                  StartingPosition={"Type": "TRIM_HORIZON"})
        got = []
        stream = r["EventStream"]
        try:
            for ev in stream:
                e = ev.get("SubscribeToShardEvent")
                if e is not None:
                    got += [(x["SequenceNumber"], x["Data"]) for x in e["Records"]]
                if len(got) >= total:
                    break
        finally:
            stream.close()
        return got

    t = threading.Thread(target=lambda: out.setdefault("r", kenv.ex.run(consume)))
    t.start()
    time.sleep(1)
    for k in range(10):
        want.extend(_put_kib(c, name, 100, "d%d-" % k))
        time.sleep(0.05)
    t.join(90)
    assert not t.is_alive()
    after = _tx_counters(kenv)
    assert len(out["r"]) == total and out["r"] == want
    _assert_by_reference(kenv, before, after, total * 1024 * 4 // 3)


def test_positions_trimmed_from_the_ring_read_the_store(fresh_name):
    """With a small ring, records of this boot leave it for the store as newer ones come. A
    number or a time that names one of them must be read from the store: GetShardIterator
    AT/AFTER_SEQUENCE_NUMBER and AT_TIMESTAMP, and SubscribeToShard's starting positions,
    return exactly the records from there on (not the ring's oldest, skipping the store)."""
    # the smallest ring that takes 10 MiB records (the dataplane says so when it is less)
    with _own_instance(fresh_name, "tr", 41) as (inst, env):
        c = env.client(retries=True)
        name = "trimmed"
        sid = "shardId-000000000000"
        c.create_stream(StreamName=name, ShardCount=1)
        wait_active(c, name)
        carn = _register(env, name, "trimmed")
        want = []
        for b in range(50):  # 500 records of 100 KB: more than the ring holds
            recs = [b"%03d-" % (b * 10 + i) + bytes([65 + i]) * 100000 for i in range(10)]
            r = c.put_records(StreamName=name, Records=[
                {"PartitionKey": "k%d" % i, "Data": d} for i, d in enumerate(recs)])
            assert r["FailedRecordCount"] == 0, r["Records"][0]
            want += [(a["SequenceNumber"], d) for a, d in zip(r["Records"], recs)]
        st = inst.dataplane()["api"]["storage"]["api"]
        assert st["ring_trims"] > 0, st  # the first records live only in the store now

        def read(it, n):
            got = []
            while len(got) < n and it:
                r = c.get_records(ShardIterator=it)
                got += [(x["SequenceNumber"], x["Data"], x["ApproximateArrivalTimestamp"])
                        for x in r["Records"]]
                it = r.get("NextShardIterator")
                if not r["Records"] and r["MillisBehindLatest"] == 0:
                    break
            return got[:n]

        def iterator(kind, **kw):
            return c.get_shard_iterator(StreamName=name, ShardId=sid, ShardIteratorType=kind,
                                        **kw)["ShardIterator"]

        for k in (0, 1, 37):
            got = read(iterator("AT_SEQUENCE_NUMBER", StartingSequenceNumber=want[k][0]), 5)
            assert [g[:2] for g in got] == want[k:k + 5], k
        got = read(iterator("AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=want[0][0]), 5)
        assert [g[:2] for g in got] == want[1:6]
        first = read(iterator("TRIM_HORIZON"), 1)[0]
        assert first[:2] == want[0]
        got = read(iterator("AT_TIMESTAMP", Timestamp=first[2]), 3)
        assert [g[:2] for g in got] == want[:3]

        def subscribe(pos, n):
            return _subscribe_records(env, carn, sid, pos, n)

        assert subscribe({"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": want[1][0]},
                         10) == want[1:11]
        time.sleep(5.2)  # the 5-second rule
        ts = first[2].timestamp()
        assert subscribe({"Type": "AT_TIMESTAMP", "Timestamp": ts}, 10) == want[:10]
        assert inst.dataplane()["api"]["http"]["subscriptions"]["failed"] == 0


def test_answers_by_reference_from_hugepage_buffers(fresh_name):
    """The API's buffers in hugepages (what a port that DMAs gets: api_bufs_hugepages forces
    it here, where every port is virtual): a GetRecords answer and a subscription's events
    leave by reference from them, byte-exact and in order."""
    with _own_instance(fresh_name, "hp", 16, "--set", "api_bufs_hugepages=true") as (inst,
                                                                                      env):
        c = env.client(retries=True)
        name = "hugebufs"
        sid = "shardId-000000000000"
        c.create_stream(StreamName=name, ShardCount=1)
        wait_active(c, name)
        carn = _register(env, name, "hp")
        want = _put_kib(c, name, 2000, "h")
        before = _tx_counters(env)
        assert before[0], "zero copy is on"
        assert inst.dataplane()["api"]["http"]["bufs_hugepages"] is True
        it = c.get_shard_iterator(StreamName=name, ShardId=sid,
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got = []
        while len(got) < len(want):
            r = c.get_records(ShardIterator=it)
            got += [(x["SequenceNumber"], x["Data"]) for x in r["Records"]]
            it = r["NextShardIterator"]
        assert got == want
        assert _subscribe_records(env, carn, sid, {"Type": "TRIM_HORIZON"}, len(want)) == want
        _assert_by_reference(env, before, _tx_counters(env), 2 * len(want) * 1024 * 4 // 3)

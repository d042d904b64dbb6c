"""HTTP/2 with prior knowledge (h2c) on the API port (dataplane/api/api_h2.c): many streams on
one connection, the stream limit, curl and h2load as clients, and bad input — malformed
frames, flow-control violations, oversized and HPACK-amplified header blocks — each answered
with the protocol's own error while other clients go on.

The JS SDK's default handler over HTTP/2 is test_api_js.py's business; this file drives the
protocol directly (python3-h2, tests/integration/h2client.py)."""
import base64
import json
import re
import struct
import subprocess
import threading

import pytest

from h2client import (COMPRESSION_ERROR, DATA, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR,
                      WINDOW_UPDATE, H2, HEADERS, PREFACE, PROTOCOL_ERROR, REFUSED_STREAM,
                      SETTINGS, frame, signed_headers)
from kinesis_env import md5_hash_key, shard_for

pytestmark = pytest.mark.spate_only

MAX_STREAMS = 16  # api_h2.c: SETTINGS_MAX_CONCURRENT_STREAMS


def _h2_status(kenv):
    return kenv.instance.rpc("status")["dataplane"]["api"]["http"]["h2"]


def _put_body(name, key, data):
    return json.dumps({"StreamName": name, "PartitionKey": key,
                       "Data": base64.b64encode(data).decode()})


def _ok_put_still_works(kenv, name):
    """A fresh HTTP/2 connection still gets its PutRecord answered."""
    def talk():
        c = H2(kenv.host)
        try:
            c.start()
            body = _put_body(name, "after", b"still here")
            sid = c.request(signed_headers(kenv, "PutRecord", body), body.encode())
            assert c.wait([sid]), "no answer"
            r = c.responses[sid]
            assert r.status == 200, (r.status, r.body)
            return json.loads(r.body)["SequenceNumber"]
        finally:
            c.close()
    return kenv.ex.run(talk)


def test_h2_many_streams_one_connection(kenv, streams):
    """Sixteen PutRecords at once on one connection, then 200 more as streams end: every
    answer 200, each record read back once, in order per key, on the shard MD5 predicts."""
    name = streams.create(shards=4)
    s0 = _h2_status(kenv)
    recs = [("k%d" % (i % 37), b"h2-%d-" % i + bytes(range(i % 200))) for i in range(216)]

    def talk():
        c = H2(kenv.host)
        try:
            c.start()
            acks, pending, nxt = {}, {}, 0
            while len(acks) < len(recs):
                while nxt < len(recs) and len(pending) < MAX_STREAMS:
                    k, d = recs[nxt]
                    body = _put_body(name, k, d)
                    pending[c.request(signed_headers(kenv, "PutRecord", body),
                                      body.encode())] = nxt
                    nxt += 1
                assert c.pump(lambda: any(c.responses[s].ended or c.responses[s].reset
                                          is not None for s in pending), 30), "stalled"
                for sid in [s for s in pending if c.responses[s].ended or
                            c.responses[s].reset is not None]:
                    r = c.responses[sid]
                    assert r.reset is None and r.status == 200, (r.reset, r.status, r.body)
                    assert r.headers["content-type"] == "application/x-amz-json-1.1"
                    assert re.fullmatch(r"[0-9a-f-]{36}", r.headers["x-amzn-requestid"])
                    acks[pending.pop(sid)] = json.loads(r.body)
            return acks, c.remote_settings
        finally:
            c.close()

    acks, settings = kenv.ex.run(talk)
    assert settings.get(3) == MAX_STREAMS, settings  # SETTINGS_MAX_CONCURRENT_STREAMS
    s1 = _h2_status(kenv)
    assert s1["sessions"] - s0["sessions"] == 1 and s1["streams"] - s0["streams"] == len(recs)
    c = kenv.client()
    shards = c.list_shards(StreamName=name)["Shards"]
    by_shard = {}
    for i, (k, d) in enumerate(recs):
        a = acks[i]
        assert a["ShardId"] == shard_for(shards, md5_hash_key(k))
        by_shard.setdefault(a["ShardId"], []).append((k, d, a["SequenceNumber"]))
    for sid, want in by_shard.items():
        it = c.get_shard_iterator(StreamName=name, ShardId=sid,
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got = c.get_records(ShardIterator=it, Limit=10000)["Records"]
        assert sorted((g["PartitionKey"], g["Data"], g["SequenceNumber"]) for g in got) == \
            sorted(want)
        for k in {k for k, _, _ in want}:
            seqs = [g["SequenceNumber"] for g in got if g["PartitionKey"] == k]
            assert seqs == sorted(seqs, key=int)


def test_h2_streams_beyond_the_limit_are_refused(kenv, streams):
    """A client that opens more streams than SETTINGS_MAX_CONCURRENT_STREAMS before reading our
    SETTINGS gets REFUSED_STREAM for the extra ones; the others are served."""
    name = streams.create(shards=1)
    n = MAX_STREAMS + 4

    def talk():
        c = H2(kenv.host)
        try:
            c.start()  # the client's SETTINGS, without waiting for the server's
            bodies, sids = [], []
            for i in range(n):
                body = _put_body(name, "k", b"%d" % i).encode()
                bodies.append(body)
                sids.append(c.request(signed_headers(kenv, "PutRecord", body), end=False))
            c.pump(lambda: sum(c.responses[s].reset is not None for s in sids) >= 4, 10)
            for sid, body in zip(sids, bodies):
                if c.responses[sid].reset is None:
                    c.send_body(sid, body)
            assert c.wait(sids), "unanswered streams"
            return [(c.responses[s].status, c.responses[s].reset) for s in sids]
        finally:
            c.close()

    out = kenv.ex.run(talk)
    assert sum(1 for st, rs in out if st == 200 and rs is None) == MAX_STREAMS, out
    assert sum(1 for st, rs in out if rs == REFUSED_STREAM) == n - MAX_STREAMS, out


def test_h2_curl_prior_knowledge(kenv, streams):
    """curl --http2-prior-knowledge, signing with its own --aws-sigv4."""
    name = streams.create(shards=1)
    body = _put_body(name, "curl", b"from curl")
    cmd = kenv._ns_prefix() + [
        "curl", "-sS", "--http2-prior-knowledge", "-o", "-", "-w", "\n%{http_version} %{http_code}",
        "--aws-sigv4", "aws:amz:%s:kinesis" % kenv.region,
        "--user", "%s:%s" % (kenv.access_key, kenv.secret_key),
        "-H", "X-Amz-Target: Kinesis_20131202.PutRecord",
        "-H", "Content-Type: application/x-amz-json-1.1", "--data-binary", body, kenv.url + "/"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    answer, tail = p.stdout.rsplit("\n", 1)
    assert tail == "2 200", (tail, answer)
    seq = json.loads(answer)["SequenceNumber"]
    c = kenv.client()
    it = c.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                              ShardIteratorType="AT_SEQUENCE_NUMBER",
                              StartingSequenceNumber=seq)["ShardIterator"]
    assert c.get_records(ShardIterator=it)["Records"][0]["Data"] == b"from curl"


def test_h2_h2load_put_records(kenv, streams):
    """h2load (nghttp2-client) drives signed PutRecords over h2: every request 2xx."""
    name = streams.create(shards=2)
    body = json.dumps({"StreamName": name, "Records": [
        {"PartitionKey": "p%d" % i, "Data": base64.b64encode(b"x" * 100).decode()}
        for i in range(50)]})
    hdrs = [(k, v) for k, v in signed_headers(kenv, "PutRecords", body)
            if not k.startswith(":") and k != "content-length"]
    path = "/tmp/spate-h2load-%s.json" % name
    with open(path, "w") as f:
        f.write(body)
    cmd = kenv._ns_prefix() + ["h2load", "-n", "400", "-c", "2", "-m", "8", "-d", path]
    for k, v in hdrs:
        cmd += ["-H", "%s: %s" % (k, v)]
    p = subprocess.run(cmd + [kenv.url + "/"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", p.stdout)
    assert m and m.group(1) == "400", p.stdout
    c = kenv.client()
    total = 0
    for sh in c.list_shards(StreamName=name)["Shards"]:
        it = c.get_shard_iterator(StreamName=name, ShardId=sh["ShardId"],
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            r = c.get_records(ShardIterator=it, Limit=10000)
            total += len(r["Records"])
            if not r["Records"]:
                break
            it = r["NextShardIterator"]
    assert total == 400 * 50


def _raw_session(kenv, frames, timeout=10):
    """Preface, empty SETTINGS, then frames; the GOAWAY codes the server sent before closing."""
    def talk():
        c = H2(kenv.host)
        try:
            c.send_raw(PREFACE + frame(SETTINGS, 0, 0, b"") + b"".join(frames))
            return c.raw_until_closed(timeout)
        finally:
            c.close()
    return kenv.ex.run(talk)


@pytest.mark.parametrize("case,frames,codes", [
    ("data-on-stream-0", [frame(DATA, 0, 0, b"xx")], {PROTOCOL_ERROR}),
    ("settings-bad-length", [frame(SETTINGS, 0, 0, b"\0\0\0")], {FRAME_SIZE_ERROR}),
    ("headers-even-stream", [frame(HEADERS, 0x5, 2, b"\x82")], {PROTOCOL_ERROR}),
    ("hpack-garbage", [frame(HEADERS, 0x5, 1, b"\xff\xff\xff\xff\xff\xff")],
     {COMPRESSION_ERROR}),
    ("oversized-frame", [frame(DATA, 0, 1, b"\0" * 20000)], {FRAME_SIZE_ERROR}),
    ("not-http2-after-preface", [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"],
     {PROTOCOL_ERROR, FRAME_SIZE_ERROR}),
])
def test_h2_malformed_frames_end_in_goaway(kenv, streams, case, frames, codes):
    """Each connection error gets GOAWAY with its code, then the connection closes; a new
    connection is served as before."""
    name = streams.create(shards=1)
    s0 = _h2_status(kenv)
    got = _raw_session(kenv, frames)
    assert got and got[-1] in codes, (case, got)
    assert _h2_status(kenv)["goaways"] > s0["goaways"]
    _ok_put_still_works(kenv, name)


@pytest.mark.parametrize("case,frames,codes", [
    # our send window pushed past 2^31-1 (RFC 9113 §6.9.1), by WINDOW_UPDATE or SETTINGS
    ("connection-window-overflow", [frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF))],
     {FLOW_CONTROL_ERROR}),
    ("initial-window-too-large", [frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0x80000000))],
     {FLOW_CONTROL_ERROR}),
    ("window-update-zero", [frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0))], {PROTOCOL_ERROR}),
])
def test_h2_flow_control_violations(kenv, streams, case, frames, codes):
    """Flow-control violations of the connection: GOAWAY with their code."""
    name = streams.create(shards=1)
    got = _raw_session(kenv, frames)
    assert got and got[-1] in codes, (case, got)
    _ok_put_still_works(kenv, name)


def _request_block(kenv, length):
    return b"".join(_hpack_literal(k, v) for k, v in (
        (b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"),
        (b":authority", kenv.host.encode()), (b"content-length", b"%d" % length)))


def test_h2_stream_errors_leave_the_connection(kenv, streams):
    """A stream's own violations reset that stream only: its window pushed past 2^31-1
    (FLOW_CONTROL_ERROR), DATA beyond its content-length (PROTOCOL_ERROR). A request on the
    same connection afterwards is answered."""
    name = streams.create(shards=1)

    def talk():
        c = H2(kenv.host)
        try:
            c.start()
            c.pump(lambda: 3 in c.remote_settings, 5)
            c.send_raw(frame(HEADERS, 0x4, 1, _request_block(kenv, 10)) +
                       frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0x7FFFFFFF)))
            c.send_raw(frame(HEADERS, 0x4, 3, _request_block(kenv, 4)) +
                       frame(DATA, 0x1, 3, b"0123456789"))
            got = c.raw_frames(2)
            return got
        finally:
            c.close()

    got = kenv.ex.run(talk)
    assert got["rst"].get(1) == FLOW_CONTROL_ERROR and got["rst"].get(3) == PROTOCOL_ERROR, got
    assert got["goaway"] == [] and not got["closed"], got
    _ok_put_still_works(kenv, name)


def test_h2_content_length_over_the_limit_is_413(kenv, streams):
    """A stream announcing a body over the limit is answered 413 (as HTTP/1.1 answers it), not
    reset; the connection goes on."""
    name = streams.create(shards=1)
    body = json.dumps({"StreamName": name, "PartitionKey": "k", "Data": "AA=="})

    def talk():
        c = H2(kenv.host)
        try:
            c.start()
            hdrs = [(k, v) for k, v in signed_headers(kenv, "PutRecord", body)
                    if k.lower() != "content-length"] + [("content-length", "200000000")]
            sid = c.request(hdrs, b"", end=False)
            c.pump(lambda: c.responses[sid].status is not None or
                   c.responses[sid].reset is not None, 10)
            return c.responses[sid].status, c.responses[sid].reset
        finally:
            c.close()

    status, reset = kenv.ex.run(talk)
    assert status == 413, (status, reset)
    _ok_put_still_works(kenv, name)


def _hpack_literal(name, value):
    """A literal header field with incremental indexing, new name, no Huffman (RFC 7541 §6.2.1)."""
    def string(b):
        n = len(b)
        if n < 127:
            return bytes([n]) + b
        out, n = [127], n - 127
        while n >= 128:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        return bytes(out + [n]) + b
    return b"\x40" + string(name) + string(value)


def test_h2_header_limits(kenv, streams):
    """A 20 KiB field, and an HPACK bomb (one 4 KiB field in the dynamic table referenced 200
    times: 200 bytes on the wire, 800 KiB decoded) are refused on their own stream, never
    answered 200; the server stays up for everyone."""
    name = streams.create(shards=1)
    base = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"),
            (b":authority", kenv.host.encode())]

    def block(fields):
        return b"".join(_hpack_literal(k, v) for k, v in fields)

    big = block(base + [(b"x-big", b"v" * 20000)])
    # the bomb: the field enters the dynamic table (index 62), then 200 indexed references
    bomb = block(base) + _hpack_literal(b"x-bomb", b"b" * 4000) + b"\xbe" * 200

    def talk():
        c = H2(kenv.host)
        try:
            c.send_raw(PREFACE + frame(SETTINGS, 0, 0, b""))
            for hb, sid in ((big, 1), (bomb, 3)):
                # HEADERS (END_STREAM) + CONTINUATION, each within the 16 KiB frame size
                chunks = [hb[i:i + 16000] for i in range(0, len(hb), 16000)]
                data = frame(HEADERS, 0x1 | (0x4 if len(chunks) == 1 else 0), sid, chunks[0])
                for j, ch in enumerate(chunks[1:], 1):
                    data += frame(9, 0x4 if j == len(chunks) - 1 else 0, sid, ch)
                c.send_raw(data)
            return c.raw_frames(3)
        finally:
            c.close()

    got = kenv.ex.run(talk)
    assert got["headers"] == [], got  # nothing was answered as a request
    for sid in (1, 3):
        assert got["rst"].get(sid) in (PROTOCOL_ERROR, REFUSED_STREAM) or got["goaway"], got
    _ok_put_still_works(kenv, name)


def test_h2_goaway_when_the_dataplane_stops(kenv, streams):
    """SIGTERM to the dataplane: an open HTTP/2 connection gets GOAWAY(NO_ERROR) with the last
    stream it served, then the close (the workers' goodbyes before they stop)."""
    name = streams.create(shards=1)
    served = threading.Event()

    def talk():
        c = H2(kenv.host)
        try:
            c.start()
            body = _put_body(name, "k", b"before the stop")
            sid = c.request(signed_headers(kenv, "PutRecord", body), body.encode())
            assert c.wait([sid]) and c.responses[sid].status == 200
            served.set()
            return sid, c.raw_frames(60)
        finally:
            c.close()

    fut = kenv.ex._pool.submit(talk)
    assert served.wait(20), fut.result(1)
    kenv.instance.restart_dataplane(kill=False)
    sid, got = fut.result(90)
    assert got["goaway"] == [0] and got["closed"], got

"""HTTP/1.1 behaviour of the appliance's API port, over raw sockets from the namespace:
pipelining, Expect: 100-continue, chunked bodies, and the limits and timeouts that protect
other clients (413, 431, 408). Spate-only: they exercise Spate's bounds (config keys
api_head_timeout_ms and friends; the session instance sets short timeouts)."""
import socket
import time

import hpack
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from h2client import DATA, H2, HEADERS, PREFACE, SETTINGS, frame, signed_headers
from harness import instance_down, instance_up
from kinesis_env import instance_env, wait_active

pytestmark = pytest.mark.spate_only

HEAD_TIMEOUT_S = 3  # conftest starts the session instance with api_head_timeout_ms=3000
CANCEL = 0x8  # HTTP/2 error code (RFC 9113 §7)


def _signed(kenv, target, body, extra=None):
    """Header lines (no Content-Length) of a request signed over body."""
    hdrs = {"Host": kenv.host, "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Kinesis_20131202." + target}
    hdrs.update(extra or {})
    req = AWSRequest(method="POST", url=kenv.url + "/", data=body, headers=hdrs)
    SigV4Auth(Credentials(kenv.access_key, kenv.secret_key), "kinesis",
              kenv.region).add_auth(req)
    return "".join("%s: %s\r\n" % kv for kv in req.headers.items())


def _request(kenv, target, body, extra=None):
    head = "POST / HTTP/1.1\r\n" + _signed(kenv, target, body, extra)
    return (head + "Content-Length: %d\r\n\r\n" % len(body)).encode() + body


def _read_response(sock, buf=b""):
    """One response from sock (buffered bytes in buf): (status, headers, body, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a response head: %r" % buf
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    n = int(hdrs.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a body"
        rest += chunk
    return status, hdrs, rest[:n], rest[n:]


def _closed(sock, timeout=5):
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def _with_socket(kenv, fn):
    def run():
        s = socket.create_connection((kenv.host, kenv.port), timeout=30)
        try:
            return fn(s)
        finally:
            s.close()
    return kenv.ex.run(run)


def test_pipelined_requests_answered_in_order(kenv):
    reqs = [_request(kenv, "ListStreams", b'{"Limit":%d}' % (i + 1)) for i in range(5)]

    def fn(s):
        s.sendall(b"".join(reqs))
        out, buf = [], b""
        for _ in reqs:
            status, hdrs, body, buf = _read_response(s, buf)
            out.append((status, hdrs["x-amzn-requestid"]))
        return out
    got = _with_socket(kenv, fn)
    assert [st for st, _ in got] == [200] * 5
    assert len({rid for _, rid in got}) == 5


def test_expect_100_continue(kenv):
    body = b"{}"
    head = ("POST / HTTP/1.1\r\n" + _signed(kenv, "ListStreams", body) +
            "Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)).encode()

    def fn(s):
        s.sendall(head)
        interim = s.recv(4096)
        s.sendall(body)
        status, _, _, _ = _read_response(s)
        return interim, status
    interim, status = _with_socket(kenv, fn)
    assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim
    assert status == 200


def test_chunked_body(kenv):
    body = b'{"Limit": 3}'
    head = ("POST / HTTP/1.1\r\n" + _signed(kenv, "ListStreams", body) +
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    wire = head + b"5\r\n" + body[:5] + b"\r\n" + b"%x\r\n" % (len(body) - 5) + body[5:] + \
        b"\r\n0\r\n\r\n"
    status, _, _, _ = _with_socket(kenv, lambda s: (s.sendall(wire), _read_response(s))[1])
    assert status == 200


def test_body_too_large_is_413_and_closes(kenv):
    head = ("POST / HTTP/1.1\r\n" + _signed(kenv, "PutRecords", b"{}") +
            "Content-Length: %d\r\n\r\n" % (64 * 1024 * 1024)).encode()

    def fn(s):
        s.sendall(head)
        status, _, _, _ = _read_response(s)
        return status, _closed(s)
    assert _with_socket(kenv, fn) == (413, True)


def test_head_too_large_is_431_and_closes(kenv):
    wire = b"POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (20 * 1024) + b"\r\n\r\n"

    def fn(s):
        s.sendall(wire)
        status, _, _, _ = _read_response(s)
        return status, _closed(s)
    assert _with_socket(kenv, fn) == (431, True)


def test_slow_head_is_408_and_others_are_served(kenv):
    def fn(s):
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # and then nothing (slowloris)
        t0 = time.time()
        status, _, _, _ = _read_response(s)
        return status, time.time() - t0, _closed(s)
    status, waited, closed = _with_socket(kenv, fn)
    assert status == 408 and closed
    assert HEAD_TIMEOUT_S - 1 <= waited <= HEAD_TIMEOUT_S + 5, waited
    r = kenv.call("ListStreams", {})
    assert r.status == 200


def test_answer_the_client_never_reads_is_reset(fresh_name):
    """A client that asks for a large answer and never reads it (its receive window stays
    shut) loses the connection after api_send_timeout_ms without progress: its slot and
    buffer come back, and other clients are served. (Progress, however slow, restarts the
    clock: a slow reader is not a stuck one.)"""
    inst = instance_up(fresh_name("st"), 1, "--set", "api_send_timeout_ms=1500", "--set",
                       "mem_mb=1024", "--set", "shard_ring_mb=16")
    env = instance_env(inst)
    try:
        c = env.client(retries=True)
        c.create_stream(StreamName="stuck", ShardCount=1)
        wait_active(c, "stuck")
        for b in range(4):  # 4 MB: an answer of about 5.3 MB
            r = c.put_records(StreamName="stuck", Records=[
                {"PartitionKey": "k", "Data": bytes([b]) * 200000} for _ in range(5)])
            assert r["FailedRecordCount"] == 0
        it = c.get_shard_iterator(StreamName="stuck", ShardId="shardId-000000000000",
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        req = _request(env, "GetRecords", ('{"ShardIterator": "%s"}' % it).encode())

        def stuck():
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # no autotuning
            s.connect((env.host, 80))
            try:
                s.sendall(req)
                time.sleep(4)  # reads nothing: the window closes, no progress
                got, reset = 0, False
                s.settimeout(10)
                try:
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        got += len(chunk)
                except ConnectionResetError:
                    reset = True
                return got, reset
            finally:
                s.close()

        got, reset = env.ex.run(stuck)
        assert reset and got < 1000000, (got, reset)
        assert inst.dataplane()["api"]["http"]["timeouts"]["send"] == 1

        # HTTP/2: the same answer on a stream whose window the client never reopens (no
        # WINDOW_UPDATE after the first 64 KiB): that stream is reset (CANCEL)
        body = ('{"ShardIterator": "%s"}' % it).encode()

        def h2_stuck():
            h = H2(env.host)
            try:
                block = hpack.Encoder().encode(signed_headers(env, "GetRecords", body))
                h.send_raw(PREFACE + frame(SETTINGS, 0, 0, b"") +
                           frame(HEADERS, 0x4, 1, block) + frame(DATA, 0x1, 1, body))
                return h.raw_frames(5)
            finally:
                h.close()

        got = env.ex.run(h2_stuck)
        assert got["headers"] == [1] and got["rst"].get(1) == CANCEL, got
        assert inst.dataplane()["api"]["http"]["timeouts"]["send"] == 2
        assert c.list_streams()["StreamNames"] == ["stuck"]  # others are served
    finally:
        env.close()
        instance_down(inst.name, purge=True)

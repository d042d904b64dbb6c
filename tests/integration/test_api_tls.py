"""The Kinesis API over TLS on the instance's tls_port (443; dataplane/api/api_tls.c), with the
certificate `spate-dev up` makes (tools/setup/dev-ca.sh: a local CA, ca_bundle=).

Clients: boto3 (verify=CA), the AWS CLI (AWS_CA_BUNDLE), the JS SDK v3 with its default
handler (NodeHttp2Handler: HTTP/2 chosen by ALPN), curl over HTTP/2 and HTTP/1.1 with
--aws-sigv4; the status counters (api.http.tls) must show TLS 1.3 handshakes of both protocols.
Bad input: plaintext HTTP on the TLS port (an alert record, then the end), truncated records,
ALPN "foo" (no_application_protocol), TLS 1.1 only (protocol_version), the wrong protocol for
the ALPN chosen (closed); after each, a normal request still works. Reload: a new certificate
through the control method tls_reload while a connection stays open on the old one. Session
tickets: spate-control's keys (tls_tickets, mode 0600) resume a session across a dataplane
restart and after one rotation (tls_ticket_rotate), not after two.
testssl.sh is not run here: on the shared development machine its start-up alone takes ~30 s
and its protocol checks as long again (each probe is an openssl process); tools/tls-scan runs
it against an instance (--quick: protocols, cipher categories, server preference). Instead,
hand-built ClientHellos (one socket each, no openssl process, ~1 s in all) probe what testssl's
short form would: SSLv2, SSLv3, TLS 1.0 and 1.1 are refused, and no suite of a weak category
(NULL, anonymous, EXPORT, DES, 3DES, RC4, IDEA/SEED/Camellia/ARIA, CBC, static RSA, DHE) is
ever chosen, while the same probe with the policy's suites gets a ServerHello.
"""
import hashlib
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness import wait_until
from kinesis_env import b64, instance_env, unique_name, wait_active

TLS_PORT = 443
# A fatal alert record in plaintext: protocol_version (70), what the layer answers to HTTP.
PLAIN_ALERT = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 70])
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@pytest.fixture(scope="module")
def tls(instance):
    env = instance_env(instance, TLS_PORT)
    yield env
    env.close()


@pytest.fixture
def stream(tls):
    c = tls.client()
    name = unique_name("tls")
    c.create_stream(StreamName=name, ShardCount=2)
    wait_active(c, name)
    yield name
    try:
        c.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    except Exception:  # noqa: BLE001 - best effort: the test may have deleted it
        pass


def tls_status(inst):
    return inst.rpc("status")["dataplane"]["api"]["http"]["tls"]


def in_ns(inst, fn, *args):
    """Run fn(*args) inside the instance's network namespace (a thread that entered it)."""
    from kinesis_env import NetnsExecutor
    ex = NetnsExecutor(inst.netns, workers=1)
    try:
        return ex.run(fn, *args)
    finally:
        ex.shutdown()


def ns_cmd(inst, *cmd, timeout=60, input=None):
    return subprocess.run(["ip", "netns", "exec", inst.netns] + list(cmd), capture_output=True,
                          text=True, timeout=timeout, input=input)


def still_works(tls):
    """A normal request over TLS succeeds (the bad input before it left nothing behind)."""
    r = tls.call("ListStreams", {})
    assert r.status == 200, r


def _raw_exchange(host, send, shut=True, timeout=5.0):
    """Connect to the TLS port, send bytes, half-close, and return what came back until EOF."""
    got = b""
    with socket.create_connection((host, TLS_PORT), timeout=timeout) as s:
        s.sendall(send)
        if shut:
            s.shutdown(socket.SHUT_WR)
        while True:
            try:
                b = s.recv(4096)
            except ConnectionResetError:
                break
            if not b:
                break
            got += b
    return got


# ---- clients ---------------------------------------------------------------------------------

def test_boto3_over_https(tls, stream):
    c = tls.client()
    big = os.urandom((1 << 20) - 8)  # a 1 MiB record: many records of ciphertext both ways
    r1 = c.put_record(StreamName=stream, Data=big, PartitionKey="big")
    r2 = c.put_records(StreamName=stream, Records=[
        {"Data": b"rec-%d" % i, "PartitionKey": "k%d" % i} for i in range(100)])
    assert r2["FailedRecordCount"] == 0
    it = c.get_shard_iterator(StreamName=stream, ShardId=r1["ShardId"],
                              ShardIteratorType="AT_SEQUENCE_NUMBER",
                              StartingSequenceNumber=r1["SequenceNumber"])["ShardIterator"]
    got = c.get_records(ShardIterator=it, Limit=1)["Records"]
    assert len(got) == 1 and got[0]["Data"] == big
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.describe_stream_summary(StreamName=stream + "-missing")
    with pytest.raises(c.exceptions.ClientError) as ei:
        c.get_records(ShardIterator="A" * 200)
    assert ei.value.response["Error"]["Code"] == "InvalidArgumentException", ei.value.response
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_shard_iterator(StreamName=stream, ShardId="shardId-000000000099",
                             ShardIteratorType="LATEST")


def test_aws_cli_over_https(tls, stream):
    p = tls.cli("put-record", "--stream-name", stream, "--partition-key", "cli",
                "--data", b64(b"from the cli"), "--cli-binary-format", "base64")
    assert p.returncode == 0, p.stderr
    seq = json.loads(p.stdout)["SequenceNumber"]
    shard = json.loads(p.stdout)["ShardId"]
    p = tls.cli("get-shard-iterator", "--stream-name", stream, "--shard-id", shard,
                "--shard-iterator-type", "AT_SEQUENCE_NUMBER", "--starting-sequence-number", seq)
    assert p.returncode == 0, p.stderr
    it = json.loads(p.stdout)["ShardIterator"]
    p = tls.cli("get-records", "--shard-iterator", it)
    assert p.returncode == 0, p.stderr
    recs = json.loads(p.stdout)["Records"]
    assert recs and recs[0]["SequenceNumber"] == seq
    p = tls.cli("describe-stream-summary", "--stream-name", stream + "-missing")
    assert p.returncode != 0 and "ResourceNotFoundException" in p.stderr, p.stderr


def test_js_default_handler_h2_by_alpn(tls, stream):
    """The JS SDK's default handler over https:// negotiates h2 by ALPN (the steps of
    test_api_js's round trip, shortened); every call is an HTTP/2 stream."""
    inst = tls.instance
    before = inst.rpc("status")["dataplane"]["api"]["http"]
    recs = [{"Data": b64(b"js-%d" % i), "PartitionKey": "p%d" % i} for i in range(50)]
    out = tls.node([
        {"op": "PutRecords", "input": {"StreamName": stream, "Records": recs}},
        {"op": "ListShards", "input": {"StreamName": stream}},
        {"op": "PutRecord", "input": {"StreamName": stream, "Data": b64(b"x" * 300000),
                                      "PartitionKey": "big"}},
        {"op": "DescribeStreamSummary", "input": {"StreamName": stream + "-missing"}},
    ], handler="default")
    assert out["handler"] == "NodeHttp2Handler", out["handler"]
    res = out["results"]
    assert res[0]["ok"]["FailedRecordCount"] == 0, res[0]
    assert len(res[1]["ok"]["Shards"]) == 2
    assert "ok" in res[2], res[2]
    assert res[3]["error"]["name"] == "ResourceNotFoundException", res[3]
    shard = res[2]["ok"]["ShardId"]
    out = tls.node([
        {"op": "GetShardIterator", "input": {"StreamName": stream, "ShardId": shard,
                                             "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                                             "StartingSequenceNumber":
                                                 res[2]["ok"]["SequenceNumber"]}},
    ], handler="default")
    it = out["results"][0]["ok"]["ShardIterator"]
    out = tls.node([{"op": "GetRecords", "input": {"ShardIterator": it, "Limit": 1}}],
                   handler="default")
    got = out["results"][0]["ok"]["Records"]
    assert got and len(got[0]["Data"]) == len(b64(b"x" * 300000))
    after = inst.rpc("status")["dataplane"]["api"]["http"]
    assert after["h2"]["streams"] - before["h2"]["streams"] >= 6
    assert after["tls"]["alpn"]["h2"] > before["tls"]["alpn"]["h2"]


@pytest.mark.parametrize("version,alpn", [("--http2", "h2"), ("--http1.1", "http/1.1")])
def test_curl_sigv4(tls, version, alpn):
    inst = tls.instance
    before = tls_status(inst)
    p = ns_cmd(inst, "curl", "-sS", "-m", "20", version, "--cacert", tls.ca_bundle,
               "--aws-sigv4", "aws:amz:%s:kinesis" % tls.region,
               "--user", "%s:%s" % (tls.access_key, tls.secret_key),
               "-H", "Content-Type: application/x-amz-json-1.1",
               "-H", "X-Amz-Target: Kinesis_20131202.ListStreams", "-d", "{}",
               "-w", "\n%{http_version} %{http_code}", tls.url + "/")
    assert p.returncode == 0, p.stderr
    body, _, tail = p.stdout.rpartition("\n")
    assert tail == ("2 200" if alpn == "h2" else "1.1 200"), p.stdout
    assert "StreamNames" in json.loads(body)
    after = tls_status(inst)
    assert after["version"]["tls1_3"] > before["version"]["tls1_3"]
    assert after["alpn"][alpn] > before["alpn"][alpn]


def test_tls12_client(tls):
    """A TLS 1.2-only client is served (ECDHE + AEAD) and counted as such."""
    inst = tls.instance
    before = tls_status(inst)
    p = ns_cmd(inst, "curl", "-sS", "-m", "20", "--tlsv1.2", "--tls-max", "1.2", "--cacert",
               tls.ca_bundle, "-o", "/dev/null", "-w", "%{http_code}", tls.url + "/")
    assert p.returncode == 0, p.stderr
    assert p.stdout in ("400", "403", "404"), p.stdout  # unsigned: refused, but served
    assert tls_status(inst)["version"]["tls1_2"] > before["version"]["tls1_2"]


# ---- bad input -------------------------------------------------------------------------------

def test_plaintext_http_gets_alert(tls):
    inst = tls.instance
    before = tls_status(inst)
    got = in_ns(inst, _raw_exchange, inst.ipv4,
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", False)
    assert got == PLAIN_ALERT, got
    after = tls_status(inst)
    assert after["alerts_sent"] > before["alerts_sent"]
    assert after["handshakes_failed"] > before["handshakes_failed"]
    still_works(tls)


def test_truncated_client_hello(tls):
    inst = tls.instance
    before = tls_status(inst)
    # a handshake record announcing 512 bytes, 20 of them sent, then FIN
    got = in_ns(inst, _raw_exchange, inst.ipv4, bytes([0x16, 0x03, 0x01, 0x02, 0x00]) +
                bytes([0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) + b"\x00" * 14)
    assert len(got) <= 7, got  # nothing, or one alert record
    assert tls_status(inst)["handshakes_failed"] > before["handshakes_failed"]
    still_works(tls)


def _truncated_after_handshake(host, ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(["http/1.1"])
    raw = socket.create_connection((host, TLS_PORT), timeout=5)
    s = ctx.wrap_socket(raw, server_hostname=host)
    try:
        # the start of an application-data record announcing 16 KiB, 100 bytes of it
        dup = socket.socket(fileno=os.dup(s.fileno()))
        dup.sendall(bytes([0x17, 0x03, 0x03, 0x40, 0x00]) + b"\xaa" * 100)
        dup.shutdown(socket.SHUT_WR)
        dup.settimeout(5)
        got, eof = b"", False
        while True:
            try:
                b = dup.recv(4096)
            except ConnectionResetError:
                eof = True
                break
            except socket.timeout:
                break
            if not b:
                eof = True
                break
            got += b
        dup.close()
        return len(got), eof
    finally:
        s.close()


def test_truncated_record_after_handshake(tls):
    inst = tls.instance
    before = tls_status(inst)
    n, eof = in_ns(inst, _truncated_after_handshake, inst.ipv4, tls.ca_bundle)
    assert eof and n < 1024, n  # session tickets at most, then the end (no answer)
    wait_until(lambda: tls_status(inst)["truncated"] > before["truncated"], 10,
               what="the truncation counted")
    still_works(tls)


def _alpn_handshake(host, ca, protos):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(protos)
    with socket.create_connection((host, TLS_PORT), timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname=host) as s:
                return s.selected_alpn_protocol()
        except ssl.SSLError as e:
            return "error: %s" % e


def test_alpn_foo_refused(tls):
    inst = tls.instance
    before = tls_status(inst)
    r = in_ns(inst, _alpn_handshake, inst.ipv4, tls.ca_bundle, ["foo"])
    assert "NO_APPLICATION_PROTOCOL" in r.upper() or "ALERT NO APPLICATION" in r.upper(), r
    after = tls_status(inst)
    assert after["alerts_sent"] > before["alerts_sent"]
    assert in_ns(inst, _alpn_handshake, inst.ipv4, tls.ca_bundle, ["foo", "h2"]) == "h2"
    assert in_ns(inst, _alpn_handshake, inst.ipv4, tls.ca_bundle,
                 ["http/1.1", "h2"]) == "h2"  # the server's preference
    still_works(tls)


def test_tls11_refused(tls):
    inst = tls.instance
    p = ns_cmd(inst, "openssl", "s_client", "-connect", "%s:%d" % (inst.ipv4, TLS_PORT),
               "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", timeout=20, input="")
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert "alert protocol version" in out or "no protocols available" in out, out
    assert "Cipher is (NONE)" in out or "no protocols available" in out, out
    still_works(tls)


def _wrong_protocol(host, ca, alpn, send):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols([alpn])
    with socket.create_connection((host, TLS_PORT), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            assert s.selected_alpn_protocol() == alpn
            s.sendall(send)
            got = b""
            while True:
                try:
                    b = s.recv(4096)
                except (ssl.SSLError, ConnectionResetError, socket.timeout):
                    break
                if not b:
                    break
                got += b
            return got


def test_alpn_protocol_mismatch_closed(tls):
    inst = tls.instance
    before = tls_status(inst)
    # h2 chosen, then HTTP/1.1: closed without an answer
    got = in_ns(inst, _wrong_protocol, inst.ipv4, tls.ca_bundle, "h2",
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert got == b"", got
    # http/1.1 chosen, then the HTTP/2 preface: closed without an answer
    got = in_ns(inst, _wrong_protocol, inst.ipv4, tls.ca_bundle, "http/1.1", H2_PREFACE)
    assert got == b"", got
    assert tls_status(inst)["protocol_refused"] >= before["protocol_refused"] + 2
    still_works(tls)


# ---- reload ----------------------------------------------------------------------------------

def _served_fingerprint(inst):
    p = ns_cmd(inst, "openssl", "s_client", "-connect", "%s:%d" % (inst.ipv4, TLS_PORT),
               "-showcerts", timeout=20, input="")
    pem = p.stdout[p.stdout.index("-----BEGIN CERTIFICATE-----"):]
    pem = pem[:pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    return _fingerprint_pem(pem)


def _fingerprint_pem(pem):
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def _new_server_cert(tlsdir, out, ip):
    """A second server certificate from the instance's CA (another key, another serial)."""
    key, csr, crt = out / "server.key", out / "server.csr", out / "server.crt"
    ext = out / "ext.cnf"
    ext.write_text("subjectAltName=IP:%s,DNS:localhost\n" % ip)
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
                    str(key)], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-key", str(key), "-subj", "/CN=spate-reload",
                    "-out", str(csr)], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(tlsdir / "ca.crt"),
                    "-CAkey", str(tlsdir / "ca.key"), "-CAcreateserial", "-days", "30",
                    "-extfile", str(ext), "-out", str(crt)], check=True, capture_output=True)
    return crt, key


def _keepalive_requests(tls, n_first, gate, results):
    """One HTTPS connection: a request, wait for gate, another on the same connection."""
    import http.client
    ctx = ssl.create_default_context(cafile=tls.ca_bundle)
    conn = http.client.HTTPSConnection(tls.host, TLS_PORT, timeout=20, context=ctx)
    try:
        conn.request("GET", "/")
        r = conn.getresponse()
        r.read()
        results.append((r.status, conn.sock.getpeercert(binary_form=True)))
        sock = conn.sock
        gate.wait(60)
        conn.request("GET", "/")
        r = conn.getresponse()
        r.read()
        results.append((r.status, conn.sock.getpeercert(binary_form=True)))
        assert conn.sock is sock  # the same TLS connection
    finally:
        conn.close()


def test_reload_certificate(tls):
    import threading
    inst = tls.instance
    tlsdir = Path(inst.data_dir) / "tls"
    orig = _served_fingerprint(inst)
    assert orig == _fingerprint_pem((tlsdir / "server.crt").read_text())
    gate = threading.Event()
    results = []
    from kinesis_env import NetnsExecutor
    ex = NetnsExecutor(inst.netns, workers=1)
    fut = ex._pool.submit(_keepalive_requests, tls, 1, gate, results)
    wait_until(lambda: len(results) == 1 or fut.done(), 20, what="the first request")
    assert len(results) == 1, fut.result()
    out = Path(tempfile.mkdtemp(prefix="reload-", dir=str(tlsdir)))
    try:
        crt, key = _new_server_cert(tlsdir, out, inst.ipv4)
        gen = tls_status(inst)["generation"]
        assert inst.rpc("tls_reload", {"cert": str(crt), "key": str(key)}) == {"sent": True}
        wait_until(lambda: tls_status(inst)["generation"] == gen + 1, 10, what="the reload")
        new = _fingerprint_pem(crt.read_text())
        assert _served_fingerprint(inst) == new != orig
        gate.set()
        fut.result(timeout=60)
        assert [r[0] for r in results] == [404, 404] or results[0][0] == results[1][0]
        # the old connection kept the old certificate (its context)
        assert hashlib.sha256(results[1][1]).hexdigest() == orig
        still_works(tls)
        # a bad reload keeps the context in force and says why
        st = tls_status(inst)
        assert inst.rpc("tls_reload", {"cert": str(out / "missing.crt")}) == {"sent": True}
        wait_until(lambda: tls_status(inst)["reload_failed"] == st["reload_failed"] + 1, 10,
                   what="the failed reload")
        assert tls_status(inst)["last_error"]
        assert _served_fingerprint(inst) == new
    finally:
        gate.set()
        ex.shutdown()
        gen = tls_status(inst)["generation"]
        inst.rpc("tls_reload", {"cert": str(tlsdir / "server.crt"),
                                "key": str(tlsdir / "server.key")})
        wait_until(lambda: tls_status(inst)["generation"] == gen + 1, 10,
                   what="the original certificate back")
        shutil.rmtree(out, ignore_errors=True)
    assert _served_fingerprint(inst) == orig


def _resume(host, ctx, session):
    """One TLS 1.3 connection offering session (or none), one request read to the end: whether
    the server resumed it, and the session (ticket) the connection ends with."""
    with socket.create_connection((host, TLS_PORT), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host, session=session) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass
            return s.session_reused, s.session


def _rotate(inst):
    before = tls_status(inst)["tickets"]["updates"]
    r = inst.rpc("tls_ticket_rotate")
    assert r["sent"] is True and r["rotations"] >= 1
    wait_until(lambda: tls_status(inst)["tickets"]["updates"] == before + 1, 10,
               what="the dataplane to install the rotated ticket keys")


def test_session_tickets_from_control(tls):
    inst = tls.instance
    path = Path(inst.data_dir) / "tls_tickets"
    assert path.stat().st_mode & 0o777 == 0o600
    st = tls_status(inst)["tickets"]
    assert st["keys"] == "control" and st["updates"] >= 1
    assert st["lifetime_s"] == 3600  # the rotation period (spate-control's default)
    ctx = ssl.create_default_context(cafile=tls.ca_bundle)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    host = inst.ipv4
    reused, s_a = in_ns(inst, _resume, host, ctx, None)
    assert not reused and s_a.has_ticket
    reused, _ = in_ns(inst, _resume, host, ctx, s_a)
    assert reused

    # a dataplane restart: control hands the same keys to the new process
    inst.restart_dataplane()
    wait_until(lambda: tls_status(inst)["tickets"]["keys"] == "control", 20,
               what="the restarted dataplane to get the ticket keys")
    resumed = tls_status(inst)["resumed"]
    reused, _ = in_ns(inst, _resume, host, ctx, s_a)
    assert reused
    assert tls_status(inst)["resumed"] == resumed + 1

    # one rotation: s_a's key is the previous one, still opens it (and a fresh ticket comes)
    _rotate(inst)
    assert tls_status(inst)["tickets"]["previous_key"] is True
    reused, s_b = in_ns(inst, _resume, host, ctx, s_a)
    assert reused
    # two rotations: s_a's key is gone (a full handshake), s_b's is the previous one
    _rotate(inst)
    reused, _ = in_ns(inst, _resume, host, ctx, s_a)
    assert not reused
    reused, _ = in_ns(inst, _resume, host, ctx, s_b)
    assert reused
    assert path.stat().st_mode & 0o777 == 0o600
    still_works(tls)


# ---- protocol and cipher probes (the short form of testssl's -p -s) ----

# Cipher suites (IANA TLS Cipher Suites registry) by category, none of which the policy allows.
WEAK_SUITES = {
    "NULL": [0x0001, 0x0002, 0x003B, 0xC006, 0xC010],
    "anonymous": [0x0018, 0x001B, 0x0034, 0x006C, 0x00A6, 0xC015, 0xC018],
    "EXPORT": [0x0003, 0x0006, 0x0008, 0x0014, 0x0062, 0x0064],
    "DES": [0x0009, 0x0012, 0x0015],
    "3DES": [0x000A, 0x0016, 0xC008, 0xC012],
    "RC4": [0x0004, 0x0005, 0xC007, 0xC011],
    "IDEA-SEED-Camellia-ARIA": [0x0007, 0x0096, 0x0041, 0x0084, 0xC072, 0xC05C, 0xC060],
    "CBC": [0x002F, 0x0035, 0x003C, 0x003D, 0x0033, 0x0039, 0x0067, 0x006B, 0xC009, 0xC00A,
            0xC013, 0xC014, 0xC023, 0xC024, 0xC027, 0xC028],
    "static-RSA": [0x009C, 0x009D],
    "DHE": [0x009E, 0x009F, 0xCCAA],
}
# The policy's TLS 1.2 suites (ECDHE with AES-GCM or ChaCha20-Poly1305): a probe offering them
# must get a ServerHello, or the probes would pass against a server that answers nothing.
GOOD_SUITES = [0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8]


def _client_hello(version, suites):
    """A ClientHello record for legacy version `version` (0x0300 SSLv3 .. 0x0303 TLS 1.2),
    offering `suites`, the policy's groups and common signature algorithms; no
    supported_versions, so TLS 1.3 is not on offer."""
    groups = struct.pack(">3H", 0x001D, 0x0017, 0x0018)
    sigalgs = struct.pack(">8H", 0x0403, 0x0503, 0x0804, 0x0805, 0x0401, 0x0501, 0x0201, 0x0203)
    ext = struct.pack(">HHH", 10, len(groups) + 2, len(groups)) + groups
    ext += struct.pack(">HHBB", 11, 2, 1, 0)
    if version >= 0x0303:
        ext += struct.pack(">HHH", 13, len(sigalgs) + 2, len(sigalgs)) + sigalgs
    cs = b"".join(struct.pack(">H", c) for c in suites)
    body = struct.pack(">H", version) + os.urandom(32) + b"\x20" + os.urandom(32)
    body += struct.pack(">H", len(cs)) + cs + b"\x01\x00" + struct.pack(">H", len(ext)) + ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16" + struct.pack(">HH", min(version, 0x0301), len(hs)) + hs


def _sslv2_hello():
    """An SSLv2 CLIENT-HELLO (version 2) offering SSLv2's RC4 and 3DES specs."""
    specs = bytes([0x01, 0x00, 0x80, 0x07, 0x00, 0xC0])
    challenge = os.urandom(16)
    msg = b"\x01\x00\x02" + struct.pack(">HHH", len(specs), 0, len(challenge)) + specs
    msg += challenge
    return struct.pack(">H", 0x8000 | len(msg)) + msg


def _server_hello(reply):
    """(version, suite) of the ServerHello that starts reply, or None when it is anything else
    (an alert, nothing, not TLS). An SSLv2 SERVER-HELLO counts as (2, None)."""
    if len(reply) >= 3 and reply[0] & 0x80 and reply[2] == 4:
        return (2, None)
    if len(reply) < 5 + 4 + 2 + 32 + 1 or reply[0] != 0x16 or reply[5] != 2:
        return None
    sid = reply[5 + 4 + 2 + 32]
    at = 5 + 4 + 2 + 32 + 1 + sid
    if len(reply) < at + 2:
        return None
    return (struct.unpack(">H", reply[9:11])[0], struct.unpack(">H", reply[at:at + 2])[0])


def _probe(host, hello):
    return _server_hello(_raw_exchange(host, hello))


@pytest.mark.parametrize("proto", ["SSLv2", "SSLv3", "TLS1.0", "TLS1.1"])
def test_weak_protocol_refused(tls, proto):
    inst = tls.instance
    if proto == "SSLv2":
        hello = _sslv2_hello()
    else:
        version = {"SSLv3": 0x0300, "TLS1.0": 0x0301, "TLS1.1": 0x0302}[proto]
        # suites valid in that version (CBC) and the policy's, whichever the server would take
        hello = _client_hello(version, WEAK_SUITES["CBC"] + GOOD_SUITES)
    reply = in_ns(inst, _raw_exchange, inst.ipv4, hello)
    assert _server_hello(reply) is None, reply.hex()
    # a fatal alert (protocol_version, or handshake_failure for SSLv3), then the end
    assert len(reply) == 7 and reply[0] == 0x15 and reply[5] == 2, reply.hex()
    assert reply[6] in (40, 70), reply.hex()
    still_works(tls)


def test_weak_cipher_categories_refused(tls):
    inst = tls.instance
    chosen = {}
    for cat, suites in WEAK_SUITES.items():
        sh = in_ns(inst, _probe, inst.ipv4, _client_hello(0x0303, suites))
        if sh is not None:
            chosen[cat] = "0x%04x" % sh[1]
    assert chosen == {}, "weak suites chosen: %s" % chosen
    # every weak suite at once, then the policy's suites last: the server picks one of those
    sh = in_ns(inst, _probe, inst.ipv4,
               _client_hello(0x0303, sum(WEAK_SUITES.values(), []) + GOOD_SUITES))
    assert sh is not None and sh[0] == 0x0303 and sh[1] in GOOD_SUITES, sh
    for suite in GOOD_SUITES[:2]:
        sh = in_ns(inst, _probe, inst.ipv4, _client_hello(0x0303, [suite]))
        # the instance's certificate is ECDSA: the RSA suite has no certificate to go with it
        assert sh == ((0x0303, suite) if suite == 0xC02B else None), sh
    still_works(tls)

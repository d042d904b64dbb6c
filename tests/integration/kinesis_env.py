"""Endpoint, credential and network-namespace plumbing for the Kinesis API tests (test_api_*.py).

Two kinds of endpoint:
  spate     default: the session `instance` (tools/spate-dev up). The API listens on
            http://<instance.ipv4>:80 inside the instance's network namespace, so every client
            runs there: boto3 and raw HTTP on threads that entered the namespace with setns(2)
            (NsProxy forwards each call to them, tests call client.put_records(...) as usual), the
            AWS CLI and node through `ip netns exec`. The test key comes from the AWS-CLI-style
            file <instance.data_dir>/credentials (profile default), written by spate-dev.
  endpoint  `--endpoint URL` (kinesalite on loopback, see tools/kinesalite-run): every client
            runs directly from the pytest process with a fixed key.

Hooks for what only Spate can do (tests skip where they raise NoTimeControl /
NotImplementedError); tests reach them through the fixtures of the same names:
  Env.advance_clock(seconds)          time travel for expired iterators / NextTokens: the
                                      test-only control method clock_offset_set (spate-control
                                      runs with --test-services when the instance was brought up
                                      with test_services=true); the fixture resets it afterwards
  Env.set_shard_quota(stream, ...)    per-shard throughput quota of one stream (partial failures)

conftest.py loads this module as a pytest plugin (pytest_plugins), which provides the fixtures
kenv, streams, advance_clock and shard_quota and the markers spate_only and
kinesalite_xfail(reason).
"""
import base64
import configparser
import ctypes
import datetime
import hashlib
import http.client
import json
import os
import re
import ssl
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
JS_DIR = HERE / "js"
JS_DRIVER = JS_DIR / "kinesis_js.mjs"
AWS_CLI = "/usr/bin/aws"
NODE = "/usr/bin/node"
PY = "/usr/bin/python3"
REGION = "us-east-1"
TARGET_PREFIX = "Kinesis_20131202."
AMZ_JSON = "application/x-amz-json-1.1"
# Any fixed key: kinesalite does not check signatures.
EMULATOR_KEY = ("AKIDSPATEITEST000000", "spate-integration-test-secret-key")
HASH_MAX = (1 << 128) - 1
CLONE_NEWNET = 0x40000000
ACTIVE_TIMEOUT_S = 30
HTTP_TIMEOUT_S = 60


class NoTimeControl(Exception):
    """The endpoint cannot move its clock (see Env.advance_clock)."""


# ---- network namespace plumbing ------------------------------------------------------------

def _enter_netns(path):
    """Move the calling thread (only it) into the network namespace at path."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns(%s): %s" % (path, os.strerror(err)))
    finally:
        os.close(fd)


class NetnsExecutor:
    """Worker threads that live in one network namespace; run(fn) calls fn on one of them.

    Sockets belong to the namespace of the thread that creates them, so a client whose
    connections are opened on these threads talks inside the namespace. With netns=None the
    calls run inline on the caller's thread.
    """

    def __init__(self, netns, workers=4):
        self.netns = netns
        self._pool = None
        if netns:
            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="netns",
                                            initializer=_enter_netns,
                                            initargs=("/run/netns/%s" % netns,))

    def run(self, fn, *args, **kwargs):
        if self._pool is None:
            return fn(*args, **kwargs)
        return self._pool.submit(fn, *args, **kwargs).result()

    def shutdown(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class _PaginatorProxy:
    def __init__(self, paginator, ex):
        self._p = paginator
        self._ex = ex

    def paginate(self, **kwargs):
        """All pages as a list (the pages are fetched inside the namespace)."""
        return self._ex.run(lambda: list(self._p.paginate(**kwargs)))


class NsProxy:
    """A boto3 client whose every API call runs on a NetnsExecutor thread."""

    def __init__(self, client, ex):
        self._client = client
        self._ex = ex

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name == "get_paginator":
            return lambda op: _PaginatorProxy(attr(op), self._ex)
        if callable(attr) and not isinstance(attr, type):
            return lambda *a, **kw: self._ex.run(attr, *a, **kw)
        return attr


# ---- raw HTTP ------------------------------------------------------------------------------

class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-cased name -> value
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def __repr__(self):
        return "RawResponse(%d, %r, %r)" % (self.status, self.headers, self.body[:500])


class FixedTimeSigV4(SigV4Auth):
    """SigV4Auth signing as of a given time (for clock-skew tests)."""

    def __init__(self, credentials, service, region, when):
        super().__init__(credentials, service, region)
        self._when = when

    def add_auth(self, request):
        request.context["timestamp"] = self._when.strftime("%Y%m%dT%H%M%SZ")
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        sts = self.string_to_sign(request, canonical)
        self._inject_signature_to_request(request, self.signature(sts, request))


# ---- the endpoint ----------------------------------------------------------------------------

class Env:
    """One Kinesis endpoint and the ways the tests reach it."""

    def __init__(self, kind, url, access_key, secret_key, netns=None, instance=None,
                 ca_bundle=None):
        self.kind = kind  # "spate" | "endpoint"
        self.url = url.rstrip("/")
        self.ca_bundle = ca_bundle  # https: the CA the clients trust (None: the system's)
        u = urlsplit(self.url)
        self.scheme = u.scheme
        self.host = u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = REGION
        self.netns = netns
        self.instance = instance
        self.ex = NetnsExecutor(netns)
        self._account = None
        self._lock = threading.Lock()
        self._clock_offset_ms = 0  # what this Env set through clock_offset_set

    @property
    def is_spate(self):
        return self.kind == "spate"

    # -- boto3 --------------------------------------------------------------------------
    def client(self, retries=False, access_key=None, secret_key=None, single=False, **config):
        """A boto3 Kinesis client. retries=False: botocore's max_attempts=1, which still allows
        one retry of a retryable error (a throttle); single=True: exactly one attempt."""
        policy = ({"total_max_attempts": 1, "mode": "standard"} if single else
                  {"max_attempts": 1 if not retries else 5, "mode": "standard"})
        cfg = Config(retries=policy, connect_timeout=10, read_timeout=HTTP_TIMEOUT_S, **config)
        c = boto3.session.Session().client(
            "kinesis", endpoint_url=self.url, region_name=self.region, config=cfg,
            verify=self.ca_bundle if self.ca_bundle else None,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key)
        return NsProxy(c, self.ex) if self.netns else c

    # -- raw HTTP -----------------------------------------------------------------------
    def raw(self, target, body, headers=None, sign=True, content_type=AMZ_JSON, method="POST",
            path="/", access_key=None, secret_key=None, when=None, service="kinesis",
            region=None):
        """Send one request exactly as given; returns RawResponse.

        target: an operation name (prefixed with Kinesis_20131202.), a full X-Amz-Target value
        (contains a dot) or None (no header). body: bytes, str, or a JSON-able object.
        sign: SigV4 over the final headers and body (as of `when`, for `service`/`region`).
        headers: extra headers, added before signing; a value None removes that header.
        """
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        hdrs = {"Host": self.host if self.port in (80, 443) else "%s:%d" % (self.host, self.port)}
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        if target is not None:
            hdrs["X-Amz-Target"] = target if "." in target else TARGET_PREFIX + target
        for k, v in (headers or {}).items():
            hdrs[k] = v
        hdrs = {k: v for k, v in hdrs.items() if v is not None}
        if sign:
            creds = Credentials(access_key or self.access_key, secret_key or self.secret_key)
            req = AWSRequest(method=method, url=self.url + path, data=body, headers=hdrs)
            if when is None:
                SigV4Auth(creds, service, region or self.region).add_auth(req)
            else:
                FixedTimeSigV4(creds, service, region or self.region, when).add_auth(req)
            hdrs = dict(req.headers.items())
        return self.ex.run(self._send, method, path, body, hdrs)

    def _send(self, method, path, body, hdrs):
        if self.scheme == "https":
            ctx = ssl.create_default_context(cafile=self.ca_bundle)
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=HTTP_TIMEOUT_S,
                                               context=ctx)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT_S)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            r = conn.getresponse()
            data = r.read()
            return RawResponse(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def call(self, op, payload, **kw):
        """A signed JSON request for op with payload (a dict or raw text); RawResponse."""
        return self.raw(op, payload, **kw)

    # -- AWS CLI and node -----------------------------------------------------------------
    def _ns_prefix(self):
        return ["ip", "netns", "exec", self.netns] if self.netns else []

    def _client_env(self, retries, access_key=None, secret_key=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "AWS_ACCESS_KEY_ID": access_key or self.access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key or self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_PAGER": "",
            "AWS_RETRY_MODE": "standard",
            "AWS_MAX_ATTEMPTS": "5" if retries else "1",
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        if self.ca_bundle:
            env["AWS_CA_BUNDLE"] = str(self.ca_bundle)  # the AWS CLI
            env["NODE_EXTRA_CA_CERTS"] = str(self.ca_bundle)  # node
        return env

    def cli(self, *args, input=None, timeout=120, retries=False, access_key=None,
            secret_key=None):
        """Run `aws kinesis <args>` against the endpoint; returns CompletedProcess (text)."""
        cmd = self._ns_prefix() + [AWS_CLI, "--endpoint-url", self.url, "--region", self.region,
                                   "--output", "json", "--no-cli-pager", "kinesis"]
        cmd += [str(a) for a in args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input,
                              env=self._client_env(retries, access_key, secret_key),
                              stdin=None if input is not None else subprocess.DEVNULL)

    def node(self, steps, timeout=180, retries=False, access_key=None, secret_key=None,
             handler="http1"):
        """Run the JS SDK v3 driver (js/kinesis_js.mjs) over steps.

        handler: "http1" (NodeHttpHandler) or "default" (the client's own: NodeHttp2Handler,
        HTTP/2 with prior knowledge on http://, by ALPN on https:// with the Env's ca_bundle
        in NODE_EXTRA_CA_CERTS).

        steps: [{"op": "PutRecord", "input": {...}}, ...]; Data values are base64 text both
        ways, timestamps epoch seconds. Returns {"handler": <request handler class>, "results":
        [{"ok": output} | {"error": {name, message, status, fault}}, ...]}.
        """
        if not (JS_DIR / "node_modules").is_dir():
            pytest.fail("tests/integration/js/node_modules missing: run tools/setup/install-js.sh")
        cmd = {"endpoint": self.url, "region": self.region,
               "credentials": {"accessKeyId": access_key or self.access_key,
                               "secretAccessKey": secret_key or self.secret_key},
               "maxAttempts": 5 if retries else 1, "handler": handler, "steps": steps}
        p = subprocess.run(self._ns_prefix() + [NODE, str(JS_DRIVER)], capture_output=True,
                           text=True, timeout=timeout, input=json.dumps(cmd),
                           env=self._client_env(retries, access_key, secret_key),
                           cwd=str(JS_DIR))
        assert p.returncode == 0, "node driver exit %d\nstdout:\n%s\nstderr:\n%s" % (
            p.returncode, p.stdout[-4000:], p.stderr[-4000:])
        return json.loads(p.stdout)

    # -- facts about the endpoint ------------------------------------------------------------
    def account_id(self, stream_name):
        """The account id, read from an existing stream's ARN (cached)."""
        with self._lock:
            if self._account is None:
                c = self.client(retries=True)
                arn = c.describe_stream_summary(
                    StreamName=stream_name)["StreamDescriptionSummary"]["StreamARN"]
                self._account = arn.split(":")[4]
            return self._account

    # -- hooks for Spate ------------------------------------------------------------------
    def advance_clock(self, seconds):
        """TIME-TRAVEL HOOK: move the endpoint's clock forward by seconds (cumulative).

        Needed by the ExpiredIteratorException / ExpiredNextTokenException and retention tests.
        On Spate it moves only the time shard iterators and NextTokens are issued and expire
        at and the "now" retention is enforced against (control method clock_offset_set);
        SigV4, arrival timestamps and quotas keep the real clock.
        Raises NoTimeControl where that is out of reach (kinesalite, or an instance without
        test_services): the calling test skips. The advance_clock fixture resets it.
        """
        if self.kind != "spate" or self.instance is None:
            raise NoTimeControl("endpoint %s (%s) cannot move its clock" % (self.url, self.kind))
        self.set_clock_offset(self._clock_offset_ms + int(round(seconds * 1000)))

    def set_clock_offset(self, ms):
        """Set Spate's test clock offset to ms and wait until the dataplane applies it."""
        p = self.instance.spatectl("call", "clock_offset_set", json.dumps({"ms": int(ms)}),
                                   check=False)
        if p.returncode != 0:
            if "--test-services" in p.stderr:
                raise NoTimeControl("instance %s runs without test services (spate-dev up "
                                    "--set test_services=true)" % self.instance.name)
            raise AssertionError("clock_offset_set: exit %d\nstdout:\n%s\nstderr:\n%s"
                                 % (p.returncode, p.stdout, p.stderr))
        self._clock_offset_ms = int(ms)
        # control pushes the offset with the snapshot; workers use it once the main lcore has
        # published that snapshot, which status reports
        deadline = time.time() + 10
        while time.time() < deadline:
            api = self.instance.dataplane().get("api", {})
            if api.get("iter_clock_offset_ms") == int(ms):
                return
            time.sleep(0.05)
        raise AssertionError("dataplane did not apply clock offset %d ms" % ms)

    def reset_clock(self):
        """Back to the real clock (after a test, and once at start against a leftover)."""
        if self.kind != "spate" or self.instance is None:
            return
        try:
            self.set_clock_offset(0)
        except NoTimeControl:
            pass

    def set_shard_quota(self, stream_name, records_per_s=None, bytes_per_s=None):
        """QUOTA HOOK: set the per-shard write quota of one stream (Spate only).

        The partial-PutRecords-failure test lowers the quota so that one PutRecords call
        overruns it. Raise NotImplementedError while unsupported: the calling test skips.
        """
        if self.kind != "spate" or self.instance is None:
            raise NotImplementedError("per-stream shard quotas are a Spate control-socket "
                                      "method (stream_quota_set)")
        params = {"stream": stream_name, "records_per_s": int(records_per_s or 0),
                  "bytes_per_s": int(bytes_per_s or 0)}
        self.instance.spatectl("call", "stream_quota_set", json.dumps(params))
        # the dataplane enforces the quota once it serves the snapshot that carries it
        want = self.instance.rpc("catalog_get")["catalog_version"]
        deadline = time.time() + 10
        while time.time() < deadline:
            api = self.instance.dataplane().get("api", {})
            if api.get("catalog_version", 0) >= want:
                return
            time.sleep(0.05)
        raise AssertionError("dataplane did not apply catalog version %d" % want)

    def close(self):
        self.ex.shutdown()


def read_credentials(path):
    """(access key, secret) of profile default in an AWS-CLI-style credentials file."""
    cp = configparser.ConfigParser()
    if not cp.read(str(path)):
        pytest.fail("no credentials file %s: spate-dev up must write the test key there "
                    "(profile default)" % path)
    sec = cp["default"]
    return sec["aws_access_key_id"].strip(), sec["aws_secret_access_key"].strip()


def instance_env(inst, tls_port=None):
    """An Env on a spate-dev instance with its test credentials: cleartext port 80, or
    https:// on tls_port trusting the dev CA spate-dev made (skips when there is none)."""
    key, secret = read_credentials(Path(inst.data_dir) / "credentials")
    if tls_port is None:
        return Env("spate", "http://%s:80" % inst.ipv4, key, secret, netns=inst.netns,
                   instance=inst)
    ca = Path(inst.data_dir) / "tls" / "ca.crt"
    if not ca.is_file():
        pytest.skip("the instance has no TLS certificate (spate-dev up makes one)")
    return Env("spate", "https://%s:%d" % (inst.ipv4, tls_port), key, secret,
               netns=inst.netns, instance=inst, ca_bundle=str(ca))


def make_env(config, request):
    url = config.getoption("--endpoint")
    if url:
        return Env("endpoint", url, *EMULATOR_KEY)
    return instance_env(request.getfixturevalue("instance"))


# ---- markers --------------------------------------------------------------------------------

MARKERS = (
    "spate_only: needs Spate itself (signature checks, quotas); skipped with --endpoint",
    "kinesalite_xfail(reason): kinesalite deviates from the reference here; strict xfail "
    "with --endpoint",
)


def pytest_configure(config):
    for line in MARKERS:
        config.addinivalue_line("markers", line)


def pytest_runtest_setup(item):
    """Apply spate_only / kinesalite_xfail for the endpoint in use."""
    foreign = bool(item.config.getoption("--endpoint", default=None))
    if not foreign:
        return
    if item.get_closest_marker("spate_only"):
        pytest.skip("spate_only: not checked by the --endpoint emulator")
    m = item.get_closest_marker("kinesalite_xfail")
    if m:
        reason = m.args[0] if m.args else m.kwargs.get("reason", "kinesalite deviates")
        item.add_marker(pytest.mark.xfail(reason="kinesalite: " + reason, strict=True))


# ---- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def kenv(request):
    env = make_env(request.config, request)
    env.reset_clock()  # an interrupted run against --instance may have left an offset behind
    yield env
    env.close()


def unique_name(tag="s"):
    tag = re.sub(r"[^a-zA-Z0-9_.-]", "-", tag)[:60]
    return "it-%s-%s" % (tag, uuid.uuid4().hex[:10])


class Streams:
    """Creates uniquely named streams and deletes every one of them at teardown."""

    def __init__(self, env, tag):
        self.env = env
        self.tag = tag
        self.names = []
        self.c = env.client(retries=True)

    def name(self):
        """A fresh unique name that will be deleted at teardown if it gets created."""
        n = unique_name(self.tag)
        self.names.append(n)
        return n

    def create(self, shards=1, wait=True, name=None):
        n = name or self.name()
        if name:
            self.names.append(n)
        self.c.create_stream(StreamName=n, ShardCount=shards)
        if wait:
            wait_active(self.c, n)
        return n

    def delete_all(self):
        # EnforceConsumerDeletion: a stream a test registered consumers on goes with them
        for n in self.names:
            try:
                self.c.delete_stream(StreamName=n, EnforceConsumerDeletion=True)
            except ClientError as e:
                code = e.response.get("Error", {}).get("Code")
                if code not in ("ResourceNotFoundException", "ResourceInUseException"):
                    raise
                if code == "ResourceInUseException":  # still CREATING: try once more
                    time.sleep(1)
                    try:
                        self.c.delete_stream(StreamName=n, EnforceConsumerDeletion=True)
                    except ClientError:
                        pass
        self.names = []


@pytest.fixture
def advance_clock(kenv):
    """advance_clock(seconds): move the endpoint's clock (Env.advance_clock); skips the test
    where the endpoint offers no time control. The clock is back to real time after the test,
    whatever its outcome, so an offset never leaks into another test."""
    moved = []

    def move(seconds):
        moved.append(seconds)  # before the call: a half-done move is undone too
        try:
            kenv.advance_clock(seconds)
        except NoTimeControl as e:
            pytest.skip(str(e))

    yield move
    if moved:
        kenv.reset_clock()


@pytest.fixture
def shard_quota(kenv):
    """shard_quota(stream, records_per_s=, bytes_per_s=): per-shard write quota of one stream
    (Env.set_shard_quota); skips the test while the hook is not filled in."""
    def set_quota(stream_name, records_per_s=None, bytes_per_s=None):
        try:
            kenv.set_shard_quota(stream_name, records_per_s=records_per_s,
                                 bytes_per_s=bytes_per_s)
        except NotImplementedError as e:
            pytest.skip(str(e))
    return set_quota


@pytest.fixture
def streams(kenv, request):
    s = Streams(kenv, request.node.name.split("[")[0].replace("test_", ""))
    yield s
    s.delete_all()


def wait_active(client, name, timeout=ACTIVE_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while True:
        st = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if st["StreamStatus"] == "ACTIVE":
            return st
        assert time.monotonic() < deadline, "stream %s not ACTIVE after %ss: %s" % (
            name, timeout, st["StreamStatus"])
        time.sleep(0.05)


def wait_gone(client, name, timeout=ACTIVE_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.describe_stream_summary(StreamName=name)
        except ClientError as e:
            if e.response["Error"]["Code"] == "ResourceNotFoundException":
                return
            raise
        assert time.monotonic() < deadline, "stream %s still there after %ss" % (name, timeout)
        time.sleep(0.05)


# ---- checks shared by the test modules -------------------------------------------------------

def md5_hash_key(partition_key):
    """The 128-bit hash key Kinesis derives from a partition key (independent of the server)."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def shard_for(shards, hash_key):
    """The id of the open shard (from ListShards) whose hash range holds hash_key."""
    hits = [s["ShardId"] for s in shards
            if "EndingSequenceNumber" not in s["SequenceNumberRange"]
            and int(s["HashKeyRange"]["StartingHashKey"]) <= hash_key
            <= int(s["HashKeyRange"]["EndingHashKey"])]
    assert len(hits) == 1, "hash %d is in %d open shards" % (hash_key, len(hits))
    return hits[0]


def list_all_shards(client, name):
    out, token = [], None
    while True:
        r = client.list_shards(NextToken=token) if token else client.list_shards(StreamName=name)
        out += r["Shards"]
        token = r.get("NextToken")
        if not token:
            return out


def client_error(fn, *args, **kwargs):
    """Call fn expecting a ClientError; returns (type, message, http status, response)."""
    try:
        r = fn(*args, **kwargs)
    except ClientError as e:
        err = e.response.get("Error", {})
        return (err.get("Code"), err.get("Message"),
                e.response["ResponseMetadata"]["HTTPStatusCode"], e.response)
    raise AssertionError("expected an error, got %r" % (r,))


def cli_json(p):
    """The JSON an `aws kinesis` run printed ({} for none); the run must have succeeded."""
    assert p.returncode == 0, "aws exit %d\nstdout:\n%s\nstderr:\n%s" % (
        p.returncode, p.stdout[-3000:], p.stderr[-3000:])
    return json.loads(p.stdout) if p.stdout.strip() else {}


def expect_cli_error(p, etype, op, message):
    """An `aws kinesis` run that failed (exit 254) with exactly this error type and message."""
    assert p.returncode == 254, "aws exit %d (wanted 254)\nstdout:\n%s\nstderr:\n%s" % (
        p.returncode, p.stdout, p.stderr)
    # with retries configured the CLI names the attempts: "operation (reached max retries: 0):"
    want = re.compile(r"An error occurred \(%s\) when calling the %s operation"
                      r"(?: \(reached max retries: \d+\))?: %s"
                      % (re.escape(etype), re.escape(op), re.escape(message)))
    assert any(want.fullmatch(line) for line in p.stderr.strip().splitlines()), (
        "stderr:\n%s\nwanted line:\n%s" % (p.stderr, want.pattern))


def expect_client_error(fn, etype, message, status=400, **kwargs):
    """Assert fn(**kwargs) fails with exactly (etype, message, status); message may be a
    compiled regex (fullmatch)."""
    got_type, got_msg, got_status, _ = client_error(fn, **kwargs)
    assert (got_type, got_status) == (etype, status), (got_type, got_status, got_msg)
    _match_message(got_msg, message)


def _match_message(got, want):
    if isinstance(want, re.Pattern):
        assert got is not None and want.fullmatch(got), "message %r !~ %r" % (got, want.pattern)
    else:
        assert got == want, "message\n got: %r\nwant: %r" % (got, want)


def expect_raw_error(env, resp, etype, message, status=400, message_key="message"):
    """Assert a raw JSON error reply: status, body {"__type", message_key}; message None means
    the body must hold __type alone. Spate must also send x-amzn-ErrorType = __type."""
    assert resp.status == status, "status %d, wanted %d: %r" % (resp.status, status, resp)
    body = resp.json()
    assert isinstance(body, dict), resp
    assert body.get("__type") == etype, "type %r, wanted %r: %r" % (body.get("__type"), etype,
                                                                       resp)
    if message is None:
        assert body == {"__type": etype}, "expected a bare __type body: %r" % body
    else:
        _match_message(body.get(message_key), message)
    if env.is_spate:
        assert resp.headers.get("x-amzn-errortype", "").split(":")[0] == etype, resp.headers


def validation_message(items):
    """The ValidationException text for items, in the given order."""
    n = len(items)
    return "%d validation error%s detected: %s" % (n, "" if n == 1 else "s", "; ".join(items))


def expect_validation(env, resp, items):
    """ValidationException with exactly these items (order free: it is fixed per operation
    in AWS but clients do not depend on it)."""
    assert resp.status == 400, resp
    body = resp.json()
    assert body.get("__type") == "ValidationException", body
    msg = body.get("message")
    m = re.fullmatch(r"(\d+) validation errors? detected: (.*)", msg or "", re.S)
    assert m, "not a validation message: %r" % msg
    got = m.group(2).split("; ")
    assert sorted(got) == sorted(items), "items\n got: %r\nwant: %r" % (got, items)
    assert msg in (validation_message(got),), msg  # count and plural agree with the items
    if env.is_spate:
        assert resp.headers.get("x-amzn-errortype", "").split(":")[0] == "ValidationException"


def b64(data):
    return base64.b64encode(data).decode("ascii")


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)

#!/usr/bin/python3
"""PutRecords over HTTP/2 (h2c) against the same over cleartext HTTP/1.1, in one run.

h2load (Debian nghttp2-client) sends one signed PutRecords body (--records records of --size
bytes each) over --conns connections for --seconds, once with --h1 (HTTP/1.1, one request at
a time per connection), over h2 with one stream at a time (the like-for-like ratio) and over h2
with --streams concurrent streams per connection; all against one fresh instance. Printed per protocol: requests/s, records/s, MB/s of record data,
the 2xx share, and h2/h1 as the ratio (issue 8's target is >= 0.8). Figures, not a test.

    tools/bench/api_h2.py [--seconds S] [--conns N] [--streams M] [--records R] [--size B]
                          [--cbor] [--instance NAME]

--cbor also sends the same records as an application/x-amz-cbor-1.1 body (as the Java SDK
encodes it: indefinite map and array, Data as byte strings; needs python3-cbor2) over
HTTP/1.1 and h2 with --streams, and prints CBOR/JSON records/s for each. --instance uses an
instance that is already up (its stream quota is switched off too) instead of a fresh one.

The request is signed once and replayed (Spate accepts a signature for 5 minutes, as AWS
does); the stream has enough shards that the per-shard write quota is not what is measured
(the stream's quota is switched off through the control socket). Bounded; removes its instance at the end.
"""
import argparse
import base64
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from h2client import signed_headers  # noqa: E402
from harness import attach, instance_down, instance_up  # noqa: E402

INSTANCE = "spb-h2"


class Endpoint:
    """What signed_headers needs of the test environment."""

    def __init__(self, inst):
        self.host = inst.ipv4
        self.url = "http://%s" % inst.ipv4
        self.region = "us-east-1"
        creds = {}
        for line in (inst.data_dir / "credentials").read_text().splitlines():
            if "=" in line:
                k, v = (x.strip() for x in line.split("=", 1))
                creds[k] = v
        self.access_key = creds["aws_access_key_id"]
        self.secret_key = creds["aws_secret_access_key"]


def cbor_body(name, records, size):
    """PutRecords as the Java SDK writes it: indefinite map and array, Data as bytes."""
    import cbor2

    out = b"\xbf" + cbor2.dumps("StreamName") + cbor2.dumps(name) + cbor2.dumps("Records")
    out += b"\x9f"
    for i in range(records):
        out += b"\xbf" + cbor2.dumps("PartitionKey") + cbor2.dumps("k%d" % i)
        out += cbor2.dumps("Data") + cbor2.dumps(b"x" * size) + b"\xff"
    return out + b"\xff\xff"


def h2load(inst, args, body_path, hdrs, h1, streams, url=None):
    """One h2load run against url (default: the cleartext port): (req/s, 2xx, done)."""
    cmd = ["ip", "netns", "exec", inst.netns, "h2load", "-D", str(args.seconds),
           "-c", str(args.conns), "-d", body_path]
    cmd += ["--h1"] if h1 else ["-m", str(streams)]
    for k, v in hdrs:
        cmd += ["-H", "%s: %s" % (k, v)]
    p = subprocess.run(cmd + [url or "http://%s/" % inst.ipv4], capture_output=True, text=True,
                       timeout=args.seconds + 60)
    out = p.stdout
    m = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done", out)
    if p.returncode != 0 or m is None or codes is None or done is None:
        sys.exit("h2load failed:\n%s\n%s" % (out, p.stderr))
    return float(m.group(1)), int(codes.group(1)), int(done.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--records", type=int, default=100)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--cbor", action="store_true")
    ap.add_argument("--instance", default=None)
    args = ap.parse_args()

    if args.instance:
        inst = attach(args.instance)
    else:
        instance_down(INSTANCE, purge=True)
        inst = instance_up(INSTANCE, 2, "--set", "test_services=true", "--set",
                           "shard_ring_mb=64", "--set", "mem_mb=2048")
    body_path = "/tmp/spate-bench-h2-%d-%d.json" % (os.getpid(), args.records)
    cbor_path = "/tmp/spate-bench-h2-%d-%d.cbor" % (os.getpid(), args.records)
    try:
        ep = Endpoint(inst)
        name = "bench-h2"
        inst.rpc("kinesis", {"op": "CreateStream", "body": {"StreamName": name,
                                                               "ShardCount": 8}})
        deadline = time.time() + 30
        while time.time() < deadline:
            st = inst.rpc("kinesis", {"op": "DescribeStreamSummary",
                                      "body": {"StreamName": name}})
            if "ACTIVE" in json.dumps(st):
                break
            time.sleep(0.3)
        inst.rpc("stream_quota_set", {"stream": name, "records_per_s": 0, "bytes_per_s": 0})
        body = json.dumps({"StreamName": name, "Records": [
            {"PartitionKey": "k%d" % i, "Data": base64.b64encode(b"x" * args.size).decode()}
            for i in range(args.records)]})
        with open(body_path, "w") as f:
            f.write(body)
        hdrs = [(k, v) for k, v in signed_headers(ep, "PutRecords", body)
                if not k.startswith(":") and k != "content-length"]
        rows = {}
        for proto, h1, m in (("http/1.1", True, 1), ("h2 x1", False, 1),
                             ("h2 x%d" % args.streams, False, args.streams)):
            rps, ok, done = h2load(inst, args, body_path, hdrs, h1, m)
            rows[proto] = rps
            print("%-8s %9.0f req/s  %11.0f records/s  %8.1f MB/s  2xx %d/%d" % (
                proto, rps, rps * args.records, rps * args.records * args.size / 1e6, ok, done))
        h1 = rows["http/1.1"]
        print("h2/http1.1: %.2f with one stream per connection (as HTTP/1.1), %.2f with %d "
              "(%d conns, %d records of %d B, %d s each)" % (
                  rows["h2 x1"] / h1, rows["h2 x%d" % args.streams] / h1, args.streams,
                  args.conns, args.records, args.size, args.seconds))
        if args.cbor:
            bench_cbor(inst, args, ep, name, cbor_path, rows)
    finally:
        if not args.instance:
            instance_down(INSTANCE, purge=True)
        Path(body_path).unlink(missing_ok=True)
        Path(cbor_path).unlink(missing_ok=True)


def bench_cbor(inst, args, ep, name, cbor_path, rows):
    """The same records in a CBOR body, over HTTP/1.1 and h2 with --streams."""
    body = cbor_body(name, args.records, args.size)
    with open(cbor_path, "wb") as f:
        f.write(body)
    hdrs = [(k, v) for k, v in signed_headers(
        ep, "PutRecords", body, {"Content-Type": "application/x-amz-cbor-1.1"})
        if not k.startswith(":") and k != "content-length"]
    for proto, h1, m in (("http/1.1", True, 1), ("h2 x%d" % args.streams, False, args.streams)):
        rps, ok, done = h2load(inst, args, cbor_path, hdrs, h1, m)
        print("%-8s %9.0f req/s  %11.0f records/s  %8.1f MB/s  2xx %d/%d  CBOR (%d B body), "
              "CBOR/JSON %.2f" % (proto, rps, rps * args.records,
                                  rps * args.records * args.size / 1e6, ok, done, len(body),
                                  rps / rows[proto]))


if __name__ == "__main__":
    main()

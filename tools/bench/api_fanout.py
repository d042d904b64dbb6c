#!/usr/bin/python3
"""Put-to-delivered latency of SubscribeToShard (enhanced fan-out), p50/p99/max.

One fresh instance, a one-shard stream and an ACTIVE consumer. In the instance's namespace a
subscriber process (HTTP/2, python3-h2, tests/integration/h2client.py) subscribes at LATEST,
and a producer process puts --records PutRecords one at a time over a kept-alive HTTP/1.1
connection, --interval-ms apart, each record's Data carrying CLOCK_MONOTONIC at the moment
before its request was written. The subscriber notes CLOCK_MONOTONIC when the event carrying
the record has been read and decoded. The figure includes both clients' Python and the
kernel's side of the tap, on a 2-CPU machine shared with the appliance's busy-polling
workers; AWS documents about 70 ms on average for the same path. Figures, not a test.

    tools/bench/api_fanout.py [--records N] [--interval-ms M]

Bounded; removes its instance at the end.
"""
import argparse
import base64
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))

INSTANCE = "spb-fan"
STREAM = "bench-fan"


class Endpoint:
    """What signed_headers needs, from the instance's credentials file."""

    def __init__(self, ip, creds_path):
        self.host = ip
        self.url = "http://%s" % ip
        self.region = "us-east-1"
        creds = {}
        for line in Path(creds_path).read_text().splitlines():
            if "=" in line:
                k, v = (x.strip() for x in line.split("=", 1))
                creds[k] = v
        self.access_key = creds["aws_access_key_id"]
        self.secret_key = creds["aws_secret_access_key"]


def events(data):
    """(complete event-stream messages as (headers, payload), the rest of data)."""
    out = []
    while len(data) >= 12:
        total, hlen = struct.unpack(">II", data[:8])
        if len(data) < total:
            break
        h, hdrs = data[12:12 + hlen], {}
        while h:
            n = h[0]
            vlen = struct.unpack(">H", h[2 + n:4 + n])[0]
            hdrs[h[1:1 + n].decode()] = h[4 + n:4 + n + vlen].decode()
            h = h[4 + n + vlen:]
        out.append((hdrs, data[12 + hlen:total - 4]))
        data = data[total:]
    return out, data


def child_subscriber(args):
    from h2client import H2, signed_headers
    ep = Endpoint(args.ip, args.creds)
    body = json.dumps({"ConsumerARN": args.consumer, "ShardId": "shardId-000000000000",
                       "StartingPosition": {"Type": "LATEST"}})
    h = H2(ep.host)
    h.start()
    sid = h.request(signed_headers(ep, "SubscribeToShard", body), body.encode())
    lat, buf, off = [], b"", 0
    print("ready", flush=True)
    deadline = time.monotonic() + args.records * args.interval_ms / 1000 + 30
    while len(lat) < args.records and time.monotonic() < deadline:
        h.pump(lambda: len(h.responses[sid].body) > off, 5)
        buf += h.responses[sid].body[off:]
        off = len(h.responses[sid].body)
        msgs, buf = events(buf)
        now = time.monotonic_ns()
        for hdrs, payload in msgs:
            if hdrs.get(":event-type") != "SubscribeToShardEvent":
                continue
            for r in json.loads(payload)["Records"]:
                sent = struct.unpack(">Q", base64.b64decode(r["Data"])[:8])[0]
                lat.append((now - sent) / 1e6)
    h.close()
    print(json.dumps(lat), flush=True)


def child_producer(args):
    import http.client
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    ep = Endpoint(args.ip, args.creds)
    conn = http.client.HTTPConnection(ep.host, 80, timeout=10)
    creds = Credentials(ep.access_key, ep.secret_key)
    for i in range(args.records):
        t = time.monotonic_ns()
        body = json.dumps({"StreamName": STREAM, "PartitionKey": "k%d" % i,
                           "Data": base64.b64encode(struct.pack(">Q", t) + b"x" * 92).decode()})
        req = AWSRequest(method="POST", url=ep.url + "/", data=body, headers={
            "Host": ep.host, "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Kinesis_20131202.PutRecord"})
        SigV4Auth(creds, "kinesis", ep.region).add_auth(req)
        # (the timestamp is in the signed body: the figure includes signing, ~0.2 ms)
        conn.request("POST", "/", body=body, headers=dict(req.headers.items()))
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
        time.sleep(args.interval_ms / 1000)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--interval-ms", type=float, default=5)
    ap.add_argument("--child", choices=["subscriber", "producer"])
    ap.add_argument("--ip")
    ap.add_argument("--creds")
    ap.add_argument("--consumer")
    args = ap.parse_args()
    if args.child == "subscriber":
        return child_subscriber(args)
    if args.child == "producer":
        return child_producer(args)

    from harness import instance_down, instance_up
    instance_down(INSTANCE, purge=True)
    inst = instance_up(INSTANCE, 2, "--set", "shard_ring_mb=32", "--set", "mem_mb=1024")
    try:
        inst.rpc("kinesis", {"op": "CreateStream", "body": {"StreamName": STREAM,
                                                               "ShardCount": 1}})
        arn = None
        deadline = time.time() + 30
        while time.time() < deadline and arn is None:
            d = inst.rpc("kinesis", {"op": "DescribeStreamSummary",
                                     "body": {"StreamName": STREAM}})
            if "ACTIVE" in json.dumps(d):
                arn = json.dumps(d).split('"StreamARN": "')[1].split('"')[0]
            time.sleep(0.3)
        r = inst.rpc("kinesis", {"op": "RegisterStreamConsumer",
                                 "body": {"StreamARN": arn, "ConsumerName": "bench"}})
        consumer = json.dumps(r).split('"ConsumerARN": "')[1].split('"')[0]
        time.sleep(2.5)  # CREATING -> ACTIVE, and the snapshot reaches the dataplane
        base = ["ip", "netns", "exec", inst.netns, "/usr/bin/python3", __file__, "--ip",
                inst.ipv4, "--creds", str(inst.data_dir / "credentials"), "--records",
                str(args.records), "--interval-ms", str(args.interval_ms)]
        sub = subprocess.Popen(base + ["--child", "subscriber", "--consumer", consumer],
                               stdout=subprocess.PIPE, text=True)
        assert sub.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        subprocess.run(base + ["--child", "producer"], check=True,
                       timeout=args.records * args.interval_ms / 1000 + 120)
        out, _ = sub.communicate(timeout=60)
        lat = json.loads(out.strip().splitlines()[-1])
        print("put->delivered over %d records (%.1f ms apart): p50 %.2f ms  p99 %.2f ms  "
              "max %.2f ms  (%d delivered)" % (args.records, args.interval_ms, pct(lat, 50),
                                               pct(lat, 99), max(lat), len(lat)))
    finally:
        instance_down(INSTANCE, purge=True)


if __name__ == "__main__":
    sys.exit(main())

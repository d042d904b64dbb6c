#!/usr/bin/python3
"""Put-to-delivered latency of SubscribeToShard (enhanced fan-out), p50/p99/max.

One fresh instance, a one-shard stream and an ACTIVE consumer. In the instance's namespace a
subscriber process (HTTP/2, python3-h2, tests/integration/h2client.py) subscribes at LATEST,
and a producer process puts --records PutRecords one at a time over a kept-alive HTTP/1.1
connection, --interval-ms apart, each record's Data carrying its index; the producer notes
CLOCK_MONOTONIC just before each request is written. The subscriber notes CLOCK_MONOTONIC when the event carrying
the record has been read and decoded. The figure includes both clients' Python and the
kernel's side of the tap, on a 2-CPU machine shared with the appliance's busy-polling
workers; AWS documents about 70 ms on average for the same path. Figures, not a test.

    tools/bench/api_fanout.py [--records N] [--interval-ms M] [--set KEY=VALUE ...]

The send time is taken after SigV4 signing, just before the request is written; the same
run prints the PutRecord round trip (put->acked) as the baseline.

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
                i = struct.unpack(">Q", base64.b64decode(r["Data"])[:8])[0]
                lat.append((i, now))
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
    sent, rtt = [], []
    for i in range(args.records):
        body = json.dumps({"StreamName": STREAM, "PartitionKey": "k%d" % i,
                           "Data": base64.b64encode(struct.pack(">Q", i) + b"x" * 92).decode()})
        req = AWSRequest(method="POST", url=ep.url + "/", data=body, headers={
            "Host": ep.host, "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Kinesis_20131202.PutRecord"})
        SigV4Auth(creds, "kinesis", ep.region).add_auth(req)
        t = time.monotonic_ns()  # after signing: the figure is the wire and the appliance
        conn.request("POST", "/", body=body, headers=dict(req.headers.items()))
        r = conn.getresponse()
        r.read()
        acked = time.monotonic_ns()
        assert r.status == 200, r.status
        sent.append(t)
        rtt.append((acked - t) / 1e6)
        time.sleep(args.interval_ms / 1000)
    print(json.dumps({"sent": sent, "rtt": rtt}), flush=True)


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
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--set", action="append", default=[],
                    help="KEY=VALUE for the instance (e.g. ack_mode=memory, idle=spin)")
    args = ap.parse_args()
    if args.child == "subscriber":
        return child_subscriber(args)
    if args.child == "producer":
        return child_producer(args)

    from harness import instance_down, instance_up
    instance_down(INSTANCE, purge=True)
    extra = [a for kv in args.set for a in ("--set", kv)]
    inst = instance_up(INSTANCE, args.workers, "--set", "shard_ring_mb=32", "--set", "mem_mb=1024", *extra)
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
        prod = subprocess.run(base + ["--child", "producer"], check=True, stdout=subprocess.PIPE,
                              text=True, timeout=args.records * args.interval_ms / 1000 + 120)
        p = json.loads(prod.stdout.strip().splitlines()[-1])
        out, _ = sub.communicate(timeout=60)
        got = json.loads(out.strip().splitlines()[-1])
        lat = [(now - p["sent"][i]) / 1e6 for i, now in got]
        print("settings: workers=%d %s" % (args.workers, " ".join(args.set)))
        print("put->acked     (PutRecord answer, the baseline): p50 %.2f ms  p99 %.2f ms  "
              "max %.2f ms" % (pct(p["rtt"], 50), pct(p["rtt"], 99), max(p["rtt"])))
        print("put->delivered over %d records (%.1f ms apart): p50 %.2f ms  p99 %.2f ms  "
              "max %.2f ms  (%d delivered)" % (args.records, args.interval_ms, pct(lat, 50),
                                               pct(lat, 99), max(lat), len(lat)))
        print("delivered/acked p50 ratio: %.2f" % (pct(lat, 50) / pct(p["rtt"], 50)))
        d = inst.status()["dataplane"]["api"]["http"]["subscriptions"]["delivery_us"]
        print("in the appliance, readable->event queued (%d samples): p50 %d us  p90 %d us  "
              "p99 %d us  p99.9 %d us  max %d us" % (d["samples"], d["p50"], d["p90"], d["p99"],
                                                     d["p999"], d["max"]))
    finally:
        instance_down(INSTANCE, purge=True)


if __name__ == "__main__":
    sys.exit(main())

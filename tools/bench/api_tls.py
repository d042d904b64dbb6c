#!/usr/bin/python3
"""PutRecords over TLS (HTTPS, HTTP/1.1 and HTTP/2 by ALPN) against cleartext HTTP/1.1, in one
run, and TLS handshakes per second.

The load is tools/bench/api_h2.py's (h2load, Debian nghttp2-client: one signed PutRecords body
of --records records of --size bytes, replayed over --conns connections for --seconds), run
four times against one instance: cleartext HTTP/1.1 on port 80 (the baseline), then on the TLS
port https HTTP/1.1, h2 with one stream per connection, and h2 with --streams streams. Printed
per row: requests/s, records/s, MB/s of record data, the 2xx share, and the ratio to the
baseline, then the CPU each request cost the dataplane (utime + stime of its process over the
row, /proc) and h2load (the client's, getrusage of children): on a shared machine the rates
move with the other jobs' load, the CPU per request much less. Then handshakes: h2load -n N -c N over https (every client opens its own connection
for one unsigned request, answered 403), i.e. full TLS 1.3 handshakes (ECDSA P-256, X25519)
per second, next to the same over cleartext (connections per second). Figures, not a test.

    tools/bench/api_tls.py [--instance NAME] [--seconds S] [--conns N] [--streams M]
                           [--records R] [--size B] [--handshakes N]

Without --instance it brings its own instance (spb-tls) up and removes it at the end.
"""
import argparse
import base64
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "tools" / "bench"))
from api_h2 import Endpoint, h2load  # noqa: E402
from h2client import signed_headers  # noqa: E402
from harness import attach, instance_down, instance_up  # noqa: E402

INSTANCE = "spb-tls"


def new_connections(inst, url, n, h1):
    """h2load -n n -c n: each client one request on a connection of its own; conns/s."""
    cmd = ["ip", "netns", "exec", inst.netns, "h2load", "-n", str(n), "-c", str(n)]
    cmd += ["--h1"] if h1 else []
    p = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=300)
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", p.stdout)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done", p.stdout)
    if p.returncode != 0 or m is None or done is None:
        sys.exit("h2load failed:\n%s\n%s" % (p.stdout, p.stderr))
    return float(m.group(3)), int(done.group(1))


def cpu_s(pid):
    """(the dataplane's CPU seconds, our children's CPU seconds) so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
            ch.ru_utime + ch.ru_stime)


def pkts(inst):
    """(packets received, packets sent) by the dataplane so far."""
    c = inst.rpc("status")["dataplane"]["counters"]
    return c["rx_pkts"], c["tx_pkts"]


def stream_ready(inst, name):
    inst.rpc("kinesis", {"op": "CreateStream", "body": {"StreamName": name, "ShardCount": 8}})
    deadline = time.time() + 30
    while time.time() < deadline:
        st = inst.rpc("kinesis", {"op": "DescribeStreamSummary", "body": {"StreamName": name}})
        if "ACTIVE" in json.dumps(st):
            break
        time.sleep(0.3)
    inst.rpc("stream_quota_set", {"stream": name, "records_per_s": 0, "bytes_per_s": 0})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instance", default=None, help="an instance that is up (kept)")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--records", type=int, default=100)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--handshakes", type=int, default=1000)
    args = ap.parse_args()

    if args.instance:
        inst = attach(args.instance)
    else:
        instance_down(INSTANCE, purge=True)
        inst = instance_up(INSTANCE, 2, "--set", "test_services=true", "--set",
                           "shard_ring_mb=64", "--set", "mem_mb=2048")
    body_path = "/tmp/spate-bench-tls-%d.json" % args.records
    name = "bench-tls-%d" % int(time.time())
    plain, tls = "http://%s/" % inst.ipv4, "https://%s/" % inst.ipv4
    try:
        ep = Endpoint(inst)
        stream_ready(inst, name)
        body = json.dumps({"StreamName": name, "Records": [
            {"PartitionKey": "k%d" % i, "Data": base64.b64encode(b"x" * args.size).decode()}
            for i in range(args.records)]})
        with open(body_path, "w") as f:
            f.write(body)
        hdrs = [(k, v) for k, v in signed_headers(ep, "PutRecords", body)
                if not k.startswith(":") and k != "content-length"]
        base = None
        for row, url, h1, m in (("http/1.1", plain, True, 1), ("tls h1", tls, True, 1),
                                ("tls h2 x1", tls, False, 1),
                                ("tls h2 x%d" % args.streams, tls, False, args.streams)):
            p0, dp0, cl0 = pkts(inst), *cpu_s(inst.dataplane_pid)
            rps, ok, done = h2load(inst, args, body_path, hdrs, h1, m, url=url)
            p1, dp1, cl1 = pkts(inst), *cpu_s(inst.dataplane_pid)
            base = base or rps
            n = max(done, 1)
            print("%-10s %6.0f req/s %8.0f records/s %5.1f MB/s  2xx %d/%d  %.2f  "
                  "per req: dataplane %4.0f us, h2load %3.0f us, pkts in %4.1f out %4.1f" % (
                      row, rps, rps * args.records, rps * args.records * args.size / 1e6, ok,
                      done, rps / base, (dp1 - dp0) * 1e6 / n, (cl1 - cl0) * 1e6 / n,
                      (p1[0] - p0[0]) / n, (p1[1] - p0[1]) / n))
        print("(%d conns, %d records of %d B, %d s each; ratio: to cleartext http/1.1; "
              "per req: CPU of the dataplane process incl. idle polling and of h2load, packets)" % (
                  args.conns, args.records, args.size, args.seconds))
        c_rate, c_done = new_connections(inst, plain, args.handshakes, True)
        t_rate, t_done = new_connections(inst, tls, args.handshakes, True)
        print("new connections, one request each: cleartext %.0f/s (%d), TLS 1.3 full "
              "handshakes %.0f/s (%d); ratio %.2f" % (c_rate, c_done, t_rate, t_done,
                                                      t_rate / c_rate))
    finally:
        if args.instance:
            inst.rpc("kinesis", {"op": "DeleteStream", "body": {"StreamName": name}})
        else:
            instance_down(INSTANCE, purge=True)
        Path(body_path).unlink(missing_ok=True)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""GetRecords answered per second, with the answer copied into mbufs and by reference.

One shard holds --records records of --size bytes (default 10,000 x 1 KiB); one signed
GetRecords (TRIM_HORIZON iterator, Limit = --records) is replayed by h2load over --conns
connections for --seconds, over HTTP/1.1 and over h2 (one stream per connection). Printed per
setting and protocol: answers/s, MB/s answered (h2load's received bytes), and how many answer
bytes went by reference and copied (api.http.tx_body_ref_bytes / tx_body_copied_bytes), and the
dataplane's CPU time per GB answered (/proc, user and system apart: less sensitive than MB/s
to other load on a shared machine; system time includes the kernel's side of the tap, where
the client's TCP receives, so the copy this switch removes shows in user time). The answer is first read once with boto3 and checked byte for byte.

    tools/bench/api_get.py [--seconds S] [--conns N] [--records R] [--size B]
                           [--instance NAME]

Without --instance: two fresh instances one after the other (never two at once), the first
with api_tx_zero_copy=true, the second with false, then the ratio. With --instance: that one
instance as it is configured. Figures, not a test. Removes its instances at the end.
"""
import argparse
import json
import os
import re
import subprocess
import time
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from h2client import signed_headers  # noqa: E402
from harness import attach, instance_down, instance_up  # noqa: E402
from kinesis_env import Env, read_credentials, wait_active  # noqa: E402

INSTANCE = "spb-get"


def h2load(inst, args, body_path, hdrs, h1):
    """One h2load run: (answers/s, bytes received/s, 2xx, done)."""
    cmd = ["ip", "netns", "exec", inst.netns, "h2load", "-D", str(args.seconds),
           "-c", str(args.conns), "-d", body_path]
    cmd += ["--h1"] if h1 else ["-m", "1"]
    for k, v in hdrs:
        cmd += ["-H", "%s: %s" % (k, v)]
    p = subprocess.run(cmd + ["http://%s/" % inst.ipv4], capture_output=True, text=True,
                       timeout=args.seconds + 120)
    out = p.stdout
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", out)
    traffic = re.search(r"traffic: \S+ \((\d+)\) total", out)
    codes = re.search(r"status codes: (\d+) 2xx", out)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done", out)
    if p.returncode != 0 or None in (m, traffic, codes, done):
        sys.exit("h2load failed:\n%s\n%s" % (out, p.stderr))
    secs = float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
    return float(m.group(3)), int(traffic.group(1)) / secs, int(codes.group(1)), \
        int(done.group(1))


def cpu_s(inst):
    """CPU time the dataplane process has used, in seconds: (user, system)."""
    f = Path("/proc/%d/stat" % int(inst.dataplane_pid)).read_text()
    fields = f[f.rindex(")") + 2:].split()
    hz = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / hz, int(fields[12]) / hz


def tx(inst):
    h = inst.rpc("status")["dataplane"]["api"]["http"]
    return h["tx_zero_copy"], h["tx_body_ref_bytes"], h["tx_body_copied_bytes"], cpu_s(inst)


def load(inst, args):
    """The stream, its records (checked once through boto3) and the GetRecords body."""
    key, secret = read_credentials(Path(inst.data_dir) / "credentials")
    env = Env("spate", "http://%s:80" % inst.ipv4, key, secret, netns=inst.netns,
              instance=inst)
    c = env.client(retries=True)
    name = "bench-get-%d-%d" % (os.getpid(), int(time.time()))
    c.create_stream(StreamName=name, ShardCount=1)
    wait_active(c, name)
    inst.rpc("stream_quota_set", {"stream": name, "records_per_s": 0, "bytes_per_s": 0})
    want = []
    for b in range(0, args.records, 500):
        recs = [{"PartitionKey": "k%d" % i, "Data": os.urandom(args.size)}
                for i in range(b, min(b + 500, args.records))]
        r = c.put_records(StreamName=name, Records=recs)
        assert r["FailedRecordCount"] == 0
        want += [x["Data"] for x in recs]
    it = c.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = c.get_records(ShardIterator=it, Limit=args.records)["Records"]
    assert [g["Data"] for g in got] == want, "GetRecords answer differs"
    return env, json.dumps({"ShardIterator": it, "Limit": args.records})


def measure(inst, args):
    env, body = load(inst, args)
    body_path = "/tmp/spate-bench-get-%d.json" % os.getpid()
    Path(body_path).write_text(body)
    hdrs = [(k, v) for k, v in signed_headers(env, "GetRecords", body)
            if not k.startswith(":") and k != "content-length"]
    out = {}
    try:
        for proto, h1 in (("http/1.1", True), ("h2", False)):
            zc, ref0, cp0, cpu0 = tx(inst)
            rps, bps, ok, done = h2load(inst, args, body_path, hdrs, h1)
            _, ref1, cp1, cpu1 = tx(inst)
            sent = max(ref1 - ref0 + cp1 - cp0, 1)
            out[proto] = bps
            print("zero_copy=%-5s %-8s %7.1f answers/s %8.1f MB/s answered  2xx %d/%d  "
                  "by reference %d MB, copied %d MB; dataplane CPU s/GB: user %.2f, system %.2f" % (
                      zc, proto, rps, bps / 1e6, ok, done, (ref1 - ref0) // 10**6,
                      (cp1 - cp0) // 10**6, (cpu1[0] - cpu0[0]) * 1e9 / sent,
                      (cpu1[1] - cpu0[1]) * 1e9 / sent))
    finally:
        Path(body_path).unlink(missing_ok=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--records", type=int, default=10000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--instance", default=None)
    args = ap.parse_args()

    if args.instance:
        measure(attach(args.instance), args)
        return
    rows = {}
    for setting in ("true", "false"):
        instance_down(INSTANCE, purge=True)
        inst = instance_up(INSTANCE, 2, "--set", "shard_ring_mb=64", "--set", "mem_mb=1024",
                           "--set", "api_tx_zero_copy=%s" % setting)
        try:
            rows[setting] = measure(inst, args)
        finally:
            instance_down(INSTANCE, purge=True)
    for proto in ("http/1.1", "h2"):
        print("%s: by reference / copied = %.2f (%d x %d B records per answer, %d conns, "
              "%d s)" % (proto, rows["true"][proto] / rows["false"][proto], args.records,
                         args.size, args.conns, args.seconds))


if __name__ == "__main__":
    main()

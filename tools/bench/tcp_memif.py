#!/usr/bin/python3
"""TCP benchmark between two Spate dataplanes over net_memif (issue 4's stack benchmark).

Brings up two instances with tools/spate-dev: a server with the test services (echo on 7,
sink on 9) and a client whose load generator (dataplane/app/loadgen.h) runs on the same TCP
stack, joined by a memif link (the server in memif's server role). For each mode it samples
both dataplanes' counters over a measured window after a warm-up and prints, per worker core:

  crr   connections per second: connect, 64-byte request, 64-byte echo, reset, again
  rr    transactions per second: 64-byte request/response on standing connections
  bulk  Gb/s of payload the sink acknowledged

with the server's accepts, retransmissions and the client's errors beside them. These are
figures, not a test: nothing here fails on a rate. On this 2-CPU machine both dataplanes and
everything else share the CPUs, so per-core figures are far below a dedicated core's.

    tools/bench/tcp_memif.py [--seconds S] [--conns N] [--workers W] [--modes crr,rr,bulk]

Bounded: each mode takes about warm-up + S seconds plus two instance starts; instances are
removed at the end (and on Ctrl-C). SPATE_BUILD_DIR as for tools/spate-dev.
"""
import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from harness import instance_down, instance_up  # noqa: E402

SERVER = "spb-srv"
CLIENT = "spb-cli"
SOCK = "/run/spate/spb-memif.sock"
NET = "198.19.252"
COMMON = ["--set", "mem_mb=1024", "--set", "shard_ring_mb=16"]


def workers_sum(dp, name):
    return sum(w["counters"][name] for w in dp["workers"])


def sample(inst):
    dp = inst.dataplane()
    return time.monotonic(), dp


def delta(a, b, name):
    return workers_sum(b[1], name) - workers_sum(a[1], name)


def run_mode(mode, args, server):
    client = instance_up(CLIENT, args.workers, *COMMON,
                         "--set", "port1=net_memif0,role=client,socket=%s,socket-abstract=no" % SOCK,
                         "--set", "port1_ipv4=%s.1/24" % NET, "--set", "api=false",
                         "--set", "loadgen_target=%s.2" % NET, "--set", "loadgen_mode=%s" % mode,
                         "--set", "loadgen_conns=%d" % args.conns)
    try:
        # every connection up first (a SYN sent before the memif link came up is resent 1 s
        # later), then the warm-up
        want = args.conns * args.workers
        deadline = time.monotonic() + 30
        while workers_sum(client.dataplane(), "lg_connects") < want and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(args.warmup)
        c0, s0 = sample(client), sample(server)
        time.sleep(args.seconds)
        c1, s1 = sample(client), sample(server)
        secs = c1[0] - c0[0]
        per_core = lambda v: v / secs / args.workers  # noqa: E731
        row = {
            "mode": mode,
            "seconds": round(secs, 1),
            "client_connects": delta(c0, c1, "lg_connects"),
            "client_errors": delta(c0, c1, "lg_errors"),
            "client_connect_fails": delta(c0, c1, "lg_connect_fails"),
            "server_accepts": delta(s0, s1, "tcp_accepts"),
            "server_retrans": delta(s0, s1, "tcp_retrans_segs"),
            "client_retrans": delta(c0, c1, "tcp_retrans_segs"),
        }
        if mode == "crr":
            row["conns_per_s_per_core"] = round(per_core(delta(c0, c1, "lg_transactions")))
        elif mode == "rr":
            row["trans_per_s_per_core"] = round(per_core(delta(c0, c1, "lg_transactions")))
        else:
            row["gbit_per_s_per_core"] = round(per_core(delta(c0, c1, "lg_bytes_out")) * 8 / 1e9, 3)
        return row
    finally:
        instance_down(CLIENT, purge=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="measured window per mode")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--conns", type=int, default=16, help="load-generator connections per worker")
    ap.add_argument("--workers", type=int, default=1, help="workers of each dataplane")
    ap.add_argument("--modes", default="crr,rr,bulk")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("tcp_memif: needs root (namespaces, hugepages)")
    instance_down(CLIENT, purge=True)
    instance_down(SERVER, purge=True)
    server = instance_up(SERVER, args.workers, *COMMON,
                         "--set", "port1=net_memif0,role=server,socket=%s,socket-abstract=no" % SOCK,
                         "--set", "port1_ipv4=%s.2/24" % NET, "--set", "test_services=true")
    rows = []
    try:
        for mode in args.modes.split(","):
            rows.append(run_mode(mode, args, server))
            print("tcp-memif: " + " ".join("%s=%s" % kv for kv in rows[-1].items()), flush=True)
    finally:
        instance_down(SERVER, purge=True)
        try:
            os.unlink(SOCK)
        except FileNotFoundError:
            pass


if __name__ == "__main__":
    main()

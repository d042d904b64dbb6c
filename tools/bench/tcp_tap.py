#!/usr/bin/python3
"""Spate's TCP stack over net_tap beside the kernel's own TCP over a veth pair, in one run.

The same kernel client (tools/bench/bench_ktcp, one thread, epoll) drives, for each mode,
  spate   Spate's test services (echo 7, sink 9) through the instance's tap, and
  kernel  bench_ktcp's own echo and sink in a second namespace, across a veth pair,
and the line printed per mode gives both rates and spate/kernel. Modes as the load generator's
(crr connections/s, rr 64-byte transactions/s, bulk Gb/s). The kernel client and the tap's
copies bound the Spate side on this machine (2 CPUs, shared), so the ratio says how close the
appliance gets to the kernel doing the same work end to end here, not the stack's own ceiling
(tools/bench/tcp_memif.py measures that, Spate to Spate). Figures, not a test.

    tools/bench/tcp_tap.py [--seconds S] [--conns N] [--modes crr,rr,bulk]

Bounded; removes its instance and namespaces at the end (and on Ctrl-C).
"""
import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from harness import build_dir, instance_down, instance_up  # noqa: E402

INSTANCE = "spb-tap"
NS_C, NS_S = "spb-kc", "spb-ks"
NET = "198.19.254"


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)


def veth_down():
    for ns in (NS_C, NS_S):
        sh("ip", "netns", "del", ns, check=False)


def veth_up():
    veth_down()
    sh("ip", "netns", "add", NS_C)
    sh("ip", "netns", "add", NS_S)
    sh("ip", "link", "add", "spbk0", "netns", NS_C, "type", "veth", "peer", "name", "spbk1",
       "netns", NS_S)
    for ns, dev, addr in ((NS_C, "spbk0", NET + ".1/24"), (NS_S, "spbk1", NET + ".2/24")):
        sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")


def client(ns, mode, addr, conns, seconds):
    p = subprocess.run(["ip", "netns", "exec", ns, str(build_dir() / "tools" / "bench_ktcp"),
                        mode, addr, str(conns), str(seconds)],
                       capture_output=True, text=True, timeout=seconds + 60)
    if p.returncode != 0:
        raise RuntimeError("bench_ktcp %s against %s: %s" % (mode, addr, p.stderr.strip()))
    kv = dict(re.findall(r"(\w+)=(\S+)", p.stdout))
    secs = float(kv["seconds"])
    if mode == "bulk":
        return float(kv["bytes"]) * 8 / secs / 1e9
    return float(kv["transactions"]) / secs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--modes", default="crr,rr,bulk")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("tcp_tap: needs root (namespaces, hugepages)")
    instance_down(INSTANCE, purge=True)
    inst = instance_up(INSTANCE, 1, "--set", "mem_mb=1024", "--set", "shard_ring_mb=16",
                       "--set", "test_services=true")
    server = None
    try:
        veth_up()
        server = subprocess.Popen(["ip", "netns", "exec", NS_S,
                                   str(build_dir() / "tools" / "bench_ktcp"), "server",
                                   NET + ".2"])
        time.sleep(0.5)
        for mode in args.modes.split(","):
            spate = client(inst.netns, mode, inst.info["ipv4"], args.conns, args.seconds)
            kernel = client(NS_C, mode, NET + ".2", args.conns, args.seconds)
            unit = "gbit_per_s" if mode == "bulk" else ("conns_per_s" if mode == "crr"
                                                        else "trans_per_s")
            print("tcp-tap: mode=%s unit=%s spate=%.3f kernel=%.3f ratio=%.2f" % (
                mode, unit, spate, kernel, spate / kernel if kernel else 0.0), flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        veth_down()
        instance_down(INSTANCE, purge=True)


if __name__ == "__main__":
    main()

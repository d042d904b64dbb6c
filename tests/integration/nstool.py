#!/usr/bin/python3
"""Traffic helper run inside an instance's network namespace (through `spate-dev exec`).

  nstool.py raw IFACE          send frames read from stdin as JSON:
                               [{"hex": "...", "count": N}, ...] and optional "max_seconds"
                               per entry (a bound for storms); prints {"sent": [n, ...]}
  nstool.py udp DST PORT FLOWS [PKTS]
                               send PKTS (default 2) datagrams from each of FLOWS distinct
                               source ports; prints {"sent": n}
  nstool.py sniff IFACE SECONDS
                               print the frames seen on IFACE as JSON hex (self-tests only)
"""
import json
import socket
import sys
import time

ETH_P_ALL = 0x0003


def cmd_raw(iface):
    spec = json.load(sys.stdin)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((iface, 0))
    sent = []
    for entry in spec:
        frame = bytes.fromhex(entry["hex"])
        count = int(entry.get("count", 1))
        deadline = time.monotonic() + float(entry.get("max_seconds", 30))
        n = 0
        while n < count:
            try:
                s.send(frame)
                n += 1
            except OSError:
                # ENOBUFS when the tap's queue is full during a storm: back off briefly
                time.sleep(0.0005)
            if n % 256 == 0 and time.monotonic() > deadline:
                break
        sent.append(n)
    print(json.dumps({"sent": sent}))


def cmd_udp(dst, port, flows, pkts=2):
    sent = 0
    socks = []
    for _ in range(flows):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("0.0.0.0", 0))  # a distinct ephemeral source port per socket
        socks.append(u)
    for rnd in range(pkts):
        for u in socks:
            try:
                u.sendto(b"spate-flow-%d" % rnd, (dst, port))
                sent += 1
            except OSError:
                time.sleep(0.001)
        time.sleep(0.05)
    for u in socks:
        u.close()
    print(json.dumps({"sent": sent}))


def cmd_sniff(iface, seconds):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    s.settimeout(0.1)
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            out.append(s.recv(65535).hex())
        except socket.timeout:
            pass
    print(json.dumps(out))


def main(argv):
    if len(argv) >= 2 and argv[0] == "raw":
        cmd_raw(argv[1])
    elif len(argv) >= 4 and argv[0] == "udp":
        cmd_udp(argv[1], int(argv[2]), int(argv[3]), int(argv[4]) if len(argv) > 4 else 2)
    elif len(argv) == 3 and argv[0] == "sniff":
        cmd_sniff(argv[1], float(argv[2]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

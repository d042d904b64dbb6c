#!/usr/bin/python3
"""Kernel-side peer for the ARP cache tests, run inside the namespace (spate-dev exec).

    arp_peer.py echo-watch HOST IFACE SECONDS
        One TCP connection to the echo service (port 7) of HOST: 64 bytes out and back every
        100 ms for SECONDS, while an AF_PACKET socket on IFACE records every ARP frame seen
        (both directions). Prints one JSON line: {"ok", "rounds", "errors", "arp": [...]}
        with each ARP frame as {"t", "op", "src", "dst", "sha", "sip", "tip"}.

Bounded: socket timeouts and the SECONDS deadline.
"""
import json
import os
import socket
import sys
import threading
import time

ETH_P_ALL = 0x0003  # outgoing frames reach ETH_P_ALL taps only
ECHO = 7


def mac(b):
    return ":".join("%02x" % x for x in b)


def sniff(iface, stop, frames, t0):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    s.settimeout(0.2)
    while not stop.is_set():
        try:
            f = s.recv(2048)
        except socket.timeout:
            continue
        if len(f) < 42 or f[12:14] != b"\x08\x06":
            continue
        frames.append({"t": round(time.monotonic() - t0, 3),
                       "op": int.from_bytes(f[20:22], "big"),
                       "dst": mac(f[0:6]), "src": mac(f[6:12]), "sha": mac(f[22:28]),
                       "sip": socket.inet_ntoa(f[28:32]), "tip": socket.inet_ntoa(f[38:42])})
    s.close()


def echo_watch(host, iface, seconds):
    frames, stop, t0 = [], threading.Event(), time.monotonic()
    th = threading.Thread(target=sniff, args=(iface, stop, frames, t0), daemon=True)
    th.start()
    time.sleep(0.3)  # the sniffer is up before the first frame we cause
    rounds = errors = 0
    try:
        c = socket.create_connection((host, ECHO), timeout=10)
        while time.monotonic() - t0 < seconds:
            msg = os.urandom(64)
            c.sendall(msg)
            got = b""
            while len(got) < len(msg):
                chunk = c.recv(len(msg) - len(got))
                if not chunk:
                    raise ConnectionError("echo closed")
                got += chunk
            rounds += 1
            errors += got != msg
            time.sleep(0.1)
        c.close()
        ok = errors == 0
    except OSError as e:
        ok = False
        frames.append({"error": str(e)})
    stop.set()
    th.join(2)
    print(json.dumps({"ok": ok, "rounds": rounds, "errors": errors, "arp": frames}), flush=True)


def main(argv):
    if len(argv) == 4 and argv[0] == "echo-watch":
        echo_watch(argv[1], argv[2], float(argv[3]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/python3
"""A scripted TCP peer for edge-case tests, run inside an instance's network namespace.

    tcp_peer.py        reads JSON commands from stdin, one per line, and answers each with one
                       JSON line on stdout (flushed), so a test can drive it interactively or
                       feed a whole script at once.

The peer speaks TCP itself over an AF_PACKET raw socket on the kernel side of the tap: it uses
an address the kernel does not own (so the kernel neither answers nor resets anything for it)
and its own locally administered MAC; the dataplane answers to the Ethernet source of our SYN.

First line: the configuration
    {"iface", "src_mac", "dst_mac", "src_ip", "dst_ip", "sport", "dport",
     "isn", "mss", "wscale" (null: no option), "sack": bool, "ts": bool, "win": window field}

Commands ({"op": ...}); sequence numbers are absolute unless a *_off field is used:
  connect   {timeout, complete=true, win_syn, tsval}   SYN with the configured options (tsval:
            this TSval in the SYN instead of the clock's), wait for the
            SYN-ACK, then (complete) ACK it. -> {"ok", "synack": SEG, "sent": [SEG...],
            "others": [SEG...] (segments other than a SYN-ACK seen while waiting)}
  send      {flags="A", seq | seq_off (from snd_nxt), ack | ack_off (from rcv_nxt), win,
             data (hex) | text | data_len, ts=true | false, tsval | tsval_off, tsecr,
             sack=[[l, r], ...], advance (default: true when seq is not given)}
            -> {"sent": {seq, ack, flags, win, len, mono, tsval, tsecr}}
  recv      {timeout, segs, bytes, fin, rst, data_segs, autoack=false, accept=true}
            collect the dataplane's segments until a condition holds or timeout seconds pass:
            segs (that many segments), bytes (that many in-order payload bytes received since
            the connection began), fin (the FIN accepted), rst (a RST seen), data_segs (that
            many segments with payload). Without a condition it listens for the whole timeout.
            accept: take in-window data into the receive stream (rcv_nxt moves);
            autoack: answer data/FIN with an ACK carrying rcv_nxt and the current window.
            brief: leave "data" out of the returned segments (bulk transfers).
            -> {"segs": [SEG...], "met": bool, "rx_total", "rcv_nxt", "snd_nxt"}
  set       {win, ...}   change state fields (win, snd_nxt, rcv_nxt, tsval_base)
  state     -> the peer's state, including "rx" (hex of the in-order received stream)

SEG: {"t" (seconds since the op began), "mono" (CLOCK_MONOTONIC when read), "seq", "ack",
      "flags" ("SAFRP" letters), "win", "len", "data" (hex), "csum_ok",
      "opts": {"mss", "ws", "sack_perm", "ts": [val, ecr], "sack": [[l, r], ...]},
      "rseq" (seq - dataplane ISS), "rack" (ack - our ISN)}
"""
import json
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
PACKET_OUTGOING = 4
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
FLAG_LETTERS = (("S", SYN), ("A", ACK), ("F", FIN), ("R", RST), ("P", PSH))
M32 = 0xFFFFFFFF


def mac_b(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def ip_b(ip):
    return bytes(int(x) for x in ip.split("."))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def seq_lt(a, b):
    return ((a - b) & M32) > 0x7FFFFFFF


def seq_leq(a, b):
    return a == b or seq_lt(a, b)


def flags_str(f):
    return "".join(c for c, b in FLAG_LETTERS if f & b)


def flags_val(s):
    v = 0
    for c in s:
        v |= dict(FLAG_LETTERS)[c]
    return v


def parse_opts(b):
    o = {}
    i = 0
    while i < len(b):
        kind = b[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(b):
            o["malformed"] = True
            break
        ln = b[i + 1]
        if ln < 2 or i + ln > len(b):
            o["malformed"] = True
            break
        body = b[i + 2:i + ln]
        if kind == 2 and ln == 4:
            o["mss"] = struct.unpack("!H", body)[0]
        elif kind == 3 and ln == 3:
            o["ws"] = body[0]
        elif kind == 4 and ln == 2:
            o["sack_perm"] = True
        elif kind == 8 and ln == 10:
            o["ts"] = list(struct.unpack("!II", body))
        elif kind == 5 and (ln - 2) % 8 == 0:
            o["sack"] = [list(struct.unpack("!II", body[k:k + 8])) for k in range(0, ln - 2, 8)]
        else:
            o.setdefault("other", []).append(kind)
        i += ln
    return o


class Peer:
    def __init__(self, cfg):
        self.cfg = cfg
        self.src_mac, self.dst_mac = cfg["src_mac"], cfg["dst_mac"]
        self.src_ip, self.dst_ip = cfg["src_ip"], cfg["dst_ip"]
        self.sport, self.dport = int(cfg["sport"]), int(cfg["dport"])
        self.isn = int(cfg.get("isn", 1000)) & M32
        self.mss = cfg.get("mss", 1460)
        self.wscale = cfg.get("wscale", 7)
        self.sack = bool(cfg.get("sack", True))
        self.ts = bool(cfg.get("ts", True))
        self.win = int(cfg.get("win", 65535))
        self.snd_nxt = self.isn
        self.rcv_nxt = None
        self.irs = None          # the dataplane's ISS
        self.peer_ws = 0         # the dataplane's window shift
        self.ts_recent = 0       # last TSval from the dataplane
        self.ts_ok = False
        self.sack_ok = False
        self.tsval_base = int(cfg.get("tsval_base", 100000))
        self.t0 = time.monotonic()
        self.ooo = {}            # seq -> bytes beyond rcv_nxt
        self.rx = bytearray()    # in-order stream received
        self.fin_rcvd = False
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.s.bind((cfg["iface"], ETH_P_ALL))

    # -- helpers -------------------------------------------------------------------------
    def tsval_now(self):
        return (self.tsval_base + int((time.monotonic() - self.t0) * 1000)) & M32

    def rcv_wnd_bytes(self):
        """Our receive window in bytes (the window field scaled by our shift, if agreed)."""
        return self.win << (self.wscale or 0)

    def frame(self, seq, ack, flags, win, opts=b"", data=b""):
        opts = opts + b"\x00" * (-len(opts) % 4)
        hdr = struct.pack("!HHIIBBHHH", self.sport, self.dport, seq & M32, ack & M32,
                          ((20 + len(opts)) // 4) << 4, flags, win & 0xFFFF, 0, 0) + opts
        pseudo = ip_b(self.src_ip) + ip_b(self.dst_ip) + struct.pack(
            "!BBH", 0, 6, len(hdr) + len(data))
        c = csum(pseudo + hdr + data)
        seg = hdr[:16] + struct.pack("!H", c) + hdr[18:] + data
        iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 0x4242, 0x4000, 64, 6, 0,
                          ip_b(self.src_ip), ip_b(self.dst_ip))
        iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
        return mac_b(self.dst_mac) + mac_b(self.src_mac) + struct.pack("!H", ETH_P_IP) + iph + seg

    def xmit(self, seq, ack, flags, win, opts=b"", data=b""):
        f = self.frame(seq, ack, flags, win, opts, data)
        for _ in range(200):
            try:
                self.s.send(f)
                break
            except OSError:
                time.sleep(0.001)
        out = {"seq": seq & M32, "ack": ack & M32, "flags": flags_str(flags), "win": win,
               "len": len(data), "mono": time.monotonic()}
        o = parse_opts(opts)
        if "ts" in o:
            out["tsval"], out["tsecr"] = o["ts"]
        return out

    def ts_opt(self, tsval=None, tsecr=None):
        v = self.tsval_now() if tsval is None else tsval
        e = self.ts_recent if tsecr is None else tsecr
        return b"\x01\x01\x08\x0a" + struct.pack("!II", v & M32, e & M32)

    # -- receive -------------------------------------------------------------------------
    def read_seg(self, deadline):
        """Next segment from the dataplane for our connection, or None at the deadline."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                return None
            pkt, addr = self.s.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING or len(pkt) < 14:
                continue
            et = struct.unpack("!H", pkt[12:14])[0]
            if et == ETH_P_ARP:
                self.maybe_arp(pkt)
                continue
            if et != ETH_P_IP or len(pkt) < 34:
                continue
            ip = pkt[14:]
            ihl = (ip[0] & 0xF) * 4
            tot = struct.unpack("!H", ip[2:4])[0]
            if ip[9] != 6 or ip[12:16] != ip_b(self.dst_ip) or ip[16:20] != ip_b(self.src_ip):
                continue
            tcp = ip[ihl:tot]
            if len(tcp) < 20:
                continue
            sp, dp, seq, ack, off, fl, win = struct.unpack("!HHIIBBH", tcp[:16])
            if sp != self.dport or dp != self.sport:
                continue
            doff = (off >> 4) * 4
            data = bytes(tcp[doff:])
            pseudo = ip_b(self.dst_ip) + ip_b(self.src_ip) + struct.pack("!BBH", 0, 6, len(tcp))
            seg = {"t": None, "seq": seq, "ack": ack, "flags": flags_str(fl), "win": win,
                   "len": len(data), "data": data.hex(), "opts": parse_opts(tcp[20:doff]),
                   "csum_ok": csum(pseudo + bytes(tcp)) == 0, "_fl": fl, "_data": data}
            return seg

    def maybe_arp(self, pkt):
        a = pkt[14:42]
        if len(a) < 28 or struct.unpack("!H", a[6:8])[0] != 1 or a[24:28] != ip_b(self.src_ip):
            return
        rep = (mac_b(pkt[6:12].hex(":")) + mac_b(self.src_mac) + struct.pack("!H", ETH_P_ARP)
               + struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, 2) + mac_b(self.src_mac)
               + ip_b(self.src_ip) + a[8:14] + a[14:18])
        self.s.send(rep)

    def annotate(self, seg, t0):
        seg["mono"] = time.monotonic()
        seg["t"] = round(seg["mono"] - t0, 4)
        if self.irs is not None:
            seg["rseq"] = (seg["seq"] - self.irs) & M32
        seg["rack"] = (seg["ack"] - self.isn) & M32
        return seg

    def take(self, seg, accept):
        """Receive-side processing of a synchronized segment. Returns True if it carried data
        or a FIN (something to acknowledge)."""
        fl = seg["_fl"]
        if "ts" in seg["opts"]:
            self.ts_recent = seg["opts"]["ts"][0]
        if fl & RST or self.rcv_nxt is None:
            return False
        data = seg["_data"]
        if not data and not fl & FIN:
            return False
        if not accept:
            return True
        wnd = self.rcv_wnd_bytes()
        seq = seg["seq"]
        # trim to [rcv_nxt, rcv_nxt + wnd)
        if seq_lt(seq, self.rcv_nxt):
            cut = (self.rcv_nxt - seq) & M32
            data = data[cut:] if cut < len(data) else b""
            seq = self.rcv_nxt
        room = (self.rcv_nxt + wnd - seq) & M32 if seq_leq(seq, (self.rcv_nxt + wnd) & M32) else 0
        fin = bool(fl & FIN) and len(data) <= room
        data = data[:room]
        if data:
            self.ooo.setdefault(seq, data)
        while True:
            progressed = False
            for s in list(self.ooo):
                d = self.ooo[s]
                end = (s + len(d)) & M32
                if seq_leq(s, self.rcv_nxt) and seq_lt(self.rcv_nxt, end):
                    off = (self.rcv_nxt - s) & M32
                    self.rx += d[off:]
                    self.rcv_nxt = end
                    del self.ooo[s]
                    progressed = True
                elif seq_leq(end, self.rcv_nxt):
                    del self.ooo[s]
            if not progressed:
                break
        if fin and ((seg["seq"] + seg["len"]) & M32) == self.rcv_nxt and not self.fin_rcvd:
            self.rcv_nxt = (self.rcv_nxt + 1) & M32
            self.fin_rcvd = True
        return True

    def send_ack(self):
        opts = self.ts_opt() if self.ts_ok else b""
        return self.xmit(self.snd_nxt, self.rcv_nxt, ACK, self.win, opts)

    # -- commands ------------------------------------------------------------------------
    def op_connect(self, c):
        t0 = time.monotonic()
        opts = b""
        if self.mss is not None:
            opts += struct.pack("!BBH", 2, 4, self.mss)
        if self.sack:
            opts += b"\x04\x02"
        if self.ts:
            tsval = self.tsval_now() if c.get("tsval") is None else int(c["tsval"]) & M32
            opts += b"\x08\x0a" + struct.pack("!II", tsval, 0)
        if self.wscale is not None:
            opts += b"\x01\x03\x03" + bytes([self.wscale])
        sent = [self.xmit(self.isn, 0, SYN, int(c.get("win_syn", 65535)), opts)]
        self.snd_nxt = (self.isn + 1) & M32
        deadline = t0 + float(c.get("timeout", 3))
        synack = None
        others = []
        while synack is None:
            seg = self.read_seg(deadline)
            if seg is None:
                return {"ok": False, "synack": None, "sent": sent, "others": others}
            if seg["_fl"] & (SYN | ACK) == SYN | ACK:
                synack = seg
            else:
                others.append(clean(self.annotate(seg, t0)))
        self.irs = synack["seq"]
        self.rcv_nxt = (self.irs + 1) & M32
        o = synack["opts"]
        self.ts_ok = self.ts and "ts" in o
        self.sack_ok = self.sack and o.get("sack_perm", False)
        if "ts" in o:
            self.ts_recent = o["ts"][0]
        if self.wscale is None or "ws" not in o:
            self.wscale = None
            self.peer_ws = 0
        else:
            self.peer_ws = o["ws"]
        self.annotate(synack, t0)
        if c.get("complete", True):
            sent.append(self.send_ack())
        return {"ok": synack["ack"] == self.snd_nxt, "synack": clean(synack), "sent": sent,
                "others": others}

    def op_send(self, c):
        flags = flags_val(c.get("flags", "A"))
        if "data" in c:
            data = bytes.fromhex(c["data"])
        elif "text" in c:
            data = c["text"].encode()
        elif "data_len" in c:
            n = int(c["data_len"])
            data = bytes((i * 7 + 11) & 0xFF for i in range(n))
        else:
            data = b""
        if "seq" in c:
            seq = int(c["seq"]) & M32
            advance = c.get("advance", False)
        else:
            seq = (self.snd_nxt + int(c.get("seq_off", 0))) & M32
            advance = c.get("advance", "seq_off" not in c)
        if "ack" in c:
            ack = int(c["ack"]) & M32
        else:
            ack = ((self.rcv_nxt or 0) + int(c.get("ack_off", 0))) & M32
        win = int(c.get("win", self.win))
        opts = b""
        if c.get("ts", self.ts_ok):
            tsval = c.get("tsval")
            if tsval is None:
                tsval = self.tsval_now() + int(c.get("tsval_off", 0))
            opts += self.ts_opt(tsval, c.get("tsecr"))
        if c.get("sack"):
            blocks = c["sack"]
            opts += b"\x01\x01\x05" + bytes([2 + 8 * len(blocks)])
            for l, r in blocks:
                opts += struct.pack("!II", l & M32, r & M32)
        sent = self.xmit(seq, ack, flags, win, opts, data)
        if advance:
            self.snd_nxt = (seq + len(data) + (1 if flags & (SYN | FIN) else 0)) & M32
        return {"sent": sent}

    def op_recv(self, c):
        t0 = time.monotonic()
        deadline = t0 + float(c.get("timeout", 2))
        want_segs = c.get("segs")
        want_data_segs = c.get("data_segs")
        want_bytes = c.get("bytes")
        want_fin = c.get("fin", False)
        want_rst = c.get("rst", False)
        autoack = c.get("autoack", False)
        accept = c.get("accept", True)
        base_rx = int(c.get("bytes_base", 0))
        brief = bool(c.get("brief", False))
        segs = []
        acks = []

        def met():
            if want_segs is not None and len(segs) >= want_segs:
                return True
            if want_data_segs is not None and sum(1 for s in segs if s["len"]) >= want_data_segs:
                return True
            if want_bytes is not None and len(self.rx) - base_rx >= want_bytes:
                return True
            if want_fin and self.fin_rcvd:
                return True
            if want_rst and any("R" in s["flags"] for s in segs):
                return True
            return False

        conditional = any(x is not None for x in (want_segs, want_data_segs, want_bytes)) or \
            want_fin or want_rst
        while not (conditional and met()):
            seg = self.read_seg(deadline)
            if seg is None:
                break
            self.annotate(seg, t0)
            if self.take(seg, accept) and autoack:
                acks.append(self.send_ack())
            seg = clean(seg)
            if brief:
                del seg["data"]
            segs.append(seg)
        return {"segs": segs, "met": met() if conditional else True, "acks": acks,
                "rx_total": len(self.rx), "rcv_nxt": self.rcv_nxt, "snd_nxt": self.snd_nxt,
                "fin_rcvd": self.fin_rcvd}

    def op_set(self, c):
        for k in ("win", "snd_nxt", "rcv_nxt", "tsval_base", "ts_recent"):
            if k in c:
                setattr(self, k, int(c[k]))
        return self.op_state(c)

    def op_state(self, c):
        return {"isn": self.isn, "irs": self.irs, "snd_nxt": self.snd_nxt,
                "rcv_nxt": self.rcv_nxt, "win": self.win, "wscale": self.wscale,
                "peer_ws": self.peer_ws, "ts_ok": self.ts_ok, "sack_ok": self.sack_ok,
                "ts_recent": self.ts_recent, "tsval_now": self.tsval_now(),
                "rx_total": len(self.rx), "rx": self.rx.hex() if c.get("rx", True) else None,
                "fin_rcvd": self.fin_rcvd}

    def op_sleep(self, c):
        time.sleep(float(c.get("seconds", 0.1)))
        return {}


def clean(seg):
    return {k: v for k, v in seg.items() if not k.startswith("_")}


def main():
    line = sys.stdin.readline()
    if not line:
        return 2
    peer = Peer(json.loads(line))
    print(json.dumps({"ready": True, "src_mac": peer.src_mac}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        c = json.loads(line)
        op = c.get("op")
        fn = getattr(peer, "op_" + str(op), None)
        if fn is None:
            r = {"error": "unknown op %r" % op}
        else:
            try:
                r = fn(c)
            except Exception as e:  # noqa: BLE001 - reported to the driver
                r = {"error": "%s: %s" % (type(e).__name__, e)}
        r["op"] = op
        print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

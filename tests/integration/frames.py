"""Ethernet/ARP/IPv4/ICMP/UDP frame builders for the integration tests (struct only, no scapy).

Every builder returns bytes and takes keyword overrides for the fields a malformed-input test
wants to break, so each bad frame differs from a good one in exactly one place.
"""
import struct

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_VLAN = 0x8100
ETH_P_IPV6 = 0x86DD
BCAST_MAC = "ff:ff:ff:ff:ff:ff"
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8
ICMP_TIMESTAMP = 13


def mac_bytes(mac):
    b = bytes(int(x, 16) for x in mac.split(":"))
    assert len(b) == 6, mac
    return b


def ip_bytes(ip):
    b = bytes(int(x) for x in ip.split("."))
    assert len(b) == 4, ip
    return b


def csum(data):
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, src, ethertype, payload=b""):
    return mac_bytes(dst) + mac_bytes(src) + struct.pack("!H", ethertype) + payload


def arp(op, sha, spa, tha, tpa, htype=1, ptype=ETH_P_IP, hlen=6, plen=4):
    return (struct.pack("!HHBBH", htype, ptype, hlen, plen, op) + mac_bytes(sha) + ip_bytes(spa)
            + mac_bytes(tha) + ip_bytes(tpa))


def ipv4(src, dst, proto, payload, *, version=4, ihl=5, options=b"", tot_len=None, ident=0x1234,
         flags_frag=0, ttl=64, checksum=None):
    """An IPv4 packet. ihl is the header-length field as sent; options are appended after the
    20 fixed bytes (the caller keeps ihl consistent with them unless it wants it not to be)."""
    hdr_len = 20 + len(options)
    if tot_len is None:
        tot_len = hdr_len + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | (ihl & 0xF), 0, tot_len & 0xFFFF, ident,
                      flags_frag, ttl, proto, 0, ip_bytes(src), ip_bytes(dst)) + options
    if checksum is None:
        checksum = csum(hdr)
    hdr = hdr[:10] + struct.pack("!H", checksum) + hdr[12:]
    return hdr + payload


def icmp(type_, code=0, ident=0x5350, seq=1, data=b"spate-it-payload", checksum=None):
    msg = struct.pack("!BBHHH", type_, code, 0, ident, seq) + data
    if checksum is None:
        checksum = csum(msg)
    return msg[:2] + struct.pack("!H", checksum) + msg[4:]


def udp(sport, dport, data=b"x"):
    # checksum 0: "no checksum" is legal for UDP over IPv4
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def parse_eth(frame):
    dst, src, etype = frame[0:6], frame[6:12], struct.unpack("!H", frame[12:14])[0]
    return dst, src, etype, frame[14:]


TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def tcp(src, dst, sport, dport, seq=1000, ack=0, flags=TCP_SYN, window=65535, options=b"",
        data=b"", checksum=None, doff=None):
    """A TCP segment (RFC 9293 3.1) with a correct checksum unless one is given."""
    opts = options + b"\x00" * (-len(options) % 4)
    off = doff if doff is not None else (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, window, 0, 0) + opts
    if checksum is None:
        pseudo = ip_bytes(src) + ip_bytes(dst) + struct.pack("!BBH", 0, 6, len(hdr) + len(data))
        checksum = csum(pseudo + hdr + data)
    return hdr[:16] + struct.pack("!H", checksum) + hdr[18:] + data

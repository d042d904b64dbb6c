"""A small HTTP/2 client for the tests (python3-h2 from Debian), plus raw frames for what a
well-behaved client library will not send (malformed frames, flow-control violations).

Everything runs on one thread inside the instance's namespace: build the requests, then call
H2.run(kenv, fn) where fn(conn) does the talking.
"""
import socket
import struct
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
TARGET_PREFIX = "Kinesis_20131202."
AMZ_JSON = "application/x-amz-json-1.1"

# frame types and error codes (RFC 9113 §6, §7)
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR = 0, 1, 3, 6
REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, ENHANCE_YOUR_CALM = 7, 8, 9, 11


def signed_headers(kenv, op, body, extra=None):
    """HTTP/2 request fields for a signed Kinesis call (SigV4 over Host, as HTTP/1.1 signs)."""
    if isinstance(body, str):
        body = body.encode()
    hdrs = {"Host": kenv.host, "Content-Type": AMZ_JSON, "X-Amz-Target": TARGET_PREFIX + op}
    hdrs.update(extra or {})
    req = AWSRequest(method="POST", url=kenv.url + "/", data=body, headers=hdrs)
    SigV4Auth(Credentials(kenv.access_key, kenv.secret_key), "kinesis", kenv.region).add_auth(req)
    out = [(":method", "POST"), (":scheme", "http"), (":path", "/"), (":authority", kenv.host)]
    out += [(k.lower(), v) for k, v in req.headers.items() if k.lower() != "host"]
    out.append(("content-length", str(len(body))))
    return out


def frame(ftype, flags, stream, payload):
    """One raw frame: 24-bit length, type, flags, stream id."""
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream & 0x7FFFFFFF) + payload


class Response:
    def __init__(self):
        self.status = None
        self.headers = {}
        self.body = b""
        self.ended = False
        self.reset = None  # RST_STREAM error code


class H2:
    """One HTTP/2 connection (client side), driven synchronously."""

    def __init__(self, host, port=80, timeout=20):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.responses = {}
        self.goaway = None  # (error code, last stream id)
        self.closed = False
        self.remote_settings = {}

    def start(self, settings=None):
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def send_raw(self, data):
        self.sock.sendall(data)

    def request(self, headers, body=b"", end=True):
        sid = self.conn.get_next_available_stream_id()
        self.responses[sid] = Response()
        self.conn.send_headers(sid, headers, end_stream=(end and not body))
        if body:
            self.send_body(sid, body, end=end)
        self.flush()
        return sid

    def send_body(self, sid, body, end=True):
        """Body in pieces as the flow-control windows allow (pumping to get more window)."""
        view = memoryview(body)
        while len(view) > 0:
            n = min(len(view), self.conn.local_flow_control_window(sid),
                    self.conn.max_outbound_frame_size)
            if n == 0:
                self.pump(lambda: self.conn.local_flow_control_window(sid) > 0, 20)
                continue
            self.conn.send_data(sid, view[:n].tobytes(), end_stream=(end and n == len(view)))
            view = view[n:]
            self.flush()
        if end and len(body) == 0:
            self.conn.end_stream(sid)
            self.flush()

    def _events(self, events):
        for ev in events:
            if isinstance(ev, h2.events.ResponseReceived):
                r = self.responses.setdefault(ev.stream_id, Response())
                r.headers = dict(ev.headers)
                r.status = int(r.headers[":status"])
            elif isinstance(ev, h2.events.DataReceived):
                self.responses.setdefault(ev.stream_id, Response()).body += ev.data
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                self.responses.setdefault(ev.stream_id, Response()).ended = True
            elif isinstance(ev, h2.events.StreamReset):
                self.responses.setdefault(ev.stream_id, Response()).reset = ev.error_code
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway = (int(ev.error_code), ev.last_stream_id)
            elif isinstance(ev, h2.events.RemoteSettingsChanged):
                for k, v in ev.changed_settings.items():
                    self.remote_settings[int(k)] = v.new_value

    def pump(self, until, timeout=20):
        """Read and handle frames until until() is true; False on timeout or close."""
        deadline = time.monotonic() + timeout
        while not until():
            if self.closed or time.monotonic() > deadline:
                return until()
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                continue
            except ConnectionResetError:
                self.closed = True
                continue
            if not data:
                self.closed = True
                continue
            try:
                self._events(self.conn.receive_data(data))
            except h2.exceptions.ProtocolError:
                self.closed = True
            self.flush()
        return True

    def wait(self, sids, timeout=30):
        return self.pump(lambda: all(self.responses[s].ended or self.responses[s].reset
                                     is not None for s in sids), timeout)

    def raw_until_closed(self, timeout=10):
        """After raw frames: read until the server closes (or timeout); the GOAWAY codes."""
        return self.raw_frames(timeout)["goaway"]

    def raw_frames(self, timeout=10):
        """Read raw frames until the server closes or timeout: {"goaway": [codes], "rst":
        {stream: code}, "headers": [streams answered], "closed": bool}."""
        deadline = time.monotonic() + timeout
        buf = b""
        closed = False
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                continue
            except ConnectionResetError:
                closed = True
                break
            if not data:
                closed = True
                break
            buf += data
        self.closed = True
        out = {"goaway": [], "rst": {}, "headers": [], "closed": closed}
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            ftype, sid = buf[3], struct.unpack(">I", buf[5:9])[0] & 0x7FFFFFFF
            if ftype == GOAWAY and n >= 8:
                out["goaway"].append(struct.unpack(">I", buf[13:17])[0])
            elif ftype == RST_STREAM and n == 4:
                out["rst"][sid] = struct.unpack(">I", buf[9:13])[0]
            elif ftype == HEADERS:
                out["headers"].append(sid)
            buf = buf[9 + n:]
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

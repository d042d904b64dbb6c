"""Two dataplanes over net_memif: the load generator (dataplane/app/loadgen.h) of one opens
connections with the TCP stack's active open and drives the other's test services.

The client's load generator is configured at start, so each mode is a client instance of its
own beside one server: crr (connect, request, response, reset, again), rr (requests on standing
connections) and bulk (to the sink). Every connection must come up, nothing may end early,
each side must see the other's work (the server accepted what the client connected; the
requests it answered are the client's transactions), and the worker that opened a connection
must be the one that received its answers (two workers on each side: the source-port choice).
Rates are the benchmark's business (tools/bench/tcp_memif.py); this only checks they are not
zero.
"""
import time

import pytest

from harness import instance_down, instance_up

pytestmark = [pytest.mark.netns, pytest.mark.slow]

SOCK = "/run/spate/spt-itlg-memif.sock"
NET = "198.19.253"
COMMON = ["--set", "mem_mb=768", "--set", "shard_ring_mb=16"]
CONNS = 6  # per worker
WORKERS = 2


def per_worker(dp, name):
    return [w["counters"][name] for w in dp["workers"]]


def total(dp, name):
    return sum(per_worker(dp, name))


@pytest.fixture(scope="module")
def server():
    name = "spt-itlgs"
    instance_down(name, purge=True)
    inst = instance_up(name, WORKERS, *COMMON,
                       "--set", "port1=net_memif0,role=server,socket=%s,socket-abstract=no" % SOCK,
                       "--set", "port1_ipv4=%s.2/24" % NET, "--set", "test_services=true")
    yield inst
    instance_down(name, purge=True)


def client_up(mode):
    name = "spt-itlgc"
    instance_down(name, purge=True)
    return name, instance_up(name, WORKERS, *COMMON,
                             "--set", "port1=net_memif0,role=client,socket=%s,socket-abstract=no" % SOCK,
                             "--set", "port1_ipv4=%s.1/24" % NET, "--set", "api=false",
                             "--set", "loadgen_target=%s.2" % NET, "--set", "loadgen_mode=%s" % mode,
                             "--set", "loadgen_conns=%d" % CONNS)


def wait_connected(client, want, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        dp = client.dataplane()
        if total(dp, "lg_connects") >= want:
            return dp
        time.sleep(0.3)
    raise AssertionError("connections not up: %s" % per_worker(client.dataplane(), "lg_connects"))


@pytest.mark.parametrize("mode", ["crr", "rr", "bulk"])
def test_loadgen_over_memif(server, mode):
    s0 = server.counters()
    name, client = client_up(mode)
    try:
        wait_connected(client, CONNS * WORKERS)
        time.sleep(2)
        dp = client.dataplane()
        c = dp["counters"]
        assert c["lg_errors"] == 0 and c["lg_connect_fails"] == 0, c
        # both workers opened connections and got their answers back on themselves: a reply
        # steered to the wrong worker would find no connection there and be reset
        assert all(n >= CONNS for n in per_worker(dp, "lg_connects")), per_worker(dp, "lg_connects")
        assert c["tcp_active_opens"] >= c["lg_connects"], c
        s = server.counters()
        if mode == "crr":
            assert c["lg_transactions"] > 100, c
            # every connection the client completed, the server accepted (but the ones in
            # flight: client sampled, then server, then client again)
            accepted = s["tcp_accepts"] - s0["tcp_accepts"]
            later = client.counters()["lg_connects"]
            # the server accepts on the client's ACK, after the client counted the connect
            assert c["lg_connects"] - CONNS * WORKERS <= accepted <= later, (accepted, later, c)
        elif mode == "rr":
            assert c["lg_transactions"] > 100, c
            assert c["lg_connects"] == CONNS * WORKERS, c  # standing connections
            # each answer is the 64 bytes asked for; a sample may catch some half read
            assert 64 * c["lg_transactions"] <= c["lg_bytes_in"] < \
                64 * (c["lg_transactions"] + CONNS * WORKERS), c
        else:
            assert c["lg_connects"] == CONNS * WORKERS, c
            assert c["lg_bytes_out"] > 10 * 2**20, c
        print("%s: connects %d transactions %d bytes_out %d retrans %d" % (
            mode, c["lg_connects"], c["lg_transactions"], c["lg_bytes_out"], c["tcp_retrans_segs"]))
    finally:
        instance_down(name, purge=True)

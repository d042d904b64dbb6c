"""Durable storage under kill -9: real clients write, the dataplane dies, nothing acked is lost.

The test brings up an instance of its own (2 workers) with a 4-shard stream. Each cycle,
PRODUCERS threads (boto3, in the instance's network namespace) send PutRecords batches of
1..500 records with random partition keys for a random 1..4 s, and the cycle ends with a
SIGKILL of the dataplane while requests are in flight. Before it starts again, none of its
hugepage files may be left (the dataplane unlinks them at start, huge_unlink=true, and the test
deletes any that `spate-dev restart-dataplane` would leave), so the new process can only know
what its store holds. Producers make one attempt per call: a retry would store a record twice, under
two numbers. Every record's data is unique and names itself (a header with run, producer and
counter, then random bytes, HEADER.size..2000 bytes in all), and the producers keep a ledger: a
record answered with a SequenceNumber is acknowledged, with its shard and number; anything
else (an entry with an ErrorCode, a failed or timed-out call) is not.

After each restart: every worker's store says "recovered" in the dataplane log, with at least
as many records as were acknowledged so far and at most as many as were sent; the
acknowledgements of one boot share one epoch, above the previous boot's. After the last cycle
the producers run FINAL_S more (no kill), then every shard is read from TRIM_HORIZON to its end:
  - every acknowledged record is there exactly once, byte-exact, with its partition key, shard
    and sequence number (acknowledgements never share a number, and each names the shard whose
    hash range holds MD5 of its key);
  - per shard, sequence numbers strictly increase;
  - every record read was sent (by content) and none appears twice;
  - a record that was never acknowledged may be there, at most once.
A one-line summary (starting "store-crash:") is printed before the verdict.

Reading records of an earlier boot needs cold reads (GetRecords served from the store). With
SPATE_CRASH_COLD_READS=0 acknowledged records of earlier boots may be missing (counted as
waiting); whatever is read must still pass every check, and the running boot's must all be there.

Environment: SPATE_CRASH_CYCLES (default 3), SPATE_CRASH_PRODUCERS (4), SPATE_CRASH_SEED (random;
printed), SPATE_CRASH_COLD_READS (1). tools/soak/store-crash.sh runs 50 cycles.
"""
import hashlib
import os
import random
import re
import string
import struct
import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from harness import instance_up, pid_alive, wait_until
from kinesis_env import (REGION, Env, NetnsExecutor, list_all_shards, md5_hash_key,
                         read_credentials, shard_for, wait_active)

pytestmark = [pytest.mark.netns, pytest.mark.slow]

CYCLES = int(os.environ.get("SPATE_CRASH_CYCLES", "3"))
PRODUCERS = int(os.environ.get("SPATE_CRASH_PRODUCERS", "4"))
SEED = int(os.environ.get("SPATE_CRASH_SEED") or random.randrange(1 << 32))
COLD_READS = os.environ.get("SPATE_CRASH_COLD_READS", "1") != "0"

WORKERS = 2
SHARDS = 4
CYCLE_S = (1.0, 4.0)  # production per cycle, ended by the kill
FINAL_S = 1.0         # production after the last restart, not killed
BATCH_MAX = 500
DATA_MAX = 2000
KEY_MAX = 64
KEY_CHARS = string.ascii_letters + string.digits + "-_.:/"
# A call in flight at the kill waits for its read timeout (the tap went with the process).
CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 4
START_TIMEOUT_S = 30      # producers' clients ready
JOIN_TIMEOUT_S = READ_TIMEOUT_S + CONNECT_TIMEOUT_S + 10
INFLIGHT_WAIT_S = 0.5     # at most this long for a call to be in flight before the kill
LOG_TIMEOUT_S = 10        # the recovery lines in the dataplane log
READ_LIMIT = 10000
READ_EMPTY_CALLS = 3      # empty GetRecords at MillisBehindLatest 0 in a row: the shard's end
READ_DEADLINE_S = 300
PROBLEMS_SHOWN = 20
LOG_TAIL_LINES = 30
FAIL_PAUSE_S = 0.05       # after a failed call: an endpoint that is gone fails at once

# magic, run tag, producer, counter
HEADER = struct.Struct(">4sIHI")
MAGIC = b"SPCR"
SEQ_EPOCH_SHIFT = 104  # docs/internals/seqno.md: bits 123..104
SEQ_EPOCH_MASK = (1 << 20) - 1
LOG_START = "===== spate-dev: spate-dataplane start"
STORE_RE = re.compile(r"store (\S*/store-(\d+)\.spate): (recovered|formatted), .*?, "
                      r"(\d+) records, .*?cut (\d+) torn and (\d+) corrupt tails")


def digest(data):
    return hashlib.blake2b(data, digest_size=16).digest()


def epoch_of(seq):
    return (seq >> SEQ_EPOCH_SHIFT) & SEQ_EPOCH_MASK


class Sent:
    """One record as its producer sent it; seq and shard once acknowledged."""
    __slots__ = ("digest", "key", "boot", "shard", "seq")

    def __init__(self, dig, key, boot):
        self.digest = dig
        self.key = key
        self.boot = boot
        self.shard = None
        self.seq = None


class Producer:
    """One client thread's records and outcomes, across all cycles."""

    def __init__(self, pid, tag):
        self.pid = pid
        self.tag = tag
        self.rng = random.Random(SEED * 1000 + pid)
        self.counter = 0
        self.sent = {}      # counter -> Sent
        self.failed = []    # (boot, monotonic end, error) of calls that failed as a whole
        self.acked = 0
        self.epochs = {}    # boot -> epochs its acknowledgements carry
        self.entry_errors = 0
        self.max_ack_s = 0.0
        self.broke = None   # an unexpected exception (a bug in the test or the client)

    def record(self, boot):
        self.counter += 1
        n = self.rng.randint(HEADER.size, DATA_MAX)
        data = HEADER.pack(MAGIC, self.tag, self.pid, self.counter) + os.urandom(n - HEADER.size)
        key = "".join(self.rng.choices(KEY_CHARS, k=self.rng.randint(1, KEY_MAX)))
        self.sent[self.counter] = Sent(digest(data), key, boot)
        return self.counter, data, key

    def run(self, make_client, stream, boot, ready, stop, inflight):
        client = make_client()
        ready.wait()  # every producer's client is made: production starts at once
        while not stop.is_set():
            batch = [self.record(boot) for _ in range(self.rng.randint(1, BATCH_MAX))]
            inflight.add(1)
            t0 = time.monotonic()
            try:
                r = client.put_records(StreamName=stream, Records=[
                    {"Data": d, "PartitionKey": k} for _, d, k in batch])
            except (ClientError, BotoCoreError) as e:
                self.failed.append((boot, time.monotonic(), str(e)[:200]))
                time.sleep(FAIL_PAUSE_S)
                continue
            finally:
                inflight.add(-1)
            self.max_ack_s = max(self.max_ack_s, time.monotonic() - t0)
            res = r["Records"]
            assert len(res) == len(batch), (len(res), len(batch))
            epochs = self.epochs.setdefault(boot, set())
            for (c, _, _), e in zip(batch, res):
                if "SequenceNumber" in e:
                    s = self.sent[c]
                    s.shard, s.seq = e["ShardId"], int(e["SequenceNumber"])
                    epochs.add(epoch_of(s.seq))
                    self.acked += 1
                else:
                    self.entry_errors += 1


class Gauge:
    def __init__(self):
        self.value = 0
        self._lock = threading.Lock()

    def add(self, d):
        with self._lock:
            self.value += d


def producer_client_factory(env):
    def make():
        cfg = Config(retries={"max_attempts": 1, "mode": "standard"},
                     connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S)
        return boto3.session.Session().client(
            "kinesis", endpoint_url=env.url, region_name=REGION, config=cfg,
            aws_access_key_id=env.access_key, aws_secret_access_key=env.secret_key)
    return make


def produce(inst, ex, producers, make_client, stream, boot, seconds, kill):
    """Run the producers for seconds; with kill, end with a crash of the dataplane (its
    hugepages wiped). Returns (calls in flight at the kill, hugepage files wiped, kill time)."""
    ready = threading.Barrier(len(producers) + 1, timeout=START_TIMEOUT_S)
    stop, inflight = threading.Event(), Gauge()

    def body(p):
        try:
            ex.run(p.run, make_client, stream, boot, ready, stop, inflight)
        except Exception as e:  # noqa: BLE001 -- reported below
            p.broke = e
            ready.abort()

    threads = [threading.Thread(target=body, args=(p,), daemon=True) for p in producers]
    for t in threads:
        t.start()
    at_kill, wiped, kill_t = 0, 0, None
    try:
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            raise AssertionError("producers did not start: %s" %
                                 [p.broke for p in producers if p.broke]) from None
        time.sleep(seconds)
        # the dataplane must have lived through the production, else the kill proves nothing
        assert pid_alive(inst.dataplane_pid), "boot %d: the dataplane died by itself:\n%s" % (
            boot, log_tail(inst))
        if kill:
            deadline = time.monotonic() + INFLIGHT_WAIT_S
            while inflight.value == 0 and time.monotonic() < deadline:
                time.sleep(0.001)
            at_kill, kill_t = inflight.value, time.monotonic()
            wiped = inst.crash_dataplane(wipe_hugepages=True)
            assert not inst.hugepage_files(), inst.hugepage_files()
    finally:
        stop.set()
        for t in threads:
            t.join(JOIN_TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "producers still running after %ss" % (
        JOIN_TIMEOUT_S)
    for p in producers:
        assert p.broke is None, "producer %d: %r" % (p.pid, p.broke)
    return at_kill, wiped, kill_t


def log_tail(inst, lines=LOG_TAIL_LINES):
    text = (inst.data_dir / "log" / "dataplane.log").read_text(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def recovery_lines(inst):
    """{worker: match} of the store lines the running dataplane wrote at start."""
    text = (inst.data_dir / "log" / "dataplane.log").read_text(errors="replace")
    text = text[text.rfind(LOG_START):]
    return {int(m.group(2)): m for m in STORE_RE.finditer(text)}


def all_workers(lines):
    return lines if sorted(lines) == list(range(WORKERS)) else None


def read_shard(c, stream, shard_id):
    """[(seq, key, header, digest)] of the shard, TRIM_HORIZON to its end."""
    it = c.get_shard_iterator(StreamName=stream, ShardId=shard_id,
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out, empty = [], 0
    deadline = time.monotonic() + READ_DEADLINE_S
    while empty < READ_EMPTY_CALLS:
        assert time.monotonic() < deadline, "%s: not read to its end in %ss (%d records)" % (
            shard_id, READ_DEADLINE_S, len(out))
        r = c.get_records(ShardIterator=it, Limit=READ_LIMIT)
        for x in r["Records"]:
            d = x["Data"]
            out.append((int(x["SequenceNumber"]), x["PartitionKey"], d[:HEADER.size], digest(d)))
        caught_up = not r["Records"] and r.get("MillisBehindLatest", 0) == 0
        empty = empty + 1 if caught_up else 0
        it = r.get("NextShardIterator")
        assert it, "%s: open shard without NextShardIterator" % shard_id
    return out


def check_reads(reads, ledger, tag, final_boot):
    """The end checks; returns (problems, {ident: (shard, seq)} seen, acked waiting)."""
    problems, seen = [], {}
    for shard_id, recs in sorted(reads.items()):
        prev = None
        for seq, key, head, dig in recs:
            if prev is not None and seq <= prev:
                problems.append("%s: %d after %d" % (shard_id, seq, prev))
            prev = seq
            if len(head) < HEADER.size or HEADER.unpack(head)[:2] != (MAGIC, tag):
                problems.append("%s %d: not a record of this run: %r" % (shard_id, seq, head))
                continue
            ident = HEADER.unpack(head)[2:]
            s = ledger.get(ident)
            if s is None:
                problems.append("%s %d: producer %d record %d was never sent" %
                                ((shard_id, seq) + ident))
                continue
            if (s.digest, s.key) != (dig, key):
                problems.append("%s %d: producer %d record %d differs from what was sent" %
                                ((shard_id, seq) + ident))
            if ident in seen:
                problems.append("producer %d record %d twice: %s %d and %s %d" %
                                (ident + seen[ident] + (shard_id, seq)))
                continue
            seen[ident] = (shard_id, seq)
            if s.seq is not None and (s.shard, s.seq) != (shard_id, seq):
                problems.append("producer %d record %d acknowledged as %s %d, read at %s %d" %
                                (ident + (s.shard, s.seq, shard_id, seq)))
    waiting = 0
    for ident, s in sorted(ledger.items()):
        if s.seq is None or ident in seen:
            continue
        if COLD_READS or s.boot == final_boot:
            problems.append("producer %d record %d (boot %d) acknowledged as %s %d, not read" %
                            (ident + (s.boot, s.shard, s.seq)))
        else:
            waiting += 1
    return problems, seen, waiting


def count_misrouted(ledger, shards):
    """Acknowledgements whose shard is not the one whose hash range holds MD5(key)."""
    owner = {}
    bad = 0
    for s in ledger.values():
        if s.seq is None:
            continue
        if s.key not in owner:
            owner[s.key] = shard_for(shards, md5_hash_key(s.key))
        bad += s.shard != owner[s.key]
    return bad


def boot_epoch(producers, boot, before):
    """The one epoch the acknowledgements of boot carry, above before (the boot before's)."""
    e = set().union(*(p.epochs.get(boot, set()) for p in producers))
    assert e, "boot %d: nothing acknowledged (seed %d)" % (boot, SEED)
    assert len(e) == 1, "boot %d: acknowledged under epochs %s" % (boot, sorted(e))
    epoch = e.pop()
    assert epoch > before, "boot %d: epoch %d, not above %d" % (boot, epoch, before)
    return epoch


def test_store_survives_kill9_under_load(fresh_name):
    t_start = time.monotonic()
    sched = random.Random(SEED)
    tag = SEED & 0xFFFFFFFF
    inst = instance_up(fresh_name("c"), WORKERS)
    key, secret = read_credentials(inst.data_dir / "credentials")
    env = Env("spate", "http://%s:80" % inst.ipv4, key, secret, netns=inst.netns, instance=inst)
    ex = NetnsExecutor(inst.netns, workers=PRODUCERS)
    try:
        c = env.client(retries=True)
        stream = "crash-%s" % uuid.uuid4().hex[:10]
        c.create_stream(StreamName=stream, ShardCount=SHARDS)
        wait_active(c, stream)
        shards = list_all_shards(c, stream)
        shard_ids = [s["ShardId"] for s in shards]
        assert len(shard_ids) == SHARDS, shard_ids
        producers = [Producer(i, tag) for i in range(PRODUCERS)]
        make_client = producer_client_factory(env)
        epochs = []
        kills, wiped, recovered, torn, corrupt = [], 0, 0, 0, 0
        store_unacked = 0  # records recovered at the last restart beyond those acknowledged
        errors_before_kill = 0

        for cycle in range(CYCLES):
            seconds = sched.uniform(*CYCLE_S)
            at_kill, w, kill_t = produce(inst, ex, producers, make_client, stream, cycle,
                                         seconds, kill=True)
            kills.append(at_kill)
            wiped += w
            errors_before_kill += sum(1 for p in producers for b, t, _ in p.failed
                                      if b == cycle and t < kill_t)
            inst.restart_dataplane(kill=True)
            epochs.append(boot_epoch(producers, cycle, epochs[-1] if epochs else -1))
            acked = sum(p.acked for p in producers)
            sent = sum(len(p.sent) for p in producers)
            lines = wait_until(lambda: all_workers(recovery_lines(inst)), LOG_TIMEOUT_S,
                               what="every worker's store line in dataplane.log")
            n = 0
            for m in lines.values():
                assert m.group(3) == "recovered", m.group(0)
                n += int(m.group(4))
                torn += int(m.group(5))
                corrupt += int(m.group(6))
            # the store holds every acknowledged record and nothing that was not sent
            assert acked <= n <= sent, (
                "cycle %d: store recovered %d records, %d acknowledged, %d sent (seed %d)" %
                (cycle, n, acked, sent, SEED))
            recovered, store_unacked = n, n - acked

        produce(inst, ex, producers, make_client, stream, CYCLES, FINAL_S, kill=False)
        epochs.append(boot_epoch(producers, CYCLES, epochs[-1] if epochs else -1))
        ledger = {(p.pid, n): s for p in producers for n, s in p.sent.items()}
        reads = {sid: read_shard(c, stream, sid) for sid in shard_ids}
        problems, seen, waiting = check_reads(reads, ledger, tag, CYCLES)
        # shard and number are unique among acknowledgements too (not only among reads)
        acks = [(s.shard, s.seq) for s in ledger.values() if s.seq is not None]
        if len(set(acks)) != len(acks):
            problems.append("%d acknowledgements share a shard and number" %
                            (len(acks) - len(set(acks))))
        misrouted = count_misrouted(ledger, shards)
        if misrouted:
            problems.append("%d acknowledgements name a shard that does not own the key's "
                            "hash" % misrouted)

        unacked = [i for i, s in ledger.items() if s.seq is None]
        unacked_seen = sum(1 for i in unacked if i in seen)
        failed = sum(len(p.failed) for p in producers)
        summary = [
            ("seed", SEED), ("cycles", CYCLES), ("producers", PRODUCERS),
            ("cold_reads", int(COLD_READS)), ("sent", len(ledger)), ("acked", len(acks)),
            ("unacked_seen", unacked_seen), ("unacked_lost", len(unacked) - unacked_seen),
            ("acked_waiting_cold", waiting), ("read", sum(len(r) for r in reads.values())),
            ("in_flight_at_kills", ",".join(map(str, kills))), ("failed_calls", failed),
            ("failed_before_kill", errors_before_kill),
            ("entry_errors", sum(p.entry_errors for p in producers)),
            ("hugepage_files_wiped", wiped), ("last_recovered", recovered),
            ("store_unacked", store_unacked), ("torn", torn), ("corrupt", corrupt),
            ("epochs", "%d..%d" % (epochs[0], epochs[-1])),
            ("max_ack_ms", int(1000 * max(p.max_ack_s for p in producers))),
            ("problems", len(problems)), ("seconds", "%.1f" % (time.monotonic() - t_start))]
        print("store-crash: " + " ".join("%s=%s" % kv for kv in summary), flush=True)
        if problems:
            pytest.fail("seed %d, %d problems, the first %d:\n%s" % (
                SEED, len(problems), PROBLEMS_SHOWN, "\n".join(problems[:PROBLEMS_SHOWN])),
                pytrace=False)
    finally:
        ex.shutdown()
        env.close()

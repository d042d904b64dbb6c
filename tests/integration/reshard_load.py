"""Live resharding under load: producers, lineage-following consumers, a reshaper, the checks.

test_reshard_live.py and tools/soak/reshard.sh drive run(); everything here talks to the
appliance only through boto3 clients inside the instance's network namespace (and, for the
kill variant, through the harness's spate-dev restart-control).

  Producers   PRODUCERS threads, each with a fixed set of partition keys (some with an
              ExplicitHashKey). A key's records go out one at a time: the next only after the
              previous call answered. Calls are PutRecord or PutRecords (at most one record per
              key in a batch, since PutRecords orders nothing across entries). Data names
              (run tag, producer, key, counter). One attempt per call: a retry could store a
              record twice. The ledger keeps every record's outcome: acknowledged with
              (ShardId, SequenceNumber), or not.
  Readers     like KCL: the stream's root shards from ListShards at TRIM_HORIZON; a shard is
              read until NextShardIterator is null, then its ChildShards are taken up, each
              only once all of its parents are finished (a merge child has two). Open leaf
              shards are read until the drain, then to their end. Every record read gets a
              global read index, so per key the read order is what one KCL worker would see.
  Reshaper    OPS random operations, one at a time: SplitShard (middle or random key),
              MergeShards of an adjacent open pair, UpdateShardCount (UNIFORM_SCALING) to a
              random legal target; after each, DescribeStreamSummary until ACTIVE and the
              shard map is checked against what the operation must have done. A
              LimitExceededException from UpdateShardCount (10 per rolling 24 h per stream)
              turns it off for the rest of the run; split or merge is done instead.
  Loadgen     (when run() gets loadgen_up) a second dataplane, joined to the instance by
              net_memif, whose load generator (dataplane/app/loadgen.h, mode put) writes
              SigV4-signed PutRecords over its own TCP stack for the whole run: keys
              lg-w<w>-s<k>, data "<w>.<k>.<n>" counting per key. It never retries; it only
              counts what was acknowledged.
  Mover       (cfg.moves) moves random open shards to another worker through the control
              socket (shard_move) while the rest runs, each waited for until the dataplane's
              status shows the ring written by the new owner; with reread_restart, after the
              checks the dataplane is killed (SIGKILL), restarted, and the whole stream read
              again from the stores with the same checks.
  Killer      (kill_control) SIGKILLs spate-control at a random moment while an operation is
              in flight, and restarts it (spate-dev restart-control). An operation whose call
              failed may or may not have happened; one that was acknowledged must complete.

The checks (check()): every acknowledged record read exactly once, byte-exact, on the shard
and at the sequence number its acknowledgement named; the shard's hash range (ListShards)
holds MD5(key) as a big-endian 128-bit number, or the ExplicitHashKey, computed here; its
sequence number lies in the shard's range; per shard, sequence numbers strictly increase; per
key, counters increase in read order; records never acknowledged appear at most once; the
lineage readers saw (ChildShards) is the one ListShards describes; the open shards tile the
hash space; every shard listed was read to its end. The load generator's records: each read
once, on a shard whose range holds MD5(key), per key in counter order and without a gap, and
at least as many as it counted acknowledged.
"""
import hashlib
import json
import os
import random
import re
import struct
import threading
import time
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from harness import kill_pid, pid_alive, spate_dev, wait_until
from kinesis_env import REGION, _enter_netns, md5_hash_key

HASH_MAX = (1 << 128) - 1
HASH_SPACE = 1 << 128

KEY_BYTES = 24
EHK_SHARE = 0.25          # keys of a producer routed by ExplicitHashKey instead of MD5
PUT_RECORD_SHARE = 0.3    # calls that are PutRecord (the rest PutRecords)
PAD_MAX = 300             # random bytes after the header
CONNECT_TIMEOUT_S = 3
READ_TIMEOUT_S = 10
FAIL_PAUSE_S = 0.05       # after a failed put: an endpoint in trouble fails at once
PUT_PAUSE_S = 0.002       # between puts: leaves CPU to the readers and the appliance

READ_LIMIT = 2000
READ_GAP_S = 0.2          # per shard: at most 5 GetRecords a second (reference §5)
READ_EMPTY_CALLS = 3      # empty, caught-up GetRecords in a row once draining: the end
READ_RETRY_S = 30         # a reader fails after this long without a successful call
CALL_RETRY_S = 60         # control calls (ListShards, Describe*) retried this long
ACTIVE_TIMEOUT_S = 90     # a reshard ends ACTIVE within this (control restarts included)
OP_GAP_S = (1.0, 5.0)     # production between two operations
WARMUP_S = 2.0
TAIL_S = 1.5
DRAIN_TIMEOUT_S = 180
KILL_SHARE = 0.7          # operations with a control kill in flight (kill variant)
# When the kill comes (control drives a reshard through its steps within milliseconds of the
# call): "during" the call, right "after" its answer (between the steps), or "late".
KILL_WHEN = {"during": (0.0, 0.01), "after": (0.0, 0.004), "late": (0.05, 0.6)}
MOVE_GAP_S = (0.5, 2.0)    # production between two moves
MOVE_TIMEOUT_S = 30       # a move's handover ends within this
CONTROL_DOWN_S = 60       # the mover waits this long for a killed spate-control to return
PROBLEMS_SHOWN = 25
ERROR_EXAMPLES = 5        # per producer, in the operation log
# SequenceNumberForOrdering promises a number above the key's previous one (reference §2.3),
# also when the key's records move to a child shard: children number in a newer epoch than
# their parents (docs/internals/seqno.md), so a number below the previous one fails the run.
SNFO_STRICT = True
USC_PER_DAY = 10          # UpdateShardCount calls per rolling 24 h per stream (reference §3.2)

# spate-control's log lines of a reshard's switch and finish steps (control/ctl_reshard.c)
RESHARD_LOG_RE = re.compile(r"spate-control\[(\d+)\] INFO: reshard \S+ of (\S+) "
                            r"(?:\(.*\): \d+ shard\(s\) closed|done: ACTIVE)")

# magic, run tag, producer, key, counter
HEADER = struct.Struct(">4sIHHI")
MAGIC = b"RSHD"
LG_PREFIX = "lg-"  # partition keys of the load generator (dataplane/app/loadgen.h, put)

# Error codes that mean the server did not take the call (no record stored, no reshard done).
SURE_REFUSALS = ("ProvisionedThroughputExceededException", "ValidationException",
                 "InvalidArgumentException", "ResourceInUseException",
                 "LimitExceededException", "ResourceNotFoundException")
# The operation does not exist on the endpoint: nothing to test.
UNIMPLEMENTED = ("UnknownOperationException",)


def digest(data):
    return hashlib.blake2b(data, digest_size=16).digest()


def error_code(e):
    if isinstance(e, ClientError):
        return e.response.get("Error", {}).get("Code", "?")
    return type(e).__name__


def is_open(s):
    return "EndingSequenceNumber" not in s["SequenceNumberRange"]


def hash_range(s):
    r = s["HashKeyRange"]
    return int(r["StartingHashKey"]), int(r["EndingHashKey"])


class RunConfig:
    """One run's parameters (environment overrides in from_env)."""

    def __init__(self, **kw):
        self.seed = random.randrange(1 << 32)
        self.producers = 4
        self.keys = 6             # per producer
        self.shards = 4           # at creation
        self.ops = 10
        self.max_open = 8
        self.kill_control = False
        self.idle_s = 0.0         # production without operations (ops=0 runs)
        self.kinds = ("split", "merge", "update")
        self.moves = 0            # shard moves between workers (Mover), beside the ops
        self.workers = 2          # the instance's workers (move targets)
        # after the checks: kill -9 the dataplane, restart it and read the whole stream again
        # (records of moved shards then live in several workers' stores)
        self.reread_restart = False
        # An emulator without ChildShards (kinesalite): take a closed shard's children from
        # ListShards instead of counting a problem. Only for trying the harness out.
        self.child_fallback = False
        for k, v in kw.items():
            assert hasattr(self, k), k
            setattr(self, k, v)

    @classmethod
    def from_env(cls, **kw):
        env = {"seed": "SPATE_RESHARD_SEED", "producers": "SPATE_RESHARD_PRODUCERS",
               "ops": "SPATE_RESHARD_OPS", "max_open": "SPATE_RESHARD_MAX_OPEN",
               "moves": "SPATE_RESHARD_MOVES"}
        for k, var in env.items():
            if os.environ.get(var) and k not in kw:
                kw[k] = int(os.environ[var])
        return cls(**kw)


class Clients:
    """boto3 clients for threads that live in the instance's network namespace."""

    def __init__(self, env):
        self.env = env
        self._lock = threading.Lock()

    def make(self, read_timeout=READ_TIMEOUT_S):
        cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                     connect_timeout=CONNECT_TIMEOUT_S, read_timeout=read_timeout)
        with self._lock:  # boto3 session creation is not thread-safe
            return boto3.session.Session().client(
                "kinesis", endpoint_url=self.env.url, region_name=REGION, config=cfg,
                aws_access_key_id=self.env.access_key,
                aws_secret_access_key=self.env.secret_key)

    def thread(self, target, *args):
        """A daemon thread in the namespace running target(*args)."""
        netns = self.env.netns

        def body():
            if netns:
                _enter_netns("/run/netns/%s" % netns)
            target(*args)

        return threading.Thread(target=body, daemon=True)


def retry_call(fn, what, timeout=CALL_RETRY_S, **kw):
    """fn(**kw), retried over transport errors and 5xx/throttles (control may be restarting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn(**kw)
        except (ClientError, BotoCoreError) as e:
            code = error_code(e)
            status = (e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                      if isinstance(e, ClientError) else 0)
            transient = (not isinstance(e, ClientError) or status >= 500 or
                         code in ("LimitExceededException",
                                  "ProvisionedThroughputExceededException"))
            if not transient or time.monotonic() > deadline:
                raise AssertionError("%s: %s: %s" % (what, code, str(e)[:300])) from None
            time.sleep(0.2)


def list_shards(c, stream):
    out, token = [], None
    while True:
        if token:
            r = retry_call(c.list_shards, "ListShards", NextToken=token)
        else:
            r = retry_call(c.list_shards, "ListShards", StreamName=stream)
        out += r["Shards"]
        token = r.get("NextToken")
        if not token:
            return out


def wait_active(c, stream, timeout=ACTIVE_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while True:
        st = retry_call(c.describe_stream_summary, "DescribeStreamSummary",
                        StreamName=stream)["StreamDescriptionSummary"]
        if st["StreamStatus"] == "ACTIVE":
            return st
        assert time.monotonic() < deadline, "stream %s not ACTIVE after %ss: %s" % (
            stream, timeout, st["StreamStatus"])
        time.sleep(0.05)


def tiling_problems(shards):
    """The open shards must cover 0..2^128-1 exactly once."""
    opened = sorted((hash_range(s) + (s["ShardId"],) for s in shards if is_open(s)))
    out, at = [], 0
    for lo, hi, sid in opened:
        if lo != at:
            out.append("open shards do not tile the hash space: %s starts at %d, wanted %d" %
                       (sid, lo, at))
        at = hi + 1
    if at != HASH_SPACE:
        out.append("open shards end at %d, not 2^128-1" % (at - 1))
    return out


# ---- producers -------------------------------------------------------------------------------

class Sent:
    """One record as its producer sent it; shard and seq once acknowledged."""
    __slots__ = ("digest", "key", "hash", "shard", "seq", "error")

    def __init__(self, dig, key, hash_key):
        self.digest = dig
        self.key = key
        self.hash = hash_key
        self.shard = None
        self.seq = None
        self.error = None


class Key:
    def __init__(self, name, ehk):
        self.name = name
        self.ehk = ehk  # int or None
        self.hash = ehk if ehk is not None else md5_hash_key(name)
        self.counter = 0
        self.last_seq = None  # of the key's latest acknowledged record


class Producer:
    def __init__(self, pid, cfg, tag):
        self.pid = pid
        self.tag = tag
        self.rng = random.Random(cfg.seed * 1000 + pid)
        self.keys = []
        for i in range(cfg.keys):
            name = "p%d-k%d-%s" % (pid, i, "".join(self.rng.choices("abcdefghjkmnpqrstuvwxyz",
                                                                       k=KEY_BYTES)))
            ehk = None
            if self.rng.random() < EHK_SHARE:
                # the ends of the hash space now and then: shards there are split and merged too
                ehk = self.rng.choice([0, HASH_MAX, self.rng.randrange(HASH_SPACE)])
            self.keys.append(Key(name, ehk))
        self.sent = {}      # (key index, counter) -> Sent
        self.calls = 0
        self.failed_calls = 0
        self.entry_errors = 0
        self.acked = 0
        self.errors = {}    # code -> count
        self.examples = []  # the first few errors, with their wall-clock time
        self.snfo_calls = 0
        self.snfo_not_above = []  # (SequenceNumberForOrdering, number given, shard)
        self.broke = None

    def _record(self, ki):
        k = self.keys[ki]
        k.counter += 1
        data = (HEADER.pack(MAGIC, self.tag, self.pid, ki, k.counter) +
                os.urandom(self.rng.randint(0, PAD_MAX)))
        self.sent[(ki, k.counter)] = Sent(digest(data), k.name, k.hash)
        entry = {"Data": data, "PartitionKey": k.name}
        if k.ehk is not None:
            entry["ExplicitHashKey"] = str(k.ehk)
        return (ki, k.counter), entry

    def _count_error(self, code, message):
        self.errors[code] = self.errors.get(code, 0) + 1
        if len(self.examples) < ERROR_EXAMPLES:
            self.examples.append("%.3f producer %d: %s: %s" % (time.time(), self.pid, code,
                                                               message))

    def run(self, clients, stream, stop):
        try:
            c = clients.make()
            while not stop.is_set():
                self._one_call(c, stream)
                time.sleep(PUT_PAUSE_S)
        except Exception as e:  # noqa: BLE001 -- reported by the run
            self.broke = e

    def _one_call(self, c, stream):
        self.calls += 1
        if self.rng.random() < PUT_RECORD_SHARE:
            ident, entry = self._record(self.rng.randrange(len(self.keys)))
            floor = self.keys[ident[0]].last_seq
            if floor is not None:
                # the key's previous number, as a client keeping per-key order passes it
                entry["SequenceNumberForOrdering"] = str(floor)
                self.snfo_calls += 1
            try:
                r = c.put_record(StreamName=stream, **entry)
            except (ClientError, BotoCoreError) as e:
                self._failed([ident], e)
                return
            self._ack(ident, r)
            if floor is not None and int(r["SequenceNumber"]) <= floor:
                self.snfo_not_above.append((floor, int(r["SequenceNumber"]), r["ShardId"]))
            return
        kis = self.rng.sample(range(len(self.keys)), self.rng.randint(1, len(self.keys)))
        batch = [self._record(ki) for ki in kis]
        try:
            r = c.put_records(StreamName=stream, Records=[e for _, e in batch])
        except (ClientError, BotoCoreError) as e:
            self._failed([i for i, _ in batch], e)
            return
        res = r["Records"]
        assert len(res) == len(batch), (len(res), len(batch))
        for (ident, _), e in zip(batch, res):
            if "SequenceNumber" in e:
                self._ack(ident, e)
            else:
                self.entry_errors += 1
                self._count_error(e.get("ErrorCode", "?"), e.get("ErrorMessage"))
                self.sent[ident].error = e.get("ErrorCode", "?")

    def _ack(self, ident, r):
        s = self.sent[ident]
        s.shard, s.seq = r["ShardId"], int(r["SequenceNumber"])
        self.keys[ident[0]].last_seq = s.seq
        self.acked += 1

    def _failed(self, idents, e):
        self.failed_calls += 1
        code = error_code(e)
        self._count_error(code, str(e)[:300])
        for i in idents:
            self.sent[i].error = code
        time.sleep(FAIL_PAUSE_S)


# ---- lineage-following readers ---------------------------------------------------------------

class Readers:
    """KCL-like: a thread per shard, started once every parent of the shard is finished."""

    def __init__(self, clients, stream, child_fallback=False):
        self.clients = clients
        self.stream = stream
        self.child_fallback = child_fallback
        self.lock = threading.Lock()
        self.drain = threading.Event()
        self.read_ix = 0
        self.reads = {}          # shard -> [(seq, key, data, read index)]
        self.parents = {}        # shard -> set of parents named by ChildShards
        self.child_ranges = {}   # shard -> (start, end) named by ChildShards
        self.started = set()
        self.finished = set()    # closed and read to the null NextShardIterator
        self.drained = set()     # open, read to its end after the drain began
        self.children = {}       # finished shard -> [ChildShards ids]
        self.threads = []
        self.problems = []
        self.broke = []
        self.calls = 0
        self.throttled = 0
        self.retried = 0

    def start_roots(self, shards):
        ids = {s["ShardId"] for s in shards}
        with self.lock:
            for s in shards:
                ps = {p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p}
                if not ps & ids:
                    self._start(s["ShardId"])

    def _start(self, sid):
        # lock held
        self.started.add(sid)
        self.reads[sid] = []
        t = self.clients.thread(self._read, sid)
        self.threads.append(t)
        t.start()

    def _done(self, sid, children):
        with self.lock:
            self.finished.add(sid)
            self.children[sid] = [ch["ShardId"] for ch in children]
            for ch in children:
                cid = ch["ShardId"]
                ps = set(ch.get("ParentShards", []))
                if sid not in ps:
                    self.problems.append("%s lists child %s whose ParentShards %s omit it" %
                                         (sid, cid, sorted(ps)))
                old = self.parents.setdefault(cid, ps)
                if old != ps:
                    self.problems.append("child %s: ParentShards %s, earlier %s" %
                                         (cid, sorted(ps), sorted(old)))
                self.child_ranges.setdefault(cid, hash_range(ch))
                if cid not in self.started and ps <= self.finished:
                    self._start(cid)

    def _read(self, sid):
        try:
            self._read_shard(sid)
        except Exception as e:  # noqa: BLE001 -- reported by the run
            with self.lock:
                self.broke.append("%s: %r" % (sid, e))

    def _read_shard(self, sid):
        c = self.clients.make()
        it = retry_call(c.get_shard_iterator, "GetShardIterator %s" % sid, timeout=READ_RETRY_S,
                        StreamName=self.stream, ShardId=sid,
                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        out = self.reads[sid]
        empty = 0
        last_ok = time.monotonic()
        while True:
            t0 = time.monotonic()
            try:
                r = c.get_records(ShardIterator=it, Limit=READ_LIMIT)
            except (ClientError, BotoCoreError) as e:
                code = error_code(e)
                if code == "ProvisionedThroughputExceededException":
                    self.throttled += 1
                else:
                    self.retried += 1
                if code in ("ExpiredIteratorException", "InvalidArgumentException",
                            "ResourceNotFoundException") or (
                        time.monotonic() - last_ok > READ_RETRY_S):
                    raise AssertionError("GetRecords %s: %s: %s" % (sid, code, str(e)[:300]))
                time.sleep(READ_GAP_S)
                continue
            last_ok = time.monotonic()
            self.calls += 1
            recs = r["Records"]
            if recs:
                with self.lock:
                    for x in recs:
                        out.append((int(x["SequenceNumber"]), x["PartitionKey"], x["Data"],
                                    self.read_ix))
                        self.read_ix += 1
            nxt = r.get("NextShardIterator")
            if nxt is None:
                children = r.get("ChildShards") or []
                if not children and self.child_fallback:
                    children = self._children_listed(c, sid)
                elif not children:
                    with self.lock:
                        self.problems.append("%s: closed (no NextShardIterator) without "
                                             "ChildShards" % sid)
                self._done(sid, children)
                return
            if r.get("ChildShards"):
                with self.lock:
                    self.problems.append("%s: ChildShards with a NextShardIterator" % sid)
            it = nxt
            if not recs and r.get("MillisBehindLatest", 0) == 0 and self.drain.is_set():
                empty += 1
                if empty >= READ_EMPTY_CALLS:
                    with self.lock:
                        self.drained.add(sid)
                    return
            elif recs:
                empty = 0
            time.sleep(max(0.0, READ_GAP_S - (time.monotonic() - t0)))

    def _children_listed(self, c, sid):
        out = []
        for s in list_shards(c, self.stream):
            ps = [p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p]
            if sid in ps:
                out.append({"ShardId": s["ShardId"], "ParentShards": ps,
                            "HashKeyRange": s["HashKeyRange"]})
        return out

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                alive = [t for t in self.threads if t.is_alive()]
            if not alive:
                return True
            if time.monotonic() > deadline:
                return False
            alive[0].join(0.2)


# ---- the reshaper ----------------------------------------------------------------------------

class Reshaper:
    def __init__(self, cfg, env, stream, inst, rng):
        self.cfg = cfg
        self.env = env
        self.stream = stream
        self.inst = inst
        self.rng = rng
        self.usc_allowed = True
        self.done = {"split": 0, "merge": 0, "update": 0}
        self.usc_limited = 0
        self.uncertain_applied = 0
        self.uncertain_lost = 0
        self.kills = 0
        self.last_error = None
        self.kill_note = ""
        self.usc_arn = False    # whether botocore's model of UpdateShardCount has StreamARN
        self.kill_restart_s = 0.0
        self.op_s = []          # seconds from call to ACTIVE (a control restart included)
        self.log = []           # one line per operation
        self.call_pids = []     # spate-control's pid at each applied operation's call
        self.problems = []
        self.broke = None

    def run(self, stop_after, gap_s, abort):
        try:
            c = self.env.client(single=True)
            self.usc_arn = "StreamARN" in c.meta.service_model.operation_model(
                "UpdateShardCount").output_shape.members
            for i in range(self.cfg.ops):
                if abort.is_set():
                    return
                self._one(c, i)
                time.sleep(self.rng.uniform(*gap_s))
        except Exception as e:  # noqa: BLE001 -- reported by the run
            self.broke = e
        finally:
            stop_after.set()

    def _choose(self, opened):
        n = len(opened)
        kinds = []
        if n < self.cfg.max_open:
            kinds.append("split")
        if n > 1:
            kinds.append("merge")
        if self.usc_allowed and self._usc_targets(n):
            kinds.append("update")
        return self.rng.choice([k for k in kinds if k in self.cfg.kinds])

    def _usc_targets(self, n):
        lo, hi = (n + 1) // 2, min(2 * n, self.cfg.max_open)
        return [t for t in range(max(1, lo), hi + 1) if t != n]

    def _one(self, c, i):
        shards = list_shards(c, self.stream)
        opened = sorted((s for s in shards if is_open(s)), key=lambda s: hash_range(s)[0])
        kind = self._choose(opened)
        pid_at_call = self._control_pid() if self.inst is not None else None
        self.kill_note = ""
        t0, t_wall = time.monotonic(), time.time()
        while True:
            req = self._request(kind, opened)
            outcome = self._call(c, kind, req, len(opened))
            if outcome == "limited":
                self.usc_limited += 1
                self.usc_allowed = False
                kind = self._choose(opened)
                continue
            break
        wait_active(c, self.stream)
        after = list_shards(c, self.stream)
        self.op_s.append(time.monotonic() - t0)
        applied, why = self._applied(kind, req, shards, after)
        if applied:
            self.call_pids.append(pid_at_call)
        line = "op %d %s %s: %s%s" % (i, kind, req, outcome,
                                      " (%s)" % self.kill_note if self.kill_note else "")
        if outcome == "ok":
            if not applied:
                self.problems.append("%s, but not applied: %s" % (line, why))
            self.done[kind] += 1
        elif outcome == "uncertain":
            if not self.cfg.kill_control:
                self.problems.append("%s (no control kill): %s" % (line, self.last_error))
            if applied:
                self.uncertain_applied += 1
                self.done[kind] += 1
            else:
                self.uncertain_lost += 1
                unchanged = ({s["ShardId"] for s in after} == {s["ShardId"] for s in shards} and
                             sum(map(is_open, after)) == len(opened))
                if not unchanged:
                    self.problems.append("%s, neither applied (%s) nor left undone" %
                                         (line, why))
        self.problems += ["after %s: %s" % (line, p) for p in tiling_problems(after)]
        self.log.append("%.3f %s, applied=%s, %.2fs to ACTIVE" % (t_wall, line, applied,
                                                                   self.op_s[-1]))

    def _request(self, kind, opened):
        if kind == "split":
            s = self.rng.choice([s for s in opened if hash_range(s)[1] - hash_range(s)[0] >= 4])
            lo, hi = hash_range(s)
            k = (lo + hi) // 2 if self.rng.random() < 0.5 else self.rng.randint(lo + 2, hi - 1)
            return {"ShardToSplit": s["ShardId"], "NewStartingHashKey": str(k)}
        if kind == "merge":
            pairs = [(a, b) for a, b in zip(opened, opened[1:])
                     if hash_range(a)[1] + 1 == hash_range(b)[0]]
            a, b = self.rng.choice(pairs)
            return {"ShardToMerge": a["ShardId"], "AdjacentShardToMerge": b["ShardId"]}
        return {"TargetShardCount": self.rng.choice(self._usc_targets(len(opened))),
                "ScalingType": "UNIFORM_SCALING"}

    def _call(self, c, kind, req, current):
        """"ok", "limited" (UpdateShardCount's rolling limit) or "uncertain" (the call failed
        in a way that leaves open whether the operation was taken)."""
        fn = {"split": c.split_shard, "merge": c.merge_shards,
              "update": c.update_shard_count}[kind]
        killer, when, go = None, None, threading.Event()
        if self.cfg.kill_control and self.rng.random() < KILL_SHARE:
            when = self.rng.choice(sorted(KILL_WHEN))
            delay = self.rng.uniform(*KILL_WHEN[when])
            self.kill_note = "kill %s+%.3fs" % (when, delay)
            # started ahead and released by go: milliseconds matter, the steps are that quick
            killer = threading.Thread(target=self._kill, args=(go, delay, self._control_pid()),
                                      daemon=True)
            killer.start()
            if when != "after":
                go.set()
        try:
            return self._call_once(fn, kind, req, current, go)
        finally:
            go.set()
            if killer is not None:
                killer.join()

    def _call_once(self, fn, kind, req, current, go):
        try:
            try:
                r = fn(StreamName=self.stream, **req)
            finally:
                go.set()  # an "after" kill comes now
            if kind == "update":
                r.pop("ResponseMetadata", None)
                want = {"StreamName": self.stream, "CurrentShardCount": current,
                        "TargetShardCount": req["TargetShardCount"]}
                # botocore drops members its model lacks (StreamARN came late to this one)
                arn = r.pop("StreamARN", "")
                if r != want or (self.usc_arn and not arn.endswith(":stream/" + self.stream)):
                    self.problems.append("UpdateShardCount %s answered %s, StreamARN %r" %
                                         (req, r, arn))
            return "ok"
        except (ClientError, BotoCoreError) as e:
            code = error_code(e)
            if kind == "update" and code == "LimitExceededException":
                return "limited"
            if isinstance(e, ClientError) and code in SURE_REFUSALS + UNIMPLEMENTED:
                raise AssertionError("%s %s refused: %s: %s" % (kind, req, code,
                                                                str(e)[:300])) from None
            self.last_error = "%s: %s" % (code, str(e)[:300])
            return "uncertain"

    def _control_pid(self):
        return int((self.inst.run_dir / "control.pid").read_text().split()[0])

    def steps_across_kills(self):
        """Reshards of this stream whose steps ran in two control processes: (killed between
        the call and the switch, killed between the switch and the finish), from control.log."""
        text = (self.inst.data_dir / "log" / "control.log").read_text(errors="replace")
        steps = [(int(m.group(1)), "done: ACTIVE" in m.group(0))
                 for m in RESHARD_LOG_RE.finditer(text) if m.group(2) == self.stream]
        switches = [(i, pid) for i, (pid, done) in enumerate(steps) if not done]
        before = sum(1 for (_, pid), call in zip(switches, self.call_pids) if pid != call)
        between = sum(1 for i, pid in switches
                      if i + 1 < len(steps) and steps[i + 1][1] and steps[i + 1][0] != pid)
        return before, between

    def _kill(self, go, delay, cpid):
        try:
            self._kill_restart(go, delay, cpid)
        except Exception as e:  # noqa: BLE001 -- a thread's failure, reported by the run
            self.problems.append("control kill/restart failed: %r" % e)

    def _kill_restart(self, go, delay, cpid):
        go.wait()
        if delay:
            time.sleep(delay)
        t0 = time.monotonic()
        try:
            kill_pid(cpid)
        finally:
            p = spate_dev("restart-control", self.inst.name, timeout=60)
        new_pid = int(p.stdout.strip().split("=", 1)[1])
        assert new_pid != cpid and pid_alive(new_pid), p.stdout
        self.kills += 1
        self.kill_restart_s = max(self.kill_restart_s, time.monotonic() - t0)

    def _applied(self, kind, req, before, after):
        """Whether after shows the operation done; (bool, why not)."""
        b = {s["ShardId"]: s for s in before}
        a = {s["ShardId"]: s for s in after}
        new = [s for sid, s in a.items() if sid not in b]
        opened = [s for s in after if is_open(s)]
        if kind == "split":
            p = a[req["ShardToSplit"]]
            lo, hi = hash_range(p)
            k = int(req["NewStartingHashKey"])
            kids = sorted((hash_range(s) for s in new if s.get("ParentShardId") == p["ShardId"]
                           and "AdjacentParentShardId" not in s))
            if is_open(p):
                return False, "parent still open"
            if kids != [(lo, k - 1), (k, hi)] or len(new) != 2:
                return False, "children %s, new shards %d" % (kids, len(new))
            return True, ""
        if kind == "merge":
            x, y = a[req["ShardToMerge"]], a[req["AdjacentShardToMerge"]]
            kids = [s for s in new if s.get("ParentShardId") == x["ShardId"] and
                    s.get("AdjacentParentShardId") == y["ShardId"]]
            if is_open(x) or is_open(y):
                return False, "a parent still open"
            if (len(kids) != 1 or len(new) != 1 or
                    hash_range(kids[0]) != (hash_range(x)[0], hash_range(y)[1])):
                return False, "children %s" % [(s["ShardId"], hash_range(s)) for s in new]
            return True, ""
        t = req["TargetShardCount"]
        if len(opened) != t:
            return False, "%d open shards, target %d" % (len(opened), t)
        even = HASH_SPACE // t
        worst = max(abs((hash_range(s)[1] - hash_range(s)[0] + 1) - even) for s in opened)
        if worst > even // 100:
            return False, "open ranges not near-equal (off by %d of %d)" % (worst, even)
        for s in new:
            ps = [p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p]
            if not ps or any(p not in a for p in ps):
                return False, "new shard %s with parents %s" % (s["ShardId"], ps)
        return True, ""


# ---- the run ---------------------------------------------------------------------------------

class Result:
    def __init__(self):
        self.summary = []
        self.problems = []
        self.oplog = []

    def line(self, prefix):
        return prefix + " " + " ".join("%s=%s" % kv for kv in self.summary)


def run(inst, env, cfg, loadgen_up=None):
    """One run on a fresh stream of inst; returns a Result (problems empty when it passed).
    loadgen_up(stream) starts the load-generator producer and returns its stop(), which
    returns the producer's counters."""
    t_start = time.monotonic()
    rng = random.Random(cfg.seed)
    tag = cfg.seed & 0xFFFFFFFF
    clients = Clients(env)
    setup = env.client(retries=True)
    stream = "reshard-%s" % uuid.uuid4().hex[:10]
    setup.create_stream(StreamName=stream, ShardCount=cfg.shards)
    wait_active(setup, stream)
    res = Result()

    readers = Readers(clients, stream, cfg.child_fallback)
    readers.start_roots(setup.list_shards(StreamName=stream)["Shards"])
    producers = [Producer(i, cfg, tag) for i in range(cfg.producers)]
    stop = threading.Event()
    pthreads = [clients.thread(p.run, clients, stream, stop) for p in producers]
    for t in pthreads:
        t.start()
    lg_stop, lg_counters = (loadgen_up(stream) if loadgen_up is not None else None), None
    reshaper = Reshaper(cfg, env, stream, inst, rng)
    mover = Mover(cfg, inst, stream, random.Random(rng.random()))
    ops_done = threading.Event()
    try:
        time.sleep(WARMUP_S + cfg.idle_s)
        # a thread of the root namespace: a kill's spate-dev restart-control starts control
        # from it, and a process inherits its starting thread's namespace
        abort = threading.Event()
        rt = threading.Thread(target=reshaper.run, args=(ops_done, OP_GAP_S, abort),
                              daemon=True)
        rt.start()
        mt = threading.Thread(target=mover.run, args=(abort,), daemon=True)
        mt.start()
        while not (ops_done.wait(0.5) and not mt.is_alive()):
            if any(p.broke for p in producers) or readers.broke:
                abort.set()
        rt.join(ACTIVE_TIMEOUT_S * 2)
        time.sleep(TAIL_S)
    finally:
        stop.set()
        for t in pthreads:
            t.join(READ_TIMEOUT_S + CONNECT_TIMEOUT_S + 5)
        if lg_stop is not None:
            lg_counters = lg_stop()
    t_produced = time.monotonic()

    wait_active(setup, stream)
    final = list_shards(setup, stream)
    readers.drain.set()
    drained_all = readers.join(DRAIN_TIMEOUT_S)
    t_drained = time.monotonic()
    described = describe_shards(setup, stream)

    problems = res.problems
    for p in producers:
        if p.broke:
            problems.append("producer %d broke: %r" % (p.pid, p.broke))
    if reshaper.broke:
        problems.append("reshaper broke: %s" % (reshaper.broke,))
    if mover.broke:
        problems.append("mover broke: %s" % (mover.broke,))
    if cfg.moves and not mover.done:
        problems.append("none of the %d moves was made" % cfg.moves)
    problems += ["reader %s" % b for b in readers.broke]
    if not drained_all:
        problems.append("readers still running %ss after the drain began" % DRAIN_TIMEOUT_S)
    problems += reshaper.problems + readers.problems
    if reshaper.done["update"] > USC_PER_DAY:
        problems.append("%d UpdateShardCount calls taken on one stream, the limit is %d a day" %
                        (reshaper.done["update"], USC_PER_DAY))
    snfo = [x for p in producers for x in p.snfo_not_above]
    if snfo and SNFO_STRICT:
        problems.append("%d PutRecord numbers not above their SequenceNumberForOrdering, e.g. "
                        "%d after %d on %s" % ((len(snfo),) + snfo[0][1::-1] + snfo[0][2:]))
    if cfg.ops and not sum(reshaper.done.values()):
        problems.append("none of the %d operations was applied" % cfg.ops)
    problems += shard_map_problems(final, described, readers)
    problems += record_problems(producers, readers, final, tag)
    lg_read = 0
    if lg_counters is not None:
        lg_probs, lg_read = loadgen_problems(readers, final, lg_counters)
        problems += lg_probs
    reread = 0
    if cfg.reread_restart and not problems:
        reread, probs = reread_after_restart(inst, clients, setup, stream, cfg, producers,
                                             final, tag, lg_counters)
        problems += probs

    ledger = [s for p in producers for s in p.sent.values()]
    acked = sum(1 for s in ledger if s.seq is not None)
    errors = {}
    for p in producers:
        for k, v in p.errors.items():
            errors[k] = errors.get(k, 0) + v
    res.summary = [
        ("seed", cfg.seed), ("kill_control", int(cfg.kill_control)), ("ops", cfg.ops),
        ("splits", reshaper.done["split"]), ("merges", reshaper.done["merge"]),
        ("updates", reshaper.done["update"]), ("usc_limited", reshaper.usc_limited),
        ("uncertain_applied", reshaper.uncertain_applied),
        ("uncertain_lost", reshaper.uncertain_lost), ("kills", reshaper.kills),
        ("max_restart_s", "%.1f" % reshaper.kill_restart_s),
        ("max_op_s", "%.1f" % max(reshaper.op_s or [0])),
        ("shards", len(final)), ("open", sum(map(is_open, final))),
        ("sent", len(ledger)), ("acked", acked),
        ("read", sum(len(r) for r in readers.reads.values())),
        ("put_calls", sum(p.calls for p in producers)),
        ("failed_calls", sum(p.failed_calls for p in producers)),
        ("entry_errors", sum(p.entry_errors for p in producers)),
        ("errors", ",".join("%s:%d" % kv for kv in sorted(errors.items())) or "-"),
        ("snfo_calls", sum(p.snfo_calls for p in producers)), ("snfo_not_above", len(snfo)),
        ("get_calls", readers.calls), ("get_throttled", readers.throttled),
        ("get_retried", readers.retried),
        ("lg_acked", lg_counters["lg_records_acked"] if lg_counters else 0),
        ("lg_read", lg_read), ("moves", mover.done), ("move_refused", mover.refused),
        ("move_uncertain", mover.uncertain),
        ("max_move_s", "%.3f" % max(mover.move_s or [0])), ("reread", reread),
        ("problems", len(problems)),
        ("produce_s", "%.1f" % (t_produced - t_start)),
        ("drain_s", "%.1f" % (t_drained - t_produced)),
        ("seconds", "%.1f" % (time.monotonic() - t_start))]
    across = reshaper.steps_across_kills() if inst is not None else (0, 0)
    res.summary.insert(11, ("kills_before_switch", across[0]))
    res.summary.insert(12, ("kills_before_finish", across[1]))
    res.oplog = reshaper.log + mover.log + [x for p in producers for x in p.examples]
    try:
        setup.delete_stream(StreamName=stream)
    except ClientError:
        pass
    return res


def reread_after_restart(inst, clients, setup, stream, cfg, producers, final, tag,
                         lg_counters):
    """kill -9 the dataplane, restart it, and read the whole stream again from TRIM_HORIZON:
    every record now comes from the stores (the new boot's rings are empty), a moved shard's
    from each worker that owned it in turn. The same record checks. Returns (records read,
    problems)."""
    inst.restart_dataplane(kill=True)
    again = Readers(clients, stream, cfg.child_fallback)
    again.drain.set()
    again.start_roots(list_shards(setup, stream))
    problems = []
    if not again.join(DRAIN_TIMEOUT_S):
        problems.append("re-read: readers still running %ss after the restart" %
                        DRAIN_TIMEOUT_S)
    problems += ["re-read: reader %s" % b for b in again.broke]
    problems += ["re-read: %s" % p for p in again.problems]
    problems += ["re-read: %s" % p for p in record_problems(producers, again, final, tag)]
    if lg_counters is not None:
        problems += ["re-read: %s" % p for p in loadgen_problems(again, final, lg_counters)[0]]
    # a moved shard's reads went from its past owner's store on to the owner's
    hops = inst.dataplane()["api"]["moves"]["cold_hops"]
    if cfg.moves and hops == 0:
        problems.append("re-read: no cold read was passed on from a past owner's store")
    return sum(len(r) for r in again.reads.values()), problems


def control_down(e):
    """Whether a failed control-socket call (harness AssertionError) failed because
    spate-control was down or restarting, not because it answered an error."""
    text = str(e)
    return any(m in text for m in ("closed before a reply", "no reply within",
                                   "Connection refused", "No such file", "Broken pipe",
                                   "Connection reset", "dataplane not connected"))


class Mover:
    """Moves random open shards of the stream to another worker through the control socket
    (shard_move) while the load runs, cfg.moves times, each waited for until the dataplane's
    status shows the shard's ring written by its new owner (the old one handed it over once
    its part was durable: docs/internals/reshard.md, "Moving a shard"). A worker that owned
    the shard before is no target (control refuses it until retention passes); a stream in
    a reshard is not ACTIVE, and control refuses the move: tried again after the gap."""

    def __init__(self, cfg, inst, stream, rng):
        self.cfg = cfg
        self.inst = inst
        self.stream = stream
        self.rng = rng
        self.done = 0
        self.refused = 0
        self.uncertain = 0
        self.move_s = []
        self.log = []
        self.broke = None
        self.max_load = 0.0  # the most load a dry-run plan reported during the moves

    def run(self, abort):
        try:
            for i in range(self.cfg.moves):
                if abort.is_set():
                    return
                self._gap(self.rng.uniform(*MOVE_GAP_S))
                self._one(i)
                if not self.cfg.kill_control:
                    self.max_load = max(self.max_load, self._plan_load())
            if self.cfg.moves and not self.cfg.kill_control:
                self._balance_plan()
        except Exception as e:  # noqa: BLE001 -- reported by the run
            self.broke = e

    def _gap(self, seconds):
        """Production between two moves, sampling the plan's load meanwhile (control measures
        every 5 s, and a reshard or a move leaves the shards it touched without a sample for
        a while: sampling only right after moves saw 0 on a loaded CI machine)."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.5, left))
            if not self.cfg.kill_control:
                self.max_load = max(self.max_load, self._plan_load())

    def _plan_load(self):
        """The total load a dry-run shard_balance reports now."""
        out = self.inst.rpc("shard_balance", {"dry_run": True})
        return sum(w["load"] for w in out["workers"])

    def _balance_plan(self):
        """shard_balance, dry: control's plan from the load it measured (every 5 s) while
        the producers ran: every worker listed, and load seen at some point of the run (right
        after a reshard or a move, the shards in force may have no sample yet: CI saw 0)."""
        out = self.inst.rpc("shard_balance", {"dry_run": True})
        workers = {w["worker"]: w for w in out["workers"]}
        assert out["dry_run"] is True and set(workers) == set(range(self.cfg.workers)), out
        total = max(self.max_load, sum(w["load"] for w in workers.values()))
        self.log.append("balance (dry run): %s; planned moves %s" % (
            ", ".join("worker %d: %d shards, load %.0f" % (w, v["shards"], v["load"])
                      for w, v in sorted(workers.items())),
            [(m["shard"], m["from"], m["to"]) for m in out["moves"]] or "none"))
        if total <= 0:
            raise AssertionError("shard_balance measured no load under the producers: %s" % out)

    def _rows(self):
        """The dataplane's shard rows of the stream, asked again while a kill (the kill
        variant) has spate-control down."""
        deadline = time.monotonic() + CONTROL_DOWN_S
        while True:
            try:
                return [r for r in self.inst.dataplane()["api"]["shards"]
                        if r["stream"] == self.stream]
            except AssertionError as e:
                if not control_down(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _arrived(self, shard, w):
        # a reshard may close the shard right after the move (the reshaper runs meanwhile):
        # its switch waits for the handover (applied), and a closed shard's ring may already
        # be drained (no writer shown), so closed under the new owner counts as arrived
        try:
            return any(x["shard"] == shard and x["owner"] == w and
                       (x.get("writer") == w or not x["open"]) for x in self._rows())
        except AssertionError as e:
            if control_down(e):
                return False
            raise

    def _one(self, i):
        rows = [r for r in self._rows() if r["open"] and r.get("writer") == r["owner"]]
        cands = [(r, w) for r in rows for w in range(self.cfg.workers)
                 if w != r["owner"] and w not in r.get("past_owners", [])]
        if not cands:
            self.log.append("move %d: no open shard with a worker to go to" % i)
            return
        r, w = self.rng.choice(sorted(cands, key=lambda c: (c[0]["shard"], c[1])))
        t0 = time.monotonic()
        try:
            if self.done == 0 and not self.cfg.kill_control:
                # the operator's way once: spatectl move, then spatectl shards shows the owner
                out = json.loads(self.inst.spatectl("--json", "move", self.stream, r["shard"],
                                                    str(w)).stdout)
            else:
                out = self.inst.rpc("shard_move", {"stream": self.stream,
                                                   "shard": r["shard"], "worker": w})
        except AssertionError as e:
            if "not ACTIVE" in str(e) or "still moving" in str(e) or "closed" in str(e):
                self.refused += 1
                self.log.append("move %d: %s -> %d refused: %s" % (i, r["shard"], w, e))
                return
            if control_down(e):
                # killed with the call in flight: the move happened or not (one transaction)
                self.uncertain += 1
                self.log.append("move %d: %s -> %d: control went down: %s" %
                                (i, r["shard"], w, str(e).splitlines()[0]))
                return
            raise
        assert out.get("moved") and out.get("to") == w, out
        wait_until(lambda: self._arrived(r["shard"], w), MOVE_TIMEOUT_S, interval=0.05,
                   what="%s's ring to be written by worker %d" % (r["shard"], w))
        dt = time.monotonic() - t0
        if self.done == 0 and not self.cfg.kill_control:
            rows = json.loads(self.inst.spatectl("--json", "--interval", "0", "shards",
                                                 self.stream).stdout)
            row = [x for x in rows if x["shard"] == r["shard"]]
            assert row and row[0]["owner"] == w and r["owner"] in row[0]["past_owners"], \
                "spatectl shards after moving %s to %d: %s" % (r["shard"], w, row)
        self.move_s.append(dt)
        self.done += 1
        self.log.append("move %d: %s worker %d -> %d in %.3f s" % (i, r["shard"], r["owner"],
                                                                  w, dt))


def describe_shards(c, stream):
    """Every shard DescribeStream lists (paged with ExclusiveStartShardId)."""
    out = []
    kw = {"StreamName": stream}
    while True:
        d = retry_call(c.describe_stream, "DescribeStream", **kw)["StreamDescription"]
        out += d["Shards"]
        if not d.get("HasMoreShards") or not d["Shards"]:
            return out
        kw["ExclusiveStartShardId"] = d["Shards"][-1]["ShardId"]


def shard_map_problems(final, described, readers):
    out = tiling_problems(final)
    ids = {s["ShardId"] for s in final}
    if {s["ShardId"]: s for s in described} != {s["ShardId"]: s for s in final}:
        out.append("DescribeStream and ListShards disagree: %s vs %s" % (
            sorted(s["ShardId"] for s in described), sorted(ids)))
    for s in final:
        sid = s["ShardId"]
        listed = {p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p}
        if sid in readers.parents and readers.parents[sid] != listed:
            out.append("%s: ChildShards named parents %s, ListShards %s" % (
                sid, sorted(readers.parents[sid]), sorted(listed)))
        if sid in readers.child_ranges and readers.child_ranges[sid] != hash_range(s):
            out.append("%s: ChildShards range %s, ListShards %s" % (
                sid, readers.child_ranges[sid], hash_range(s)))
        if is_open(s):
            if sid not in readers.drained:
                out.append("open shard %s not read to its end" % sid)
        elif sid not in readers.finished:
            out.append("closed shard %s not read to its null NextShardIterator" % sid)
        else:
            kids = {x["ShardId"] for x in final if sid in (x.get("ParentShardId"),
                                                           x.get("AdjacentParentShardId"))}
            if set(readers.children[sid]) != kids:
                out.append("%s: ChildShards %s, ListShards children %s" % (
                    sid, sorted(readers.children[sid]), sorted(kids)))
    for sid in readers.started - ids:
        out.append("read shard %s is not listed" % sid)
    return out


def record_problems(producers, readers, final, tag):
    out = []
    ledger = {(p.pid,) + ident: s for p in producers for ident, s in p.sent.items()}
    shards = {s["ShardId"]: s for s in final}
    seq_lo = {sid: int(s["SequenceNumberRange"]["StartingSequenceNumber"])
              for sid, s in shards.items()}
    seq_hi = {sid: int(s["SequenceNumberRange"].get("EndingSequenceNumber", 1 << 200))
              for sid, s in shards.items()}

    def in_shard(sid, hash_key, seq):
        s = shards.get(sid)
        if s is None:
            return "shard %s not listed" % sid
        lo, hi = hash_range(s)
        if not lo <= hash_key <= hi:
            return "hash %d outside %s [%d, %d]" % (hash_key, sid, lo, hi)
        if not seq_lo[sid] <= seq <= seq_hi[sid]:
            return "sequence number %d outside %s's range" % (seq, sid)
        return None

    seen = {}
    by_key = {}
    for sid, recs in sorted(readers.reads.items()):
        prev = None
        for seq, key, data, ix in recs:
            if prev is not None and seq <= prev:
                out.append("%s: %d after %d" % (sid, seq, prev))
            prev = seq
            if key.startswith(LG_PREFIX):
                continue  # the load generator's: loadgen_problems()
            head = data[:HEADER.size]
            if len(head) < HEADER.size or HEADER.unpack(head)[:2] != (MAGIC, tag):
                out.append("%s %d: not a record of this run: %r" % (sid, seq, head))
                continue
            ident = HEADER.unpack(head)[2:]
            s = ledger.get(ident)
            if s is None:
                out.append("%s %d: %s was never sent" % (sid, seq, ident))
                continue
            if (s.digest, s.key) != (digest(data), key):
                out.append("%s %d: %s differs from what was sent" % (sid, seq, ident))
            if ident in seen:
                out.append("%s read twice: %s %d and %s %d" % ((ident,) + seen[ident] +
                                                               (sid, seq)))
                continue
            seen[ident] = (sid, seq)
            bad = in_shard(sid, s.hash, seq)
            if bad:
                out.append("%s read at %s %d: %s" % (ident, sid, seq, bad))
            if s.seq is not None and (s.shard, s.seq) != (sid, seq):
                out.append("%s acknowledged as %s %d, read at %s %d" %
                           (ident, s.shard, s.seq, sid, seq))
            by_key.setdefault(ident[:2], []).append((ix, ident[2], s.seq is not None))
    missing = {}  # shard -> [ident] acknowledged there and not read
    for ident, s in sorted(ledger.items()):
        if s.seq is None:
            continue
        if ident not in seen:
            missing.setdefault(s.shard, []).append(ident)
        bad = in_shard(s.shard, s.hash, s.seq)
        if bad:
            out.append("%s acknowledged as %s %d: %s" % (ident, s.shard, s.seq, bad))
    for sid, idents in sorted(missing.items()):
        out.append("%d records acknowledged on %s not read, e.g. %s at %d" % (
            len(idents), sid, idents[0], ledger[idents[0]].seq))
    acks = [(s.shard, s.seq) for s in ledger.values() if s.seq is not None]
    if len(set(acks)) != len(acks):
        out.append("%d acknowledgements share a shard and number" % (len(acks) - len(set(acks))))
    for key, recs in sorted(by_key.items()):
        recs.sort()
        for (_, c0, _), (_, c1, acked) in zip(recs, recs[1:]):
            if c1 <= c0:
                out.append("producer %d key %d: counter %d read after %d%s" % (
                    key + (c1, c0, "" if acked else " (unacknowledged)")))
    return out


def loadgen_problems(readers, final, counters):
    """The load generator's records (keys lg-w<w>-s<k>, data "<w>.<k>.<n>" padded with '.'):
    each read once, on a shard whose range holds MD5(key), per key in counter order (in read
    order, as one KCL worker would see them) with no gap, and no fewer than were acknowledged.
    Returns (problems, records read)."""
    out = []
    shards = {s["ShardId"]: s for s in final}
    seen = set()
    by_key = {}
    for sid, recs in sorted(readers.reads.items()):
        for seq, key, data, ix in recs:
            if not key.startswith(LG_PREFIX):
                continue
            try:
                w, k, n = data.decode().rstrip(".").split(".")
                ident = (int(w), int(k), int(n))
            except ValueError:
                out.append("%s %d: load generator record %r malformed" % (sid, seq, data[:40]))
                continue
            if key != "%sw%d-s%d" % (LG_PREFIX, ident[0], ident[1]):
                out.append("%s %d: key %s carries %s" % (sid, seq, key, ident))
            if ident in seen:
                out.append("load generator record %s read twice" % (ident,))
                continue
            seen.add(ident)
            lo, hi = hash_range(shards[sid]) if sid in shards else (1, 0)
            if not lo <= md5_hash_key(key) <= hi:
                out.append("load generator record %s read at %s, outside its hash range" %
                           (ident, sid))
            by_key.setdefault(key, []).append((ix, ident[2]))
    for key, recs in sorted(by_key.items()):
        recs.sort()
        ns = [n for _, n in recs]
        if ns != sorted(ns):
            i = next(i for i in range(1, len(ns)) if ns[i] < ns[i - 1])
            out.append("load generator key %s: counter %d read after %d" % (key, ns[i], ns[i - 1]))
        if sorted(ns) != list(range(len(ns))):
            out.append("load generator key %s: %d records, counters up to %d (a gap)" % (
                key, len(ns), max(ns)))
    if len(seen) < counters["lg_records_acked"]:
        out.append("load generator: %d records acknowledged, %d read" % (
            counters["lg_records_acked"], len(seen)))
    if counters.get("lg_records_failed") or counters.get("lg_errors"):
        out.append("load generator: %d records refused, %d errors" % (
            counters.get("lg_records_failed", 0), counters.get("lg_errors", 0)))
    return out, len(seen)

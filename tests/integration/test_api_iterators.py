"""Shard iterators (and NextTokens) over time and across a dataplane restart.

Time travel: the advance_clock fixture moves Spate's test clock (control method
clock_offset_set, allowed only when the instance runs with test_services), which shifts the time
shard iterators and NextTokens are issued and expire at, and nothing else: requests keep being
signed with the real clock, and records keep real arrival times. The fixture puts the clock back
after each test.

Restart: AWS iterators stay valid for 5 minutes whatever happens to a server. Spate seals them
under a key derived from the catalog's persistent token key, so an iterator taken before the
dataplane crashes still reads after it comes back. The restart disturbs the session instance:
conftest.py runs this module after the others.
"""
import datetime
import re
import time

import pytest

from kinesis_env import client_error

SHARD0 = "shardId-000000000000"
LIFETIME_S = 300
JAVA_DATE = "%a %b %d %H:%M:%S UTC %Y"
EXPIRED_RE = re.compile(
    r"Iterator expired\. The iterator was created at time (.+) while right now it is (.+) which "
    r"is further in the future than the tolerated delay of 300000 milliseconds\.")


def _iterator(c, name, kind="TRIM_HORIZON"):
    return c.get_shard_iterator(StreamName=name, ShardId=SHARD0,
                                ShardIteratorType=kind)["ShardIterator"]


def _java_date(text):
    return datetime.datetime.strptime(text, JAVA_DATE).replace(
        tzinfo=datetime.timezone.utc).timestamp()


def _datas(records):
    return [r["Data"] for r in records]


# ---- time travel ------------------------------------------------------------------------------

def test_iterator_expiry_follows_the_clock(kenv, streams, advance_clock):
    c = kenv.client()
    name = streams.create()
    t0 = time.time()
    it0 = _iterator(c, name)
    advance_clock(LIFETIME_S - 1)
    # 299 s old: still valid; what it hands out is issued on the moved clock
    it1 = c.get_records(ShardIterator=it0)["NextShardIterator"]
    fresh = _iterator(c, name)
    advance_clock(2)
    t, msg, status, _ = client_error(c.get_records, ShardIterator=it0)
    assert (t, status) == ("ExpiredIteratorException", 400), (t, status, msg)
    m = EXPIRED_RE.fullmatch(msg)
    assert m, msg
    created, now = _java_date(m.group(1)), _java_date(m.group(2))
    elapsed = time.time() - t0
    assert abs(created - t0) <= 2, (msg, t0)
    # 301 s on the moved clock, plus the real time the test took (dates have whole seconds)
    assert LIFETIME_S <= now - created <= LIFETIME_S + 2 + elapsed, msg
    # 2 s old on the moved clock: valid
    for it in (it1, fresh):
        assert c.get_records(ShardIterator=it)["Records"] == []


def test_clock_moves_iterators_only(kenv, streams, advance_clock):
    """SigV4 still checks against the real clock (a 301 s skew would be refused), and records
    get real arrival times."""
    c = kenv.client()
    name = streams.create()
    advance_clock(LIFETIME_S + 1)
    c.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    now = time.time()
    recs = c.get_records(ShardIterator=_iterator(c, name))["Records"]
    assert _datas(recs) == [b"x"]
    assert abs(recs[0]["ApproximateArrivalTimestamp"].timestamp() - now) < 5


def test_clock_is_back_after_a_test(kenv):
    """The advance_clock fixture put the clock back after the tests above."""
    if not kenv.is_spate:
        pytest.skip("Spate's test clock only")
    assert kenv.instance.dataplane()["api"]["iter_clock_offset_ms"] == 0


def test_expired_next_token(kenv, streams, advance_clock):
    advance_clock(0)  # skips here on an endpoint without a clock to move (kinesalite)
    c = kenv.client()
    name = streams.create(shards=2)
    tok = c.list_shards(StreamName=name, MaxResults=1)["NextToken"]
    advance_clock(LIFETIME_S - 1)
    assert len(c.list_shards(NextToken=tok, MaxResults=1)["Shards"]) == 1
    fresh = c.list_shards(StreamName=name, MaxResults=1)["NextToken"]
    advance_clock(2)
    t, msg, status, _ = client_error(c.list_shards, NextToken=tok)
    assert (t, status) == ("ExpiredNextTokenException", 400), (t, status, msg)
    # issued on the moved clock: 2 s old
    assert len(c.list_shards(NextToken=fresh)["Shards"]) == 1


# ---- a dataplane restart ---------------------------------------------------------------------

@pytest.mark.spate_only
def test_iterator_survives_dataplane_restart(kenv, streams):
    if kenv.instance is None:
        pytest.skip("needs a Spate instance to restart")
    c = kenv.client(retries=True)
    name = streams.create()
    before = [b"before-%d" % i for i in range(3)]
    for d in before:
        c.put_record(StreamName=name, Data=d, PartitionKey="k")
    horizon = _iterator(c, name)
    latest = _iterator(c, name, "LATEST")
    r = c.get_records(ShardIterator=horizon)
    assert _datas(r["Records"]) == before
    nxt = r["NextShardIterator"]

    old_pid = kenv.instance.dataplane_pid
    kenv.instance.restart_dataplane(kill=True)
    assert kenv.instance.dataplane_pid != old_pid

    c = kenv.client(retries=True)  # the old connections died with the process
    after = [b"after-%d" % i for i in range(3)]
    for d in after:
        c.put_record(StreamName=name, Data=d, PartitionKey="k")
    for it in (latest, nxt):
        r = c.get_records(ShardIterator=it)
        assert _datas(r["Records"]) == after
        assert r["NextShardIterator"]
    # records from before the crash come back from the store (cold read), then the ring's
    got = _datas(c.get_records(ShardIterator=horizon)["Records"])
    assert got == before + after, got

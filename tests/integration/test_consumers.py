"""Enhanced fan-out consumers through the real appliance (reference §3.6, §6.1): boto3 for
RegisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers (its paginator too),
DeregisterStreamConsumer, DeleteStream's EnforceConsumerDeletion and DescribeStreamSummary's
ConsumerCount; raw signed requests for what botocore 1.29 lacks (RegisterStreamConsumer's Tags)
or checks itself (patterns). The lifecycle runs on spate-control's timer (CREATING -> ACTIVE
after --consumer-activate-ms, DELETING -> gone after --consumer-delete-ms, 1000 ms each by
default), so the tests poll. `spatectl consumers` shows the catalog's view.
"""
import json
import re
import time

import pytest

from kinesis_env import expect_client_error, expect_raw_error, expect_validation

STEP_TIMEOUT_S = 15  # a timed step (1 s by default) is taken well within this
CARN_RE = (r"^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/"
           r"[a-zA-Z0-9_.-]+:[0-9]+")


def _summary(c, name):
    return c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]


def _status(c, arn):
    return c.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]["ConsumerStatus"]


def _wait_status(c, arn, want):
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while True:
        got = _status(c, arn)
        if got == want:
            return
        assert time.monotonic() < deadline, "consumer %s still %s, wanted %s" % (arn, got, want)
        time.sleep(0.2)


def _wait_gone(c, arn):
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while True:
        try:
            c.describe_stream_consumer(ConsumerARN=arn)
        except c.exceptions.ResourceNotFoundException:
            return
        assert time.monotonic() < deadline, "consumer %s not gone" % arn
        time.sleep(0.2)


def _register(c, stream_arn, name):
    return c.register_stream_consumer(StreamARN=stream_arn, ConsumerName=name)["Consumer"]


def test_lifecycle(kenv, streams):
    c = kenv.client()
    name = streams.create()
    summ = _summary(c, name)
    sarn = summ["StreamARN"]
    acct = sarn.split(":")[4]
    assert summ["ConsumerCount"] == 0

    before = time.time()
    cons = _register(c, sarn, "app-1")
    assert cons["ConsumerName"] == "app-1"
    assert cons["ConsumerStatus"] == "CREATING"
    m = re.fullmatch(re.escape(sarn) + r"/consumer/app-1:(\d+)", cons["ConsumerARN"])
    assert m, cons["ConsumerARN"]
    created = cons["ConsumerCreationTimestamp"].timestamp()
    assert int(m.group(1)) == int(created)
    assert before - 5 <= created <= time.time() + 5
    arn = cons["ConsumerARN"]

    # the three ways of naming it describe the same consumer
    d1 = c.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
    d2 = c.describe_stream_consumer(StreamARN=sarn, ConsumerName="app-1")["ConsumerDescription"]
    d3 = c.describe_stream_consumer(StreamARN=sarn, ConsumerName="app-1",
                                    ConsumerARN=arn)["ConsumerDescription"]
    assert d1["StreamARN"] == sarn and d1["ConsumerARN"] == arn
    assert d1["ConsumerName"] == d2["ConsumerName"] == d3["ConsumerName"] == "app-1"
    assert _summary(c, name)["ConsumerCount"] == 1

    _wait_status(c, arn, "ACTIVE")
    listed = c.list_stream_consumers(StreamARN=sarn)["Consumers"]
    assert [(x["ConsumerName"], x["ConsumerARN"], x["ConsumerStatus"]) for x in listed] == \
        [("app-1", arn, "ACTIVE")]

    # a name in use cannot be registered again
    expect_client_error(c.register_stream_consumer, "ResourceInUseException",
                        "Consumer app-1 already exists for stream %s under account %s."
                        % (name, acct), StreamARN=sarn, ConsumerName="app-1")

    c.deregister_stream_consumer(StreamARN=sarn, ConsumerName="app-1")
    assert _status(c, arn) in ("DELETING",)
    assert _summary(c, name)["ConsumerCount"] == 0
    c.deregister_stream_consumer(ConsumerARN=arn)  # again while DELETING: no error
    _wait_gone(c, arn)
    expect_client_error(c.describe_stream_consumer, "ResourceNotFoundException",
                        "Consumer %s under account %s not found." % (arn, acct), ConsumerARN=arn)

    # registered again (a second later at least): a new ARN
    time.sleep(1.1)
    again = _register(c, sarn, "app-1")["ConsumerARN"]
    assert again != arn


def test_errors(kenv, streams):
    c = kenv.client()
    name = streams.create()
    other = streams.create()
    sarn = _summary(c, name)["StreamARN"]
    oarn = _summary(c, other)["StreamARN"]
    acct = sarn.split(":")[4]
    arn = _register(c, sarn, "x")["ConsumerARN"]

    gone_arn = sarn + "-gone"
    expect_client_error(c.register_stream_consumer, "ResourceNotFoundException",
                        "Stream %s-gone under account %s not found." % (name, acct),
                        StreamARN=gone_arn, ConsumerName="x")
    either = "Either ConsumerARN or both StreamARN and ConsumerName must be provided."
    for op in (c.describe_stream_consumer, c.deregister_stream_consumer):
        expect_client_error(op, "InvalidArgumentException", either)
        expect_client_error(op, "InvalidArgumentException", either, StreamARN=sarn)
        expect_client_error(op, "InvalidArgumentException",
                            "ConsumerName y does not match the consumer of ConsumerARN %s." % arn,
                            ConsumerARN=arn, ConsumerName="y")
        expect_client_error(op, "InvalidArgumentException",
                            "StreamARN %s does not match the stream of ConsumerARN %s."
                            % (oarn, arn), ConsumerARN=arn, StreamARN=oarn)
        expect_client_error(op, "ResourceNotFoundException",
                            "Consumer x of stream %s under account %s not found." % (other, acct),
                            StreamARN=oarn, ConsumerName="x")
        expect_client_error(op, "ResourceNotFoundException",
                            "Consumer %s/consumer/x:1 under account %s not found." % (sarn, acct),
                            ConsumerARN=sarn + "/consumer/x:1")

    # what botocore does not check reaches the server's step 11
    r = kenv.call("RegisterStreamConsumer", {"StreamARN": sarn, "ConsumerName": "a b"})
    expect_validation(kenv, r, [
        "Value 'a b' at 'consumerName' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: [a-zA-Z0-9_.-]+"])
    r = kenv.call("DescribeStreamConsumer", {"ConsumerARN": sarn + "/consumer/x"})
    expect_validation(kenv, r, [
        "Value '%s/consumer/x' at 'consumerARN' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: %s" % (sarn, CARN_RE)])
    r = kenv.call("ListStreamConsumers", {"MaxResults": 0})
    expect_validation(kenv, r, [
        "Value null at 'streamARN' failed to satisfy constraint: Member must not be null",
        "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value "
        "greater than or equal to 1"])


def test_limits(kenv, streams):
    c = kenv.client()
    name = streams.create()
    sarn = _summary(c, name)["StreamARN"]
    acct = sarn.split(":")[4]
    arns = [_register(c, sarn, "c%02d" % i)["ConsumerARN"] for i in range(5)]
    expect_client_error(c.register_stream_consumer, "LimitExceededException",
                        "Stream %s under account %s already has 5 consumers in CREATING state; "
                        "wait for one to become ACTIVE." % (name, acct),
                        StreamARN=sarn, ConsumerName="c05")
    for i in range(5, 20, 5):
        _wait_status(c, arns[-1], "ACTIVE")
        arns += [_register(c, sarn, "c%02d" % j)["ConsumerARN"] for j in range(i, i + 5)]
    expect_client_error(c.register_stream_consumer, "LimitExceededException",
                        "Stream %s under account %s already has 20 registered consumers, the "
                        "most a stream may have." % (name, acct),
                        StreamARN=sarn, ConsumerName="c20")
    _wait_status(c, arns[-1], "ACTIVE")
    assert _summary(c, name)["ConsumerCount"] == 20

    # paging: the paginator walks pages of 3; every consumer once, in name order
    pages = list(c.get_paginator("list_stream_consumers").paginate(
        StreamARN=sarn, PaginationConfig={"PageSize": 3}))
    assert [len(p["Consumers"]) for p in pages] == [3] * 6 + [2]
    names = [x["ConsumerName"] for p in pages for x in p["Consumers"]]
    assert names == ["c%02d" % i for i in range(20)]
    assert all(x["ConsumerStatus"] == "ACTIVE" for p in pages for x in p["Consumers"])


def test_next_token_expiry(kenv, streams, advance_clock):
    c = kenv.client()
    name = streams.create()
    sarn = _summary(c, name)["StreamARN"]
    for n in ("a", "b"):
        _register(c, sarn, n)
    first = c.list_stream_consumers(StreamARN=sarn, MaxResults=1)
    assert [x["ConsumerName"] for x in first["Consumers"]] == ["a"]
    tok = first["NextToken"]
    expect_client_error(c.list_stream_consumers, "InvalidArgumentException",
                        "NextToken and StreamCreationTimestamp cannot be provided together.",
                        StreamARN=sarn, NextToken=tok,
                        StreamCreationTimestamp=_summary(c, name)["StreamCreationTimestamp"])
    advance_clock(301)
    expect_client_error(c.list_stream_consumers, "ExpiredNextTokenException",
                        "The NextToken has expired: it was issued more than 300 seconds ago.",
                        StreamARN=sarn, NextToken=tok)


def test_delete_stream_with_consumers(kenv, streams):
    c = kenv.client()
    name = streams.create()
    sarn = _summary(c, name)["StreamARN"]
    acct = sarn.split(":")[4]
    arn = _register(c, sarn, "keep")["ConsumerARN"]
    msg = ("Stream %s under account %s has 1 registered consumer(s); deregister them first, "
           "or set EnforceConsumerDeletion to delete them with the stream." % (name, acct))
    expect_client_error(c.delete_stream, "ResourceInUseException", msg, StreamName=name)
    expect_client_error(c.delete_stream, "ResourceInUseException", msg, StreamName=name,
                        EnforceConsumerDeletion=False)
    c.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    _wait_gone(c, arn)
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while name in c.list_streams()["StreamNames"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)


@pytest.mark.spate_only
def test_tags_and_spatectl(kenv, streams, instance):
    c = kenv.client()
    name = streams.create()
    sarn = _summary(c, name)["StreamARN"]
    r = kenv.call("RegisterStreamConsumer",
                  {"StreamARN": sarn, "ConsumerName": "tagged", "Tags": {"team": "data"}})
    assert r.status == 200, r
    arn = r.json()["Consumer"]["ConsumerARN"]
    r = kenv.call("ListTagsForResource", {"ResourceARN": arn})
    assert r.status == 200, r
    assert r.json() == {"Tags": [{"Key": "team", "Value": "data"}]}
    r = kenv.call("RegisterStreamConsumer",
                  {"StreamARN": sarn, "ConsumerName": "bad", "Tags": {"a%": ""}})
    expect_raw_error(kenv, r, "InvalidArgumentException",
                     "Some tags contain invalid characters. Valid characters: Unicode letters, "
                     "digits, white space, _ . : / = + - @.")
    _wait_status(c, arn, "ACTIVE")

    # the catalog's view, through the control socket: the JSON and the table
    p = instance.spatectl("--json", "consumers", name)
    rows = json.loads(p.stdout)
    assert [(x["stream"], x["name"], x["arn"], x["status"]) for x in rows] == \
        [(name, "tagged", arn, "ACTIVE")]
    assert isinstance(rows[0]["created_ms"], int)
    p = instance.spatectl("consumers", name)
    assert p.stdout.startswith("1 consumers\n"), p.stdout
    head, row = p.stdout.splitlines()[-2:]
    assert head.split() == ["STREAM", "CONSUMER", "STATUS", "CREATED", "ARN"], p.stdout
    # table cells are cut at spatectl's cell width; --json has the whole ARN
    assert row.split()[:3] == [name, "tagged", "ACTIVE"] and arn.startswith(row.split()[4])
    p = instance.spatectl("--json", "consumers", name + "-none")
    assert json.loads(p.stdout) == []

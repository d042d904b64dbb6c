"""Stream tags, enhanced monitoring and DescribeLimits (reference §3.4, §3.5, §5), through
boto3, the AWS CLI and raw signed HTTP.

AddTagsToStream / RemoveTagsFromStream / ListTagsForStream, Enable/DisableEnhancedMonitoring and
DescribeLimits go through boto3 and the CLI. The system botocore (1.29) and CLI (2.9) predate
TagResource, UntagResource, ListTagsForResource, CreateStream's Tags and the StreamARN members,
so those go as raw signed requests, as do the texts botocore's own checks would stop (empty
maps and lists). Every documented error is checked with its exact `__type` and message.
"""

import pytest

from kinesis_env import (cli_json, expect_cli_error, expect_client_error, expect_raw_error,
                         expect_validation, unique_name, wait_active)

TAG_CHARS = ("Some tags contain invalid characters. Valid characters: Unicode letters, digits, "
             "white space, _ . / = + - % @.")
TAG_CHARS_RES = ("Some tags contain invalid characters. Valid characters: Unicode letters, "
                 "digits, white space, _ . : / = + - @.")
ILLEGAL = ("because some tags contained illegal characters. The allowed characters are Unicode "
           "letters, white-spaces, '_',',','/','=','+','-','@'.")
METRICS = ["IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
           "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded",
           "IteratorAgeMilliseconds"]
METRICS_ENUM = "[%s, ALL]" % ", ".join(METRICS)
RESOURCE_RE = r"arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+"


def _item(value, path, constraint):
    return "Value %s at '%s' failed to satisfy constraint: %s" % (value, path, constraint)


def _too_many(name, acct):
    return ("Failed to add tags to stream %s under account %s because a given stream cannot "
            "have more than 10 tags associated with it." % (name, acct))


def _not_found(name, acct):
    return "Stream %s under account %s not found." % (name, acct)


def _ok(resp):
    assert resp.status == 200, resp
    return resp.json()


def _tags(c, name, **kw):
    r = c.list_tags_for_stream(StreamName=name, **kw)
    return [(t["Key"], t["Value"]) for t in r["Tags"]], r["HasMoreTags"]


# ---- AddTagsToStream, RemoveTagsFromStream, ListTagsForStream --------------------------------

def test_stream_tags_boto3(kenv, streams):
    c = kenv.client()
    name = streams.create()
    assert _tags(c, name) == ([], False)
    c.add_tags_to_stream(StreamName=name, Tags={"team": "data", "env": "prod", "a b": ""})
    assert _tags(c, name) == ([("a b", ""), ("env", "prod"), ("team", "data")], False)
    c.add_tags_to_stream(StreamName=name, Tags={"env": "test"})  # overwrite
    assert _tags(c, name, Limit=2) == ([("a b", ""), ("env", "test")], True)
    assert _tags(c, name, ExclusiveStartTagKey="env") == ([("team", "data")], False)
    c.remove_tags_from_stream(StreamName=name, TagKeys=["env", "no-such-key"])
    assert _tags(c, name) == ([("a b", ""), ("team", "data")], False)
    # Unicode letters in kinesalite's ranges, and the punctuation of the set
    c.add_tags_to_stream(StreamName=name, Tags={"été": "_./=+-@ ", "中": "가"})
    assert _tags(c, name, ExclusiveStartTagKey="team") == (
        [("été", "_./=+-@ "), ("中", "가")], False)


def test_stream_tags_cli(kenv, streams):
    name = streams.create()
    cli_json(kenv.cli("add-tags-to-stream", "--stream-name", name,
                       "--tags", "owner=ops,tier=gold"))
    out = cli_json(kenv.cli("list-tags-for-stream", "--stream-name", name))
    assert out == {"Tags": [{"Key": "owner", "Value": "ops"}, {"Key": "tier", "Value": "gold"}],
                   "HasMoreTags": False}
    cli_json(kenv.cli("remove-tags-from-stream", "--stream-name", name, "--tag-keys", "owner"))
    out = cli_json(kenv.cli("list-tags-for-stream", "--stream-name", name, "--limit", "1"))
    assert out == {"Tags": [{"Key": "tier", "Value": "gold"}], "HasMoreTags": False}
    acct = kenv.account_id(name)
    expect_cli_error(kenv.cli("add-tags-to-stream", "--stream-name", name, "--tags", '{"a$": "1"}'),
               "InvalidArgumentException", "AddTagsToStream", TAG_CHARS)
    expect_cli_error(kenv.cli("list-tags-for-stream", "--stream-name", name + "-x"),
               "ResourceNotFoundException", "ListTagsForStream", _not_found(name + "-x", acct))


def test_stream_tag_errors(kenv, streams):
    c = kenv.client()
    name = streams.create()
    acct = kenv.account_id(name)
    gone = unique_name("gone")
    for fn, kw in ((c.add_tags_to_stream, {"Tags": {"a": "1"}}),
                   (c.remove_tags_from_stream, {"TagKeys": ["a"]}),
                   (c.list_tags_for_stream, {})):
        expect_client_error(fn, "ResourceNotFoundException", _not_found(gone, acct),
                            StreamName=gone, **kw)
    for tags in ({"a$": "1"}, {"a": "tab\there"}, {"aws:x": "1"}, {"a%": "1", "b": "#"}):
        expect_client_error(c.add_tags_to_stream, "InvalidArgumentException", TAG_CHARS,
                            StreamName=name, Tags=tags)
    expect_client_error(c.add_tags_to_stream, "InvalidArgumentException",
                        "Failed to add tags to stream %s under account %s %s" % (
                            name, acct, ILLEGAL),
                        StreamName=name, Tags={"a": "50%"})
    expect_client_error(c.remove_tags_from_stream, "InvalidArgumentException", TAG_CHARS,
                        StreamName=name, TagKeys=["ok", "b!"])
    expect_client_error(c.remove_tags_from_stream, "InvalidArgumentException",
                        "Failed to remove tags from stream %s under account %s %s" % (
                            name, acct, ILLEGAL),
                        StreamName=name, TagKeys=["%"])
    # 50 per stream: overwriting is fine at 50, one new key is not
    c.add_tags_to_stream(StreamName=name, Tags={"k%02d" % i: "v" for i in range(50)})
    c.add_tags_to_stream(StreamName=name, Tags={"k07": "w"})
    expect_client_error(c.add_tags_to_stream, "InvalidArgumentException",
                        _too_many(name, acct), StreamName=name, Tags={"new": "v"})
    tags, more = _tags(c, name, ExclusiveStartTagKey="k06", Limit=1)
    assert (tags, more) == ([("k07", "w")], True)
    assert _tags(c, name, ExclusiveStartTagKey="k49") == ([], False)
    # the selector
    r = kenv.call("AddTagsToStream", {"Tags": {"a": "1"}})
    expect_raw_error(kenv, r, "InvalidArgumentException",
                     "Neither StreamName nor StreamARN was provided.")


def test_stream_tag_validation(kenv, streams):
    name = streams.create()
    r = kenv.call("AddTagsToStream", {"StreamName": name})
    expect_validation(kenv, r, [_item("null", "tags", "Member must not be null")])
    r = kenv.call("AddTagsToStream", {"StreamName": name, "Tags": {}})
    expect_validation(kenv, r, [_item("'{}'", "tags",
                                      "Member must have length greater than or equal to 1")])
    r = kenv.call("AddTagsToStream", {"StreamName": name, "Tags": {"k" * 129: "v"}})
    expect_validation(kenv, r, [_item("'{%s=v}'" % ("k" * 129), "tags",
                                      "Map keys must satisfy constraint: [Member must have "
                                      "length less than or equal to 128, Member must have "
                                      "length greater than or equal to 1]")])
    r = kenv.call("AddTagsToStream", {"StreamName": name, "Tags": {"k": "v" * 257}})
    expect_validation(kenv, r, [_item("'{k=%s}'" % ("v" * 257), "tags",
                                      "Map value must satisfy constraint: [Member must have "
                                      "length less than or equal to 256, Member must have "
                                      "length greater than or equal to 0]")])
    r = kenv.call("RemoveTagsFromStream", {"StreamName": name, "TagKeys": []})
    expect_validation(kenv, r, [_item("'[]'", "tagKeys",
                                      "Member must have length greater than or equal to 1")])
    r = kenv.call("RemoveTagsFromStream", {"StreamName": name, "TagKeys": ["k"] * 51})
    expect_validation(kenv, r, [_item("'[%s]'" % ", ".join(["k"] * 51), "tagKeys",
                                      "Member must have length less than or equal to 50")])
    r = kenv.call("RemoveTagsFromStream", {"StreamName": name, "TagKeys": ["a", ""]})
    expect_validation(kenv, r, [_item("'[a, ]'", "tagKeys",
                                      "Member must satisfy constraint: [Member must have length "
                                      "less than or equal to 128, Member must have length "
                                      "greater than or equal to 1]")])
    r = kenv.call("RemoveTagsFromStream", {"StreamName": name, "TagKeys": "a"})
    expect_raw_error(kenv, r, "SerializationException", "Expected list or null",
                     message_key="Message")
    r = kenv.call("ListTagsForStream", {"StreamName": name, "Limit": 51,
                                        "ExclusiveStartTagKey": ""})
    expect_validation(kenv, r, [
        _item("'51'", "limit", "Member must have value less than or equal to 50"),
        _item("''", "exclusiveStartTagKey",
              "Member must have length greater than or equal to 1")])


@pytest.mark.spate_only
def test_create_stream_tags_and_arn_selector(kenv, streams):
    c = kenv.client()
    name = streams.name()
    _ok(kenv.call("CreateStream", {"StreamName": name, "ShardCount": 1,
                                   "Tags": {"team": "data"}}))
    arn = wait_active(c, name)["StreamARN"]
    acct = kenv.account_id(name)
    assert _tags(c, name) == ([("team", "data")], False)
    _ok(kenv.call("AddTagsToStream", {"StreamARN": arn, "Tags": {"b": "2"}}))
    body = _ok(kenv.call("ListTagsForStream", {"StreamARN": arn}))
    assert body == {"Tags": [{"Key": "b", "Value": "2"}, {"Key": "team", "Value": "data"}],
                    "HasMoreTags": False}
    # the rules of AddTagsToStream; nothing is created on a refusal
    other = unique_name("tagged")
    r = kenv.call("CreateStream", {"StreamName": other, "ShardCount": 1,
                                   "Tags": {"k%02d" % i: "v" for i in range(51)}})
    expect_raw_error(kenv, r, "InvalidArgumentException", _too_many(other, acct))
    r = kenv.call("CreateStream", {"StreamName": other, "ShardCount": 1, "Tags": {"a&b": "1"}})
    expect_raw_error(kenv, r, "InvalidArgumentException", TAG_CHARS)
    expect_client_error(c.describe_stream_summary, "ResourceNotFoundException",
                        _not_found(other, acct), StreamName=other)


# ---- TagResource, UntagResource, ListTagsForResource -----------------------------------------

@pytest.mark.spate_only
def test_resource_tags(kenv, streams):
    c = kenv.client()
    name = streams.create()
    arn = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    acct = kenv.account_id(name)
    assert _ok(kenv.call("ListTagsForResource", {"ResourceARN": arn})) == {"Tags": []}
    r = kenv.call("TagResource", {"ResourceARN": arn, "Tags": {"app:name": "x", "b": ""}})
    assert (r.status, r.body) == (200, b""), r
    c.add_tags_to_stream(StreamName=name, Tags={"c": "3"})
    assert _ok(kenv.call("ListTagsForResource", {"ResourceARN": arn})) == {"Tags": [
        {"Key": "app:name", "Value": "x"}, {"Key": "b", "Value": ""},
        {"Key": "c", "Value": "3"}]}
    _ok(kenv.call("UntagResource", {"ResourceARN": arn, "TagKeys": ["b", "zz"]}))
    assert _tags(c, name) == ([("app:name", "x"), ("c", "3")], False)

    r = kenv.call("TagResource", {"ResourceARN": arn, "Tags": {"aws:owner": "x"}})
    expect_raw_error(kenv, r, "InvalidArgumentException",
                     "Tag keys beginning with aws: are reserved for AWS use.")
    r = kenv.call("TagResource", {"ResourceARN": arn, "Tags": {"a": "5%"}})
    expect_raw_error(kenv, r, "InvalidArgumentException", TAG_CHARS_RES)
    r = kenv.call("UntagResource", {"ResourceARN": arn, "TagKeys": ["a#"]})
    expect_raw_error(kenv, r, "InvalidArgumentException", TAG_CHARS_RES)
    r = kenv.call("TagResource", {"ResourceARN": arn,
                                  "Tags": {"k%02d" % i: "v" for i in range(49)}})
    expect_raw_error(kenv, r, "InvalidArgumentException",
                     "Failed to tag resource %s under account %s because a given resource "
                     "cannot have more than 50 tags associated with it." % (arn, acct))
    gone = arn + "-gone"
    r = kenv.call("TagResource", {"ResourceARN": gone, "Tags": {"a": "1"}})
    expect_raw_error(kenv, r, "ResourceNotFoundException", _not_found(name + "-gone", acct))
    consumer = arn + "/consumer/c:1700000000"
    r = kenv.call("ListTagsForResource", {"ResourceARN": consumer})
    expect_raw_error(kenv, r, "ResourceNotFoundException",
                     "Consumer %s under account %s not found." % (consumer, acct))
    r = kenv.call("TagResource", {})
    expect_validation(kenv, r, [_item("null", "tags", "Member must not be null"),
                                _item("null", "resourceARN", "Member must not be null")])
    r = kenv.call("ListTagsForResource", {"ResourceARN": "arn:aws:s3:::bucket"})
    expect_validation(kenv, r, [_item("'arn:aws:s3:::bucket'", "resourceARN",
                                      "Member must satisfy regular expression pattern: "
                                      + RESOURCE_RE)])


# ---- Enhanced monitoring -----------------------------------------------------------------------

def _monitoring(c, name):
    return c.describe_stream(StreamName=name)["StreamDescription"]["EnhancedMonitoring"]


def test_enhanced_monitoring_boto3(kenv, streams):
    c = kenv.client()
    name = streams.create()
    r = c.enable_enhanced_monitoring(StreamName=name,
                                     ShardLevelMetrics=["OutgoingBytes", "IncomingBytes"])
    assert (r["StreamName"], r["CurrentShardLevelMetrics"], r["DesiredShardLevelMetrics"]) == (
        name, [], ["IncomingBytes", "OutgoingBytes"])
    assert _monitoring(c, name) == [{"ShardLevelMetrics": ["IncomingBytes", "OutgoingBytes"]}]
    r = c.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["ALL"])
    assert r["DesiredShardLevelMetrics"] == METRICS
    summary = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["EnhancedMonitoring"] == [{"ShardLevelMetrics": METRICS}]
    r = c.disable_enhanced_monitoring(StreamName=name,
                                      ShardLevelMetrics=["IteratorAgeMilliseconds"])
    assert (r["CurrentShardLevelMetrics"], r["DesiredShardLevelMetrics"]) == (
        METRICS, METRICS[:-1])
    acct = kenv.account_id(name)
    expect_client_error(c.enable_enhanced_monitoring, "ValidationException",
                        "1 validation error detected: " + _item(
                            "'[Bytes]'", "shardLevelMetrics",
                            "Member must satisfy constraint: [Member must satisfy enum value "
                            "set: %s]" % METRICS_ENUM),
                        StreamName=name, ShardLevelMetrics=["Bytes"])
    expect_client_error(c.disable_enhanced_monitoring, "ResourceNotFoundException",
                        _not_found(name + "-x", acct), StreamName=name + "-x",
                        ShardLevelMetrics=["ALL"])


def test_enhanced_monitoring_cli(kenv, streams):
    name = streams.create()
    out = cli_json(kenv.cli("enable-enhanced-monitoring", "--stream-name", name,
                             "--shard-level-metrics", "IncomingRecords", "OutgoingRecords"))
    assert out["CurrentShardLevelMetrics"] == []
    assert out["DesiredShardLevelMetrics"] == ["IncomingRecords", "OutgoingRecords"]
    out = cli_json(kenv.cli("disable-enhanced-monitoring", "--stream-name", name,
                             "--shard-level-metrics", "ALL"))
    assert out["DesiredShardLevelMetrics"] == []
    d = cli_json(kenv.cli("describe-stream", "--stream-name", name))["StreamDescription"]
    assert d["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
    expect_cli_error(kenv.cli("enable-enhanced-monitoring", "--stream-name", name,
                        "--shard-level-metrics", "all"),
               "ValidationException", "EnableEnhancedMonitoring",
               "1 validation error detected: " + _item(
                   "'[all]'", "shardLevelMetrics",
                   "Member must satisfy constraint: [Member must satisfy enum value set: %s]"
                   % METRICS_ENUM))


@pytest.mark.spate_only
def test_enhanced_monitoring_raw(kenv, streams):
    c = kenv.client()
    name = streams.create()
    arn = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    body = _ok(kenv.call("EnableEnhancedMonitoring",
                         {"StreamARN": arn, "ShardLevelMetrics": ["IteratorAgeMilliseconds"]}))
    assert body == {"StreamName": name, "StreamARN": arn, "CurrentShardLevelMetrics": [],
                    "DesiredShardLevelMetrics": ["IteratorAgeMilliseconds"]}
    r = kenv.call("EnableEnhancedMonitoring", {"StreamName": name, "ShardLevelMetrics": []})
    expect_validation(kenv, r, [_item("'[]'", "shardLevelMetrics",
                                      "Member must have length greater than or equal to 1")])
    r = kenv.call("DisableEnhancedMonitoring", {"StreamName": name})
    expect_validation(kenv, r, [_item("null", "shardLevelMetrics", "Member must not be null")])
    r = kenv.call("EnableEnhancedMonitoring", {"ShardLevelMetrics": ["ALL"]})
    expect_raw_error(kenv, r, "InvalidArgumentException",
                     "Neither StreamName nor StreamARN was provided.")


# ---- DescribeLimits ----------------------------------------------------------------------------

def test_describe_limits(kenv, streams):
    c = kenv.client()
    before = c.describe_limits()
    streams.create(shards=3)
    after = c.describe_limits()
    assert after["OpenShardCount"] == before["OpenShardCount"] + 3
    assert after["ShardLimit"] == before["ShardLimit"] > 0
    assert after["OnDemandStreamCountLimit"] == 50
    assert after["OnDemandStreamCount"] == before["OnDemandStreamCount"]
    out = cli_json(kenv.cli("describe-limits"))
    assert set(out) == {"ShardLimit", "OpenShardCount", "OnDemandStreamCount",
                        "OnDemandStreamCountLimit"}
    assert out["ShardLimit"] == after["ShardLimit"]


@pytest.mark.spate_only
def test_describe_limits_exact(kenv):
    body = _ok(kenv.call("DescribeLimits", {}))
    assert list(body) == ["ShardLimit", "OpenShardCount", "OnDemandStreamCount",
                          "OnDemandStreamCountLimit"]
    assert body["ShardLimit"] == 500  # spate-control's default --shard-limit
    r = kenv.call("DescribeLimits", "[]")
    expect_raw_error(kenv, r, "SerializationException", None)

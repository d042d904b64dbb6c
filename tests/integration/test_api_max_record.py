"""UpdateMaxRecordSize and CreateStream's MaxRecordSizeInKiB through boto3 (reference §3.1, §3.2,
§1.8).

A stream's record limit is MaxRecordSizeInKiB (1024..10240; 1024 by default). CreateStream sets
it, DescribeStreamSummary shows it (DescribeStream's output has no such member), and
UpdateMaxRecordSize changes it on an ACTIVE stream, selected by StreamARN as the SDKs send it.

This installation's botocore predates both members and the operation, so the tests build their
boto3 client from the installed Kinesis model plus the few shapes the current model defines for
them (added only where missing: with a newer botocore the stock model is used as is). Error tests
turn boto3's own parameter validation off so that out-of-range values reach the server.
kinesalite has neither the operation nor the member: the module is spate_only.
"""
import copy
import json

import pytest

import boto3
import botocore.session
from botocore.config import Config

from kinesis_env import (HTTP_TIMEOUT_S, NsProxy, expect_client_error, expect_raw_error,
                         unique_name, validation_message, wait_active)

pytestmark = pytest.mark.spate_only

KIB_MIN = 1024
KIB_MAX = 10240
API_VERSION = "2013-12-02"


def _item(value, constraint):
    return "Value %s at 'maxRecordSizeInKiB' failed to satisfy constraint: %s" % (value,
                                                                                 constraint)


# ---- a boto3 client that knows UpdateMaxRecordSize -------------------------------------------

def _add_max_record_shapes(model):
    """Add MaxRecordSizeInKiB (CreateStream input, DescribeStreamSummary output) and the
    UpdateMaxRecordSize operation to a Kinesis service model where they are missing."""
    shapes = model["shapes"]
    shapes.setdefault("MaxRecordSizeInKiB", {"type": "integer", "min": KIB_MIN, "max": KIB_MAX})
    for shape in ("CreateStreamInput", "StreamDescriptionSummary"):
        shapes[shape]["members"].setdefault("MaxRecordSizeInKiB", {"shape": "MaxRecordSizeInKiB"})
    shapes.setdefault("UpdateMaxRecordSizeInput", {
        "type": "structure",
        "required": ["MaxRecordSizeInKiB"],
        "members": {
            "StreamARN": {"shape": "StreamARN"},
            "MaxRecordSizeInKiB": {"shape": "MaxRecordSizeInKiB"},
        },
    })
    model["operations"].setdefault("UpdateMaxRecordSize", {
        "name": "UpdateMaxRecordSize",
        "http": {"method": "POST", "requestUri": "/"},
        "input": {"shape": "UpdateMaxRecordSizeInput"},
        "errors": [{"shape": s} for s in (
            "ResourceInUseException", "ResourceNotFoundException", "LimitExceededException",
            "InvalidArgumentException", "AccessDeniedException", "ValidationException")
            if s in shapes],
    })
    return model


@pytest.fixture(scope="module")
def client(kenv, tmp_path_factory):
    """client(validate=True): as kenv.client() (one attempt per call), with the extended model
    (a botocore data directory that shadows the stock Kinesis model)."""
    stock = botocore.session.get_session().get_component("data_loader").load_service_model(
        "kinesis", "service-2", API_VERSION)
    root = tmp_path_factory.mktemp("model")
    (root / "kinesis" / API_VERSION).mkdir(parents=True)
    (root / "kinesis" / API_VERSION / "service-2.json").write_text(
        json.dumps(_add_max_record_shapes(copy.deepcopy(stock))))

    def make(validate=True):
        bs = botocore.session.get_session()
        bs.get_component("data_loader").search_paths.insert(0, str(root))
        cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10,
                     read_timeout=HTTP_TIMEOUT_S, parameter_validation=validate)
        c = boto3.session.Session(botocore_session=bs).client(
            "kinesis", endpoint_url=kenv.url, region_name=kenv.region, config=cfg,
            aws_access_key_id=kenv.access_key, aws_secret_access_key=kenv.secret_key)
        assert hasattr(c, "update_max_record_size")
        return NsProxy(c, kenv.ex) if kenv.netns else c
    return make


def _summary(c, name):
    return c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]


def _create(client, streams, kib=None):
    """An ACTIVE one-shard stream, created with MaxRecordSizeInKiB=kib when given."""
    c = client()
    name = unique_name("maxrec")
    streams.names.append(name)
    kw = {"MaxRecordSizeInKiB": kib} if kib is not None else {}
    c.create_stream(StreamName=name, ShardCount=1, **kw)
    return c, name, wait_active(c, name)["StreamARN"]


# ---- tests --------------------------------------------------------------------------------------

def test_create_and_update(client, streams):
    c, name, arn = _create(client, streams, kib=2048)
    assert _summary(c, name)["MaxRecordSizeInKiB"] == 2048
    r = c.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=KIB_MAX)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    st = _summary(c, name)
    assert st["MaxRecordSizeInKiB"] == KIB_MAX and st["StreamStatus"] == "ACTIVE"
    # The same value again is accepted; the bottom of the range too.
    c.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=KIB_MAX)
    c.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=KIB_MIN)
    assert _summary(c, name)["MaxRecordSizeInKiB"] == KIB_MIN


def test_default_is_1024(client, streams):
    c, name, _ = _create(client, streams)
    assert _summary(c, name)["MaxRecordSizeInKiB"] == KIB_MIN
    assert "MaxRecordSizeInKiB" not in c.describe_stream(StreamName=name)["StreamDescription"]


TOO_SMALL = "Member must have value greater than or equal to 1024"
TOO_BIG = "Member must have value less than or equal to 10240"
OUT_OF_RANGE = [(KIB_MIN - 1, TOO_SMALL), (0, TOO_SMALL), (KIB_MAX + 1, TOO_BIG),
                (1 << 20, TOO_BIG)]


def test_update_out_of_range(client, streams):
    c, name, arn = _create(client, streams)
    raw = client(validate=False)
    for kib, constraint in OUT_OF_RANGE:
        expect_client_error(raw.update_max_record_size, "ValidationException",
                            validation_message([_item("'%d'" % kib, constraint)]),
                            StreamARN=arn, MaxRecordSizeInKiB=kib)
    assert _summary(c, name)["MaxRecordSizeInKiB"] == KIB_MIN


def test_create_out_of_range(client, streams):
    c = client(validate=False)
    for kib, constraint in OUT_OF_RANGE:
        name = streams.name()
        expect_client_error(c.create_stream, "ValidationException",
                            validation_message([_item("'%d'" % kib, constraint)]),
                            StreamName=name, ShardCount=1, MaxRecordSizeInKiB=kib)


def test_update_unknown_stream(client, streams):
    c, _, arn = _create(client, streams)
    gone = unique_name("maxrec-gone")
    account = arn.split(":")[4]
    expect_client_error(c.update_max_record_size, "ResourceNotFoundException",
                        "Stream %s under account %s not found." % (gone, account),
                        StreamARN=arn.rsplit("/", 1)[0] + "/" + gone, MaxRecordSizeInKiB=2048)


def test_update_missing_size_and_wrong_type(kenv, client, streams):
    c, name, arn = _create(client, streams)
    expect_client_error(client(validate=False).update_max_record_size,
                        "ValidationException",
                        validation_message([_item("null", "Member must not be null")]),
                        StreamARN=arn)
    # boto3 cannot send a string for an integer member: a raw signed request does.
    expect_raw_error(kenv, kenv.call("UpdateMaxRecordSize",
                                     {"StreamARN": arn, "MaxRecordSizeInKiB": "2048"}),
                     "SerializationException",
                     "class java.lang.String can not be converted to an Integer",
                     message_key="Message")
    assert _summary(c, name)["MaxRecordSizeInKiB"] == KIB_MIN

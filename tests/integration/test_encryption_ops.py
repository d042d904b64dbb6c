"""StartStreamEncryption and StopStreamEncryption (reference §3.5), control-plane side, through
boto3 and raw signed requests against the real appliance.

tools/spate-dev up writes the instance's key file (<data_dir>/keys: alias/aws/kinesis and one
random GUID key) and starts spate-control with --key-file; the KeyId must name one of its keys,
in any form Kinesis accepts (alias, alias ARN, GUID, key ARN). Checked here: starting with the
alias and with the key ARN of the GUID key, DescribeStream(Summary) showing KMS and the KeyId
as given, stopping back to NONE (KeyId gone), an unknown key (KMSNotFoundException), an
EncryptionType of NONE (InvalidArgumentException), validation, a missing stream, the key
listing of the control socket (`keys_list`, `spatectl keys`) and the ENCRYPTION column of
`spatectl streams`. Record-level EncryptionType and data at rest are the dataplane side's tests.
"""

import json
import re

import pytest

from kinesis_env import expect_client_error, expect_raw_error, expect_validation

pytestmark = pytest.mark.spate_only  # the key file is the appliance's own

GUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _guid(kenv):
    """The instance's random GUID key id, from its key file (the second key)."""
    ids = [ln.split()[0] for ln in (kenv.instance.data_dir / "keys").read_text().splitlines()
           if ln.strip() and not ln.startswith("#")]
    assert ids[0] == "alias/aws/kinesis" and GUID_RE.fullmatch(ids[1]), ids
    return ids[1]


def _encryption(c, name):
    d = c.describe_stream(StreamName=name)["StreamDescription"]
    s = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    for x in (d, s):
        assert x["StreamStatus"] == "ACTIVE"
    assert (d["EncryptionType"], d.get("KeyId")) == (s["EncryptionType"], s.get("KeyId"))
    return d["EncryptionType"], d.get("KeyId")


def _not_found(name, acct):
    return "Stream %s under account %s not found." % (name, acct)


def test_start_stop_alias(kenv, streams):
    c = kenv.client()
    name = streams.create()
    assert _encryption(c, name) == ("NONE", None)
    c.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    assert _encryption(c, name) == ("KMS", "alias/aws/kinesis")
    c.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    assert _encryption(c, name) == ("NONE", None)
    # stopping a stream that is not encrypted is accepted
    c.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    assert _encryption(c, name) == ("NONE", None)


def test_start_key_arn(kenv, streams):
    c = kenv.client()
    name = streams.create()
    acct = kenv.account_id(name)
    arn = "arn:aws:kms:%s:%s:key/%s" % (kenv.region, acct, _guid(kenv))
    c.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=arn)
    assert _encryption(c, name) == ("KMS", arn)  # the KeyId as the client gave it
    # the bare GUID, then the alias ARN, switch keys on an encrypted stream
    c.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=_guid(kenv))
    assert _encryption(c, name) == ("KMS", _guid(kenv))
    alias_arn = "arn:aws:kms:%s:%s:alias/aws/kinesis" % (kenv.region, acct)
    c.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=alias_arn)
    assert _encryption(c, name) == ("KMS", alias_arn)
    # the catalog the dataplane gets carries it too
    snap = kenv.instance.rpc("catalog_get")
    st = [s for s in snap["streams"] if s["name"] == name][0]
    assert (st["encryption"], st["key_id"]) == ("KMS", alias_arn)
    c.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=alias_arn)
    snap = kenv.instance.rpc("catalog_get")
    st = [s for s in snap["streams"] if s["name"] == name][0]
    assert (st["encryption"], st["key_id"]) == ("NONE", "")


def test_start_by_stream_arn_raw(kenv, streams):
    name = streams.create()
    arn = kenv.client().describe_stream_summary(
        StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    r = kenv.call("StartStreamEncryption", {"StreamARN": arn, "EncryptionType": "KMS",
                                            "KeyId": "alias/aws/kinesis"})
    assert r.status == 200 and r.body == b"", r
    assert _encryption(kenv.client(), name) == ("KMS", "alias/aws/kinesis")
    r = kenv.call("StopStreamEncryption", {"StreamARN": arn, "EncryptionType": "KMS",
                                           "KeyId": "alias/aws/kinesis"})
    assert r.status == 200 and r.body == b"", r
    assert _encryption(kenv.client(), name) == ("NONE", None)


def test_unknown_key(kenv, streams):
    c = kenv.client()
    name = streams.create()
    expect_client_error(
        c.start_stream_encryption, "KMSNotFoundException",
        "Key 'alias/no-such-key' does not exist in the key file of this Spate appliance.",
        StreamName=name, EncryptionType="KMS", KeyId="alias/no-such-key")
    arn = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000"
    expect_client_error(
        c.start_stream_encryption, "KMSNotFoundException",
        "Key '%s' does not exist in the key file of this Spate appliance." % arn,
        StreamName=name, EncryptionType="KMS", KeyId=arn)
    assert _encryption(c, name) == ("NONE", None)


def test_encryption_type_none(kenv, streams):
    c = kenv.client()
    name = streams.create()
    for op, fn in (("StartStreamEncryption", c.start_stream_encryption),
                   ("StopStreamEncryption", c.stop_stream_encryption)):
        expect_client_error(
            fn, "InvalidArgumentException",
            "EncryptionType NONE is not valid for %s: KMS is the only valid EncryptionType."
            % op, StreamName=name, EncryptionType="NONE", KeyId="alias/aws/kinesis")
    # outside the model's enum: ValidationException (botocore does not check enums)
    r = kenv.call("StartStreamEncryption", {"StreamName": name, "EncryptionType": "AES",
                                            "KeyId": "alias/aws/kinesis"})
    expect_validation(kenv, r, [
        "Value 'AES' at 'encryptionType' failed to satisfy constraint: Member must satisfy "
        "enum value set: [NONE, KMS]"])
    r = kenv.call("StopStreamEncryption", {"StreamName": name, "KeyId": "k" * 2049,
                                           "EncryptionType": "KMS"})
    expect_validation(kenv, r, [
        "Value '%s' at 'keyId' failed to satisfy constraint: Member must have length less "
        "than or equal to 2048" % ("k" * 2049)])
    r = kenv.call("StartStreamEncryption", {"StreamName": name})
    expect_validation(kenv, r, [
        "Value null at 'encryptionType' failed to satisfy constraint: Member must not be null",
        "Value null at 'keyId' failed to satisfy constraint: Member must not be null"])
    assert _encryption(c, name) == ("NONE", None)


def test_stream_missing(kenv, streams):
    c = kenv.client()
    name = streams.name()  # never created
    acct = kenv.account_id(streams.create())
    for fn in (c.start_stream_encryption, c.stop_stream_encryption):
        expect_client_error(fn, "ResourceNotFoundException", _not_found(name, acct),
                            StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    r = kenv.call("StartStreamEncryption", {"EncryptionType": "KMS", "KeyId": "k"})
    expect_raw_error(kenv, r, "InvalidArgumentException",
                     "Neither StreamName nor StreamARN was provided.")


def test_keys_listing(kenv, streams):
    inst = kenv.instance
    res = inst.rpc("keys_list")
    assert res["key_file"] == str(inst.data_dir / "keys")
    assert [k["id"] for k in res["keys"]] == ["alias/aws/kinesis", _guid(kenv)]
    text = (inst.data_dir / "keys").read_text()
    for k in res["keys"]:
        assert set(k) == {"id", "fingerprint"} and re.fullmatch(r"[0-9a-f]{16}", k["fingerprint"])
    # never key bytes: no 64-hex-digit key of the file in the reply
    secrets = [ln.split()[1] for ln in text.splitlines() if ln.strip() and ln[0] != "#"]
    dumped = json.dumps(res)
    assert all(s not in dumped and s[:16] not in dumped for s in secrets)
    out = inst.spatectl("keys").stdout
    assert "alias/aws/kinesis" in out and _guid(kenv) in out and "FINGERPRINT" in out
    assert json.loads(inst.spatectl("--json", "keys").stdout) == res
    # spatectl streams: the ENCRYPTION column
    c = kenv.client()
    name = streams.create()
    c.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    lines = inst.spatectl("streams", timeout=90).stdout.splitlines()
    head = [ln for ln in lines if "ENCRYPTION" in ln]
    row = [ln for ln in lines if name in ln]
    assert head and len(row) == 1 and row[0].split()[5] == "KMS", lines

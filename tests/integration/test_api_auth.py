"""Authentication faults (reference §1.6, §1.9), raw HTTP with exact texts.

kinesalite checks that authentication is present and complete but verifies no signature, so the
presence/completeness tests run everywhere and the signature tests are spate_only.
"""
import datetime
import re

import pytest

from kinesis_env import client_error, expect_raw_error, utc_now

BODY = {"Limit": 1}
OP = "ListStreams"
STAMP = "%Y%m%dT%H%M%SZ"
BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. "
                 "Check your AWS Secret Access Key and signing method. Consult the service "
                 "documentation for details.")


def _auth_header(kenv, parts):
    return "AWS4-HMAC-SHA256 " + ", ".join(parts)


def _cred(kenv, when=None):
    day = (when or utc_now()).strftime("%Y%m%d")
    return "Credential=%s/%s/us-east-1/kinesis/aws4_request" % (kenv.access_key, day)


def test_missing_authentication_token(kenv):
    r = kenv.raw(OP, BODY, sign=False)
    expect_raw_error(kenv, r, "MissingAuthenticationTokenException",
                     "Missing Authentication Token")


def test_signed_request_is_accepted(kenv):
    r = kenv.raw(OP, BODY)
    assert r.status == 200, r
    assert "StreamNames" in r.json()


@pytest.mark.parametrize("present,missing", [
    (("cred",), ("Signature", "SignedHeaders")),
    (("cred", "signed"), ("Signature",)),
    (("signed", "sig"), ("Credential",)),
    (("other",), ("Credential", "Signature", "SignedHeaders")),
])
def test_incomplete_authorization_header(kenv, present, missing):
    now = utc_now()
    parts = {"cred": _cred(kenv, now), "signed": "SignedHeaders=host;x-amz-date",
             "sig": "Signature=" + "0" * 64, "other": "Foo=bar"}
    auth = _auth_header(kenv, [parts[p] for p in present])
    r = kenv.raw(OP, BODY, sign=False, headers={"Authorization": auth,
                                                "X-Amz-Date": now.strftime(STAMP)})
    msg = "".join("Authorization header requires '%s' parameter. " % p for p in missing)
    expect_raw_error(kenv, r, "IncompleteSignatureException", msg + "Authorization=" + auth)


def test_authorization_header_without_any_date(kenv):
    auth = _auth_header(kenv, [_cred(kenv), "SignedHeaders=host", "Signature=" + "1" * 64])
    r = kenv.raw(OP, BODY, sign=False, headers={"Authorization": auth})
    expect_raw_error(kenv, r, "IncompleteSignatureException",
                     "Authorization header requires existence of either a 'X-Amz-Date' or a "
                     "'Date' header. Authorization=" + auth)


def test_header_and_query_auth_together(kenv):
    auth = _auth_header(kenv, [_cred(kenv), "SignedHeaders=host", "Signature=" + "2" * 64])
    r = kenv.raw(OP, BODY, sign=False, path="/?X-Amz-Algorithm=AWS4-HMAC-SHA256",
                 headers={"Authorization": auth, "X-Amz-Date": utc_now().strftime(STAMP)})
    expect_raw_error(kenv, r, "InvalidSignatureException",
                     "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' "
                     "as HTTP header.")


def test_incomplete_query_auth(kenv):
    r = kenv.raw(OP, BODY, sign=False,
                 path="/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=host")
    expect_raw_error(kenv, r, "IncompleteSignatureException",
                     "AWS query-string parameters must include 'X-Amz-Credential'. "
                     "AWS query-string parameters must include 'X-Amz-Signature'. "
                     "AWS query-string parameters must include 'X-Amz-Date'. "
                     "Re-examine the query-string parameters.")


# ---- signature verification: Spate only -----------------------------------------------------

@pytest.mark.spate_only
def test_unknown_access_key(kenv):
    r = kenv.raw(OP, BODY, access_key="AKIDUNKNOWNKEY000000")
    expect_raw_error(kenv, r, "UnrecognizedClientException",
                     "The security token included in the request is invalid.")
    c = kenv.client(access_key="AKIDUNKNOWNKEY000000", secret_key="whatever")
    t, msg, status, _ = client_error(c.list_streams)
    assert (t, msg, status) == ("UnrecognizedClientException",
                                "The security token included in the request is invalid.", 400)


@pytest.mark.spate_only
def test_wrong_secret(kenv):
    r = kenv.raw(OP, BODY, secret_key=kenv.secret_key + "x")
    expect_raw_error(kenv, r, "InvalidSignatureException", BAD_SIGNATURE)
    c = kenv.client(secret_key=kenv.secret_key + "x")
    assert client_error(c.list_streams)[:3] == ("InvalidSignatureException", BAD_SIGNATURE, 400)


@pytest.mark.spate_only
def test_body_changed_after_signing(kenv):
    """The signature covers the body: sign one body, send another of the same length."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    body = b'{"Limit": 1}'
    hdrs = {"Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Kinesis_20131202.ListStreams", "Host": kenv.host}
    req = AWSRequest(method="POST", url=kenv.url + "/", data=body, headers=hdrs)
    SigV4Auth(Credentials(kenv.access_key, kenv.secret_key), "kinesis", kenv.region).add_auth(req)
    r = kenv.raw(None, b'{"Limit": 2}', sign=False, content_type=None,
                 headers=dict(req.headers.items()))
    expect_raw_error(kenv, r, "InvalidSignatureException", BAD_SIGNATURE)


@pytest.mark.spate_only
def test_signed_header_changed(kenv):
    """X-Amz-Target is signed: retargeting a signed request breaks the signature."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    body = b"{}"
    hdrs = {"Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Kinesis_20131202.ListStreams", "Host": kenv.host}
    req = AWSRequest(method="POST", url=kenv.url + "/", data=body, headers=hdrs)
    SigV4Auth(Credentials(kenv.access_key, kenv.secret_key), "kinesis", kenv.region).add_auth(req)
    sent = dict(req.headers.items())
    sent["X-Amz-Target"] = "Kinesis_20131202.ListShards"
    r = kenv.raw(None, body, sign=False, content_type=None, headers=sent)
    expect_raw_error(kenv, r, "InvalidSignatureException", BAD_SIGNATURE)


def _stamp_re():
    return r"(\d{8}T\d{6}Z)"


@pytest.mark.spate_only
def test_signature_expired(kenv):
    when = utc_now() - datetime.timedelta(minutes=10)
    r = kenv.raw(OP, BODY, when=when)
    expect_raw_error(kenv, r, "InvalidSignatureException", re.compile(
        r"Signature expired: %s is now earlier than %s \(%s - 5 min\.\)"
        % (re.escape(when.strftime(STAMP)), _stamp_re(), _stamp_re())))
    m = re.search(r"earlier than (\S+) \((\S+) - 5 min", r.json()["message"])
    edge, now = (datetime.datetime.strptime(x, STAMP) for x in m.groups())
    assert now - edge == datetime.timedelta(minutes=5)
    assert abs((now - utc_now().replace(tzinfo=None)).total_seconds()) < 60


@pytest.mark.spate_only
def test_signature_not_yet_current(kenv):
    when = utc_now() + datetime.timedelta(minutes=10)
    r = kenv.raw(OP, BODY, when=when)
    expect_raw_error(kenv, r, "InvalidSignatureException", re.compile(
        r"Signature not yet current: %s is still later than %s \(%s \+ 5 min\.\)"
        % (re.escape(when.strftime(STAMP)), _stamp_re(), _stamp_re())))
    m = re.search(r"later than (\S+) \((\S+) \+ 5 min", r.json()["message"])
    edge, now = (datetime.datetime.strptime(x, STAMP) for x in m.groups())
    assert edge - now == datetime.timedelta(minutes=5)


@pytest.mark.spate_only
@pytest.mark.parametrize("minutes", [-4, 4])
def test_small_clock_skew_accepted(kenv, minutes):
    r = kenv.raw(OP, BODY, when=utc_now() + datetime.timedelta(minutes=minutes))
    assert r.status == 200, r


@pytest.mark.spate_only
def test_credential_scoped_to_another_service(kenv):
    r = kenv.raw(OP, BODY, service="dynamodb")
    expect_raw_error(kenv, r, "InvalidSignatureException",
                     "Credential should be scoped to correct service: 'kinesis'. ")

"""CORS (reference §1.1): browsers' preflight and the headers every answer carries with Origin.

kinesalite implements the same rules, so these run on every endpoint.
"""
ORIGIN = "http://example.test"
EXPOSE = ("x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,"
          "Date")


def _h(resp, name):
    for k, v in resp.headers.items():
        if k.lower() == name.lower():
            return v
    return None


def test_preflight_echoes_the_request(kenv):
    r = kenv.raw(None, b"", sign=False, content_type=None, method="OPTIONS",
                 headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                          "Access-Control-Request-Headers": "content-type,x-amz-target"})
    assert r.status == 200, r
    assert _h(r, "Access-Control-Allow-Origin") == "*"
    assert _h(r, "Access-Control-Allow-Methods") == "POST"
    assert _h(r, "Access-Control-Allow-Headers") == "content-type,x-amz-target"
    assert _h(r, "Access-Control-Max-Age") == "172800"
    assert r.body == b""


def test_answers_carry_cors_headers_with_origin(kenv):
    r = kenv.raw("ListStreams", {}, headers={"Origin": ORIGIN})
    assert r.status == 200, r
    assert _h(r, "Access-Control-Allow-Origin") == "*"
    assert _h(r, "Access-Control-Expose-Headers") == EXPOSE


def test_no_cors_headers_without_origin(kenv):
    r = kenv.raw("ListStreams", {})
    assert r.status == 200, r
    assert _h(r, "Access-Control-Allow-Origin") is None

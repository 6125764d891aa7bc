"""The national platform's request signature and time format, as its SDK computes them."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

from adapters.vdxp import multipart, signature, timestamp


def test_the_timestamp_is_day_month_year_t_time_plus_four_digit_milliseconds() -> None:
    at = dt.datetime(2026, 11, 27, 9, 5, 7, 42_000, tzinfo=dt.UTC)
    assert timestamp(at) == "27112026T090507+0042"
    assert re.fullmatch(r"\d{8}T\d{6}\+\d{4}", timestamp())


def test_the_signature_is_the_hmac_of_id_time_type_and_body() -> None:
    body = "{\"tiêu đề\": 1}".encode()
    got = signature("vxp.saas.03", "bí mật", "27112026T090507+0042", "application/json", body)
    want = hmac.new("bí mật".encode(), b"vxp.saas.0327112026T090507+0042application/json"
                    + body, hashlib.sha256).hexdigest()
    assert got == want
    assert got != signature("vxp.saas.03", "bí mật", "27112026T090507+0042",
                            "application/json", body + b" ")


def test_the_upload_carries_the_exact_bytes_as_one_file() -> None:
    payload = b"<edXML>\r\n--not-a-boundary\r\n</edXML>"
    content, content_type = multipart("file", "m.edxml", payload, "application/xml")
    boundary = content_type.split("boundary=")[1]
    assert content.count(f"--{boundary}".encode()) == 2
    assert payload in content and b'filename="m.edxml"' in content

"""Redaction of secret keys and of tokens inside URLs."""

from __future__ import annotations

from trailguard.respond.redact import MASK, redact, redact_text


def test_secret_keys_are_masked_but_references_are_not():
    data = {"AccessKeySecret": "s1", "SecretAccessKey": "s2", "SecurityToken": "s3",
            "Authorization": "ACS3 ...", "Signature": "abc", "Password": "pw",
            "nested": [{"session_token": "s4"}], "secret_env": "HOOK_SECRET",
            "AccessKeyId": "LTAI5t", "Status": "Inactive", "empty_token": ""}
    out = redact(data)
    for key in ("AccessKeySecret", "SecretAccessKey", "SecurityToken", "Authorization",
                "Signature", "Password"):
        assert out[key] == MASK
    assert out["nested"] == [{"session_token": MASK}]
    assert out["secret_env"] == "HOOK_SECRET" and out["AccessKeyId"] == "LTAI5t"
    assert out["empty_token"] == ""


def test_tokens_in_urls_are_cut():
    assert redact_text("https://oapi.dingtalk.com/robot/send?access_token=abc&x=1") == (
        f"https://oapi.dingtalk.com/robot/send?access_token={MASK}&x=1")
    assert redact_text("see https://hooks.slack.com/services/T1/B2/zzz now") == (
        f"see https://hooks.slack.com/services/{MASK} now")
    assert redact(("a?sign=xyz",)) == [f"a?sign={MASK}"]


def test_log_filter_masks_signed_request_dumps():
    import logging

    from trailguard.respond.redact import SecretLogFilter

    record = logging.LogRecord("botocore.endpoint", logging.DEBUG, __file__, 1,
                               "headers=%s", ({"X-Amz-Security-Token": b"tok123",
                                               "Authorization": b"AWS4-HMAC-SHA256 abc"},), None)
    assert SecretLogFilter().filter(record)
    assert "tok123" not in record.getMessage() and "AWS4-HMAC" not in record.getMessage()
    canonical = logging.LogRecord("botocore.auth", logging.DEBUG, __file__, 1,
                                  "x-amz-security-token:tok456\nhost:x", None, None)
    SecretLogFilter().filter(canonical)
    assert "tok456" not in canonical.getMessage() and "host:x" in canonical.getMessage()

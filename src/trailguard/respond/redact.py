"""Scrub secrets from anything an action returns or logs.

Actions never put credentials into plans or results by construction (the SDKs sign requests
and we never record HTTP headers); this module is the second line of defence for values that
come back from providers or users: keys that name a secret are masked, and tokens embedded in
webhook URLs (DingTalk ``access_token``, Slack ``hooks.slack.com/services/...``) are cut out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

_SECRET_KEY = re.compile(
    r"(secret|password|passwd|token|signature|authorization|credential|private[_-]?key"
    r"|^sign$|session[_-]?key)",
    re.IGNORECASE,
)
"""Keys whose values are always masked (AccessKeySecret, SecretAccessKey, SecurityToken, ...).
Keys that only *refer* to a secret (``*_env``: the name of an environment variable) are kept."""

_URL_SECRETS = (
    # query parameters that carry credentials
    (re.compile(r"(?i)([?&](?:access_token|token|sign|signature|key|secret|x-amz-security-token"
                r"|x-amz-signature|accesskeysecret|securitytoken)=)[^&#\s]*"), r"\1" + MASK),
    # Slack incoming-webhook paths: /services/T…/B…/<secret>
    (re.compile(r"(hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/)[^\s\"']+"),
     r"\1" + MASK),
)


def redact_text(text: str) -> str:
    """Mask credentials embedded in URLs inside ``text``."""
    for pattern, replacement in _URL_SECRETS:
        text = pattern.sub(replacement, text)
    return text


def is_secret_key(key: str) -> bool:
    """True when a mapping key names a secret value."""
    return not key.lower().endswith("_env") and bool(_SECRET_KEY.search(key))


def redact(value: Any) -> Any:
    """A JSON-like copy of ``value`` with secret values masked."""
    if isinstance(value, Mapping):
        return {str(k): (MASK if is_secret_key(str(k)) and v not in (None, "") else redact(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


_LOG_SECRETS = re.compile(
    r"(?i)((?:x-amz-security-token|authorization|x-acs-security-token|securitytoken|signature)"
    r"""['"]?\s*[:=]\s*b?['"]?)[^'",\s\n&]+""")


class SecretLogFilter(logging.Filter):
    """Masks session tokens and signatures in other libraries' debug logs.

    botocore logs the signed request at DEBUG (``botocore.endpoint``: headers including
    ``X-Amz-Security-Token``; ``botocore.auth``: the canonical request). The filter rewrites
    such records before any handler sees them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(_LOG_SECRETS.sub(r"\1" + MASK, message))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


SCRUBBED_LOGGERS = ("botocore.auth", "botocore.endpoint", "botocore.parsers",
                    "botocore.httpsession", "botocore.hooks", "urllib3.connectionpool")


def install_log_filter(names: tuple[str, ...] = SCRUBBED_LOGGERS) -> None:
    """Attach one :class:`SecretLogFilter` to each named logger (idempotent)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretLogFilter) for f in logger.filters):
            logger.addFilter(SecretLogFilter())

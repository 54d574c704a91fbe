"""Time and identifier helpers for the demo generator.

Times are integers: microseconds since the Unix epoch, UTC. Every text form is written out by
hand (no locale-dependent ``%b``), so the bytes never depend on the machine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from random import Random

US = 1_000_000
SECOND = US
MINUTE = 60 * US
HOUR = 60 * MINUTE
DAY = 24 * HOUR

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"


def epoch_us(year: int, month: int, day: int) -> int:
    """Midnight UTC of a date, in microseconds."""
    return int(datetime(year, month, day, tzinfo=UTC).timestamp()) * US


def _dt(t: int) -> datetime:
    return datetime.fromtimestamp(t // US, UTC)


def iso_z(t: int) -> str:
    """``2026-10-13T02:01:12Z`` (ActionTrail)."""
    return f"{_dt(t):%Y-%m-%dT%H:%M:%S}Z"


def syslog_iso(t: int) -> str:
    """``2026-10-13T02:01:12.123456+00:00`` (rsyslog's high-precision default on Ubuntu 24.04)."""
    return f"{_dt(t):%Y-%m-%dT%H:%M:%S}.{t % US:06d}+00:00"


def clf(t: int) -> str:
    """``13/Oct/2026:02:01:12 +0000`` (nginx ``$time_local`` on a UTC server)."""
    moment = _dt(t)
    return f"{moment.day:02d}/{MONTHS[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"


def nginx_error_time(t: int) -> str:
    """``2026/10/13 02:01:12`` (nginx error log, server local time = UTC here)."""
    return f"{_dt(t):%Y/%m/%d %H:%M:%S}"


def audit_stamp(t: int) -> str:
    """``1791857472.123`` (the ``audit(…)`` stamp: seconds and milliseconds)."""
    return f"{t // US}.{(t % US) // 1000:03d}"


def compact(t: int) -> str:
    """``20261013020500`` (ActionTrail delivery file names)."""
    return f"{_dt(t):%Y%m%d%H%M%S}"


def date_parts(t: int) -> tuple[str, str, str]:
    moment = _dt(t)
    return f"{moment.year:04d}", f"{moment.month:02d}", f"{moment.day:02d}"


def uuid_upper(rng: Random) -> str:
    """A version-4 UUID in upper case, as Alibaba writes request and event ids."""
    value = rng.getrandbits(128)
    value = (value & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    text = f"{value:032X}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def alnum(rng: Random, length: int) -> str:
    return "".join(rng.choice(_ALNUM) for _ in range(length))


def digits(rng: Random, length: int) -> str:
    return str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(length - 1))


def hex_lower(rng: Random, length: int) -> str:
    return f"{rng.getrandbits(4 * length):0{length}x}"


def access_key_id(rng: Random) -> str:
    """An AccessKey id in the ``LTAI5t…`` form (24 characters)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return "LTAI5t" + "".join(rng.choice(alphabet) for _ in range(18))


def sts_key_id(rng: Random) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return "STS.NU" + "".join(rng.choice(alphabet) for _ in range(22))

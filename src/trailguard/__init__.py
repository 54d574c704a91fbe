"""TrailGuard: from raw cloud and host logs to a traced, contained incident and a hardened
account."""

__version__ = "0.1.0"

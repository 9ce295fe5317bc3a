"""Structured JSON logs that never carry e-mail addresses, phone numbers or secrets.

Every record goes through ``redact``: contact details and credentials (unsubscribe and preference
tokens, API tokens, bearer tokens, signatures, keys in URLs) that slip into a message, an
``extra`` field or a traceback are masked before they are written, so a careless log call cannot
leak them. ``RedactingFilter`` does it on each handler ``configure_logging`` installs (and on the
stream worker's, see ``redact_handlers``); HTTP client libraries that log whole URLs, headers or
payloads at INFO or DEBUG are held at WARNING on top of that.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

from infra.private_files import private_file

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")  # %40: inside a URL
# International numbers written with a leading + (E.164 and spaced forms), and North American
# national forms like (415) 555-2671 / 415.555.2671. IP addresses and ISO dates must not match.
_PHONE = re.compile(
    r"(?<![\w+])\+\d[\d\s().\-]{6,}\d(?![\w])"
    r"|(?<![\w.])\(?\d{3}\)?[\s.\-]\d{3}[\s.\-]\d{4}(?![\w.])"
)
# Secrets, each with what replaces it. Query parameters are matched by name; tokens by their shape:
# retain's signed tokens and JWTs (base64url JSON "eyJ..." then a signature), retain API tokens
# (rtn_), SendGrid (SG.) and OpenAI (sk-) keys, and whatever follows "Bearer" or "Basic".
_SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)([?&;](?:token|access_token|refresh_token|api_key|apikey|key|secret|password|signature|sig|"
                r"code|auth|email|phone|to|from)=)[^&\s\"'#;]+"), r"\1[redacted]"),
    (re.compile(r"eyJ[A-Za-z0-9_%-]{8,}\.[A-Za-z0-9_%.-]{16,}"), "[token]"),
    (re.compile(r"\brtn_[A-Za-z0-9_-]{8,}"), "rtn_[redacted]"),
    (re.compile(r"\bSG\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "SG.[redacted]"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), "sk-[redacted]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [redacted]"),
)
_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
# HTTP client libraries that log request URLs, headers or payloads (tokens, numbers, message text).
QUIET_LOGGERS = ("httpx", "httpcore", "openai", "twilio.http_client", "python_http_client", "urllib3")


def redact(text: str) -> str:
    """Mask e-mail addresses, phone numbers, tokens and keys in ``text``."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", text))


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = _redact_value(value)
        if record.exc_info:
            payload["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)


class RedactingFilter(logging.Filter):
    """Rewrites each record it sees so that its message, ``extra`` fields and traceback are redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; never drops it."""
        record.msg, record.args = redact(record.getMessage()), ()
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and not key.startswith("_"):
                setattr(record, key, _redact_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def redact_handlers(logger: logging.Logger | None = None) -> None:
    """Redact on every handler of ``logger`` (the root by default) and quiet the HTTP client loggers."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_logging(level: str = "INFO", *, json_logs: bool = True, file: Path | None = None) -> None:
    """Route all logging to stderr (or append it to ``file``, owner-only), JSON by default, redacted always."""
    if file is not None:
        handler: logging.Handler = logging.FileHandler(private_file(file), encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    redact_handlers(root)

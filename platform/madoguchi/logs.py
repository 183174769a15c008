"""Structured logging: every line carries the request id, the tenant and the user; none carries a 個人番号.

The values live in context variables (base.log_context) set by the request middleware (and by Celery's task
signals), so any logger anywhere in the code gets them without passing them around; this module configures how
lines are written.

A client can put a 個人番号 where no form looks: the path of a 404, a query string, a Referer, a file name.
Django's own loggers (django.request: "Not Found: /…", the request in its extra) and gunicorn's access log write
those, so `IndividualNumberFilter` masks any 個人番号 in every record, on every handler `logging_config`
installs and on gunicorn's (`madoguchi.gunicorn_logging.GunicornLogger`, named by ops/gunicorn.conf.py).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from base.mynumber import contains_individual_number, mask_individual_numbers

if TYPE_CHECKING:
    from madoguchi.config import LoggingConfig

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_PLAIN = (str, int, float, bool, type(None))


def mask_for_log(text: str) -> str:
    """`text` with every 個人番号 masked, including one that is percent-encoded (a path or query string as
    gunicorn and Django log it: "?q=1234%205678%209018" or full-width digits encoded as UTF-8)."""
    masked = mask_individual_numbers(text)
    if "%" not in masked and "+" not in masked:
        return masked
    # Decoded word by word (an encoded URL holds no space), and a word is replaced only when its decoded form
    # held a number: the rest of the line, e.g. the "+0900" of gunicorn's timestamp, stays as it was written.
    return _ENCODED_WORD.sub(lambda word: _mask_encoded(word.group(0)), masked)


_ENCODED_WORD = re.compile(r"\S*[%+]\S*")


def _mask_encoded(word: str) -> str:
    decoded = word
    for _ in range(3):  # doubly encoded values too
        step = unquote_plus(decoded)
        if step == decoded:
            break
        decoded = step
        if contains_individual_number(decoded):
            return mask_individual_numbers(decoded)
    return word


class IndividualNumberFilter(logging.Filter):
    """Masks any 個人番号 in a record: its message (with the arguments merged in), the extra values a formatter
    may print (Django's `request`), and the traceback text. It never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: the formatter reports it, as it would without us
            return True
        masked = mask_for_log(message)
        if masked != message:
            record.msg, record.args = masked, None
        for key, value in list(vars(record).items()):
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            text = value if isinstance(value, str) else repr(value) if not isinstance(value, _PLAIN) else None
            if text is not None and (safe := mask_for_log(text)) != text:
                setattr(record, key, safe)  # the repr, masked, instead of the object that held the number
        exc_info = record.exc_info
        if exc_info is not None and exc_info[0] is not None and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(exc_info)
        if record.exc_text:
            record.exc_text = mask_for_log(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_for_log(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool | None) else repr(value)
        if record.exc_text:  # set (and masked) by IndividualNumberFilter
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = mask_for_log(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s tenant=%(tenant)s user=%(user)s] %(message)s"
)


def logging_config(cfg: LoggingConfig) -> dict[str, Any]:
    formatter = "json" if cfg.format == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "base.log_context.ContextFilter"},
            "individual_number": {"()": "madoguchi.logs.IndividualNumberFilter"},
        },
        "formatters": {
            "json": {"()": "madoguchi.logs.JsonFormatter"},
            "text": {"format": TEXT_FORMAT},
        },
        # Every handler gets the individual-number filter: a handler added here later must list it too
        # (platform/madoguchi/tests/test_logs.py checks).
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": formatter,
                "filters": ["context", "individual_number"],
            },
        },
        "root": {"handlers": ["console"], "level": cfg.level},
        "loggers": {
            # Django's default configuration gives these loggers handlers of their own (a console for DEBUG,
            # mail to ADMINS), which this filter would not see: here they have none and write through root's.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "django.db.backends": {"level": "WARNING"},
            "pgserver": {"level": "WARNING"},
        },
    }

"""gunicorn's logger with the individual-number filter (madoguchi.logs) on its error and access handlers.

The access log writes the request line (path and query string), the Referer and the User-Agent as the client sent
them, so a 個人番号 typed into a URL would land there. ops/gunicorn.conf.py names this class (`logger_class`);
`make run` passes `--logger-class` too. A module of its own, so Django processes never import gunicorn.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from madoguchi.logs import IndividualNumberFilter


class GunicornLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(f, IndividualNumberFilter) for f in handler.filters):
                    handler.addFilter(IndividualNumberFilter())

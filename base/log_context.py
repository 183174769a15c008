"""Who and where, on every log line: the request id, the tenant and the user, held in context variables.

The request middleware (madoguchi.middleware, tenants.middleware) and Celery's task signals set them; any logger
anywhere gets them through `ContextFilter` without passing them around, and the audit log reads the request id.
How lines are formatted and where they go is the composition root's business (madoguchi.logs).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
tenant_var: ContextVar[str] = ContextVar("tenant", default="-")
user_var: ContextVar[str] = ContextVar("user", default="-")


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.tenant = tenant_var.get()
        record.user = user_var.get()
        return True

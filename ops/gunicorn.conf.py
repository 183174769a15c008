"""gunicorn settings for production: `gunicorn -c ops/gunicorn.conf.py madoguchi.wsgi:application`."""

import multiprocessing
import os

chdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "platform")
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30
graceful_timeout = 30
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
# nginx on the same host is the only trusted peer for X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# The access log writes the request line, Referer and User-Agent as sent: this logger masks any 個人番号 in them
# (and in gunicorn's error log) with the same filter as the application's logs (platform/madoguchi/logs.py).
logger_class = "madoguchi.gunicorn_logging.GunicornLogger"

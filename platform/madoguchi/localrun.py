"""`make run`: database, migrations, demo data, then the web server, a Celery worker and beat, until Ctrl-C.

Everything runs as child processes that share the database and the broker, as in production. The embedded
PostgreSQL is stopped on exit if this run started it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PORT = os.environ.get("PORT", "8000")


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT)  # noqa: S603


def main() -> int:
    from madoguchi import embedded

    started_db = not os.environ.get("DATABASE_URL") and not embedded.is_running()
    if started_db:
        embedded.start()
    children: list[subprocess.Popen[bytes]] = []
    try:
        _manage("bootstrap", "--demo")
        domain = os.environ.get("MADOGUCHI_DOMAIN", "localhost")
        binds = ["-b", f"127.0.0.1:{PORT}"]
        if domain == "localhost":
            binds += ["-b", f"[::1]:{PORT}"]  # browsers may resolve *.localhost to ::1
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}"}
        commands = [
            [
                str(BIN / "gunicorn"),
                "madoguchi.wsgi:application",
                "--chdir",
                str(ROOT / "platform"),
                *binds,
                "--workers",
                "2",
                "--access-logfile",
                "-",
                # Masks any 個人番号 in the access and error logs (as ops/gunicorn.conf.py does).
                "--logger-class",
                "madoguchi.gunicorn_logging.GunicornLogger",
            ],
            [str(BIN / "celery"), "-A", "madoguchi", "worker", "--loglevel", "INFO", "--concurrency", "2"],
            [str(BIN / "celery"), "-A", "madoguchi", "beat", "--loglevel", "INFO"],
        ]
        for command in commands:
            children.append(subprocess.Popen(command, cwd=ROOT, env=env))  # noqa: S603
        sys.stdout.write(
            f"\nMadoguchi is running:\n  vendor console  http://{domain}:{PORT}/\n"
            f"  上尾市 (ageo)    http://ageo.{domain}:{PORT}/\n  桶川市 (okegawa) http://okegawa.{domain}:{PORT}/\n"
            "Press Ctrl-C to stop.\n"
        )
        sys.stdout.flush()
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while all(child.poll() is None for child in children):
            try:
                children[0].wait(timeout=1)
            except subprocess.TimeoutExpired:
                continue
        return 1  # a child died on its own
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if started_db:
            embedded.stop()


if __name__ == "__main__":
    raise SystemExit(main())

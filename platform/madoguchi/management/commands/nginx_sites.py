"""Write nginx's server blocks for every host in the Domain table (ops/nginx/README.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from madoguchi import nginx
from tenants.models import Domain


class Command(BaseCommand):
    help = (
        "Generate nginx's TLS server blocks from the Domain table: one for the vendor's wildcard certificate, one "
        "per host outside it (its own EV certificate). Then run `nginx -t` and reload nginx."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = nginx.Options()
        parser.add_argument("--out", type=Path, required=True, help="directory the files are written into")
        parser.add_argument(
            "--upstream", default=defaults.upstream, help="gunicorn's host:port or unix:/path"
        )
        parser.add_argument(
            "--tls-dir",
            type=Path,
            default=Path(settings.TLS_CERT_DIR),
            help="certificates: wildcard.<domain>.crt/.key and <host>.crt/.key (default: MADOGUCHI_TLS_DIR)",
        )
        parser.add_argument("--static-root", type=Path, default=Path(settings.STATIC_ROOT))
        parser.add_argument(
            "--listen",
            action="append",
            default=None,
            metavar="ADDRESS",
            help="address to listen on (repeatable; default: every IPv4 and IPv6 address)",
        )
        parser.add_argument("--https-port", type=int, default=defaults.https_port)
        parser.add_argument("--http-port", type=int, default=defaults.http_port)
        parser.add_argument("--access-log", default=defaults.access_log)
        parser.add_argument(
            "--no-stapling", action="store_true", help="no OCSP stapling (self-signed certificates)"
        )
        parser.add_argument(
            "--main",
            type=Path,
            default=None,
            help="also write a standalone main nginx.conf here, with its pid, logs and temporary files beside it",
        )
        parser.add_argument("--user", default=None, help="with --main: the user nginx's workers run as")

    def handle(self, *args: Any, **options: Any) -> None:
        from apps.issuance.imports.storage import max_bytes

        hosts = Domain.objects.order_by("domain").values_list("domain", flat=True)
        try:
            site_plan = nginx.plan(hosts, settings.MADOGUCHI_DOMAIN)
            files = nginx.render(
                site_plan,
                nginx.Options(
                    upstream=options["upstream"],
                    tls_dir=options["tls_dir"],
                    static_root=options["static_root"],
                    listen_addresses=tuple(options["listen"] or nginx.Options().listen_addresses),
                    https_port=options["https_port"],
                    http_port=options["http_port"],
                    access_log=options["access_log"],
                    upload_limit_bytes=max_bytes(),
                    stapling=not options["no_stapling"],
                ),
            )
            written = nginx.write(files, options["out"])
            if options["main"] is not None:
                main: Path = options["main"]
                main.parent.mkdir(parents=True, exist_ok=True)
                main.write_text(
                    nginx.main_config(out=options["out"], state=main.parent, user=options["user"]),
                    encoding="utf-8",
                )
                written.append(main)
        except nginx.SiteError as exc:
            raise CommandError(str(exc)) from exc
        for host in site_plan.skipped:
            self.stderr.write(f"skipped {host!r}: not a DNS name (an IP address reaches the default server)")
        for site in site_plan.sites:
            kind = "wildcard" if site.wildcard else "own certificate"
            self.stdout.write(f"{' '.join(site.server_names)}: {kind} {site.certificate(options['tls_dir'])}")
        for path in written:
            self.stdout.write(f"wrote {path}")

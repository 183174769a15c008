"""nginx's certificates: when each expires, and the reminder mail before it does (ops/nginx/README.md).

The EV certificates of the cities' own hosts are ordered and installed by hand, once a year each; nothing renews
them automatically. `tls_expiry_remind` (a beat task, daily) mails the vendor's operators
(settings.VENDOR_ALERT_EMAILS) when a certificate has fewer days left than a threshold of settings.TLS_REMIND_DAYS
(30 and 7 by default), when it has expired, and when it is missing or unreadable: once per certificate and
threshold. A renewed certificate has another notAfter, so its reminders start afresh.

Which files: the ones nginx's generated config names (madoguchi.nginx.plan over the Domain table), in
settings.TLS_CERT_DIR. The worker running the task must see that folder (run it on the nginx machine or mount it).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from madoguchi import nginx

logger = logging.getLogger(__name__)

EXPIRED = 0  # the threshold an expired certificate is reminded under
MISSING = -1  # ... and a missing or unreadable one


@dataclass(frozen=True)
class CertificateStatus:
    name: str  # the host, or "*.<vendor domain>" for the wildcard
    path: Path
    not_after: dt.datetime | None  # None: missing or unreadable
    error: str = ""
    days_left: int | None = None  # whole days until notAfter (negative: expired)

    @property
    def expired(self) -> bool:
        return self.days_left is not None and self.days_left < 0

    def due(self, threshold: int) -> bool:
        """Under the threshold (or expired, or missing): the operators must act."""
        return self.days_left is None or self.days_left < threshold


def read_status(name: str, path: Path, now: dt.datetime) -> CertificateStatus:
    """The first certificate in the PEM file (nginx's server certificate comes first, its chain after it)."""
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        return CertificateStatus(name, path, None, error="missing")
    except (OSError, ValueError) as exc:
        return CertificateStatus(name, path, None, error=f"unreadable: {exc.__class__.__name__}")
    not_after = certificate.not_valid_after_utc
    days_left = (not_after - now).days  # floor: 6 days 23 hours is "6 days left"
    return CertificateStatus(name, path, not_after, days_left=days_left)


def configured_certificates(tls_dir: Path | None = None) -> list[tuple[str, Path]]:
    """(name, certificate file) for every server block nginx_sites writes for the Domain table."""
    from tenants.models import Domain  # here: make prod-local issues certificates before Django is set up

    tls_dir = Path(tls_dir or settings.TLS_CERT_DIR)
    hosts = Domain.objects.values_list("domain", flat=True)
    site_plan = nginx.plan(hosts, settings.MADOGUCHI_DOMAIN)
    return [
        (f"*.{site.name}" if site.wildcard else site.name, site.certificate(tls_dir))
        for site in site_plan.sites
    ]


def certificate_statuses(now: dt.datetime, tls_dir: Path | None = None) -> list[CertificateStatus]:
    return [read_status(name, path, now) for name, path in configured_certificates(tls_dir)]


# --- The reminder --------------------------------------------------------------------------------------------------

SUBJECT = _("[窓口] TLS証明書 %(name)s の有効期限まであと %(days)d 日です")
SUBJECT_EXPIRED = _("[窓口] TLS証明書 %(name)s の有効期限が切れています")
SUBJECT_MISSING = _("[窓口] TLS証明書 %(name)s を読み取れません")
BODY = _(
    "nginx の TLS証明書の更新が必要です。\n\n"
    "ホスト: %(name)s\nファイル: %(path)s\n有効期限: %(not_after)s\n状態: %(state)s\n\n"
    "ops/nginx/README.md の「Renewing a city's EV certificate」の手順（発注、CSR、設置、nginx の再読み込み、"
    "確認）に従って更新してください。"
)
STATE_DAYS = _("あと %(days)d 日")
STATE_EXPIRED = _("期限切れ")


def _state_file() -> Path:
    return Path(settings.DATA_DIR) / "tls-reminders.json"


def _load_sent(path: Path) -> set[str]:
    try:
        return set(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return set()
    except (OSError, ValueError):
        logger.exception("TLS reminder state unreadable, starting afresh: %s", path)
        return set()


def _save_sent(path: Path, sent: set[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp"
    ) as tmp:
        json.dump(sorted(sent), tmp)
    os.replace(tmp.name, path)


def _key(status: CertificateStatus, threshold: int) -> str:
    stamp = status.not_after.isoformat() if status.not_after else "none"
    return f"{status.name}|{stamp}|{threshold}"


def _mail(status: CertificateStatus) -> None:
    if status.not_after is None:
        subject_template: str | Promise = SUBJECT_MISSING
        state: str | Promise = status.error
    elif status.expired:
        subject_template, state = SUBJECT_EXPIRED, STATE_EXPIRED
    else:
        subject_template, state = SUBJECT, STATE_DAYS
    values = {"name": status.name, "days": status.days_left or 0}
    with translation.override("ja"):
        subject = str(subject_template) % values
        state_ja = str(state) % values if state is STATE_DAYS else str(state)
    with translation.override("en"):
        state_en = str(state) % values if state is STATE_DAYS else str(state)
    bodies = []
    for language, state_text in (("ja", state_ja), ("en", state_en)):
        with translation.override(language):
            bodies.append(
                str(BODY)
                % {
                    "name": status.name,
                    "path": status.path,
                    "not_after": status.not_after.isoformat() if status.not_after else "-",
                    "state": state_text,
                }
            )
    body = f"{bodies[0]}\n\n{'-' * 40}\n\n{bodies[1]}"
    recipients = list(getattr(settings, "VENDOR_ALERT_EMAILS", []))
    if recipients:
        send_mail(subject, body, None, recipients)
    else:
        logger.warning("no VENDOR_ALERT_EMAILS: TLS reminder not mailed: %s", subject)


def tls_expiry_remind(now: dt.datetime, tls_dir: Path | None = None) -> list[CertificateStatus]:
    """Mail once per certificate and threshold that is due; returns the certificates mailed about.

    Nothing is checked when the folder does not exist on this machine (a worker that is not the nginx machine)."""
    tls_dir = Path(tls_dir or settings.TLS_CERT_DIR)
    if not tls_dir.is_dir():
        logger.info("TLS reminder: %s does not exist here, nothing checked", tls_dir)
        return []
    thresholds = sorted(set(settings.TLS_REMIND_DAYS))
    state = _state_file()
    sent = _load_sent(state)
    mailed = []
    statuses = certificate_statuses(now, tls_dir)
    for status in statuses:
        if status.not_after is None:
            due = [MISSING]
        elif status.expired:
            due = [EXPIRED, *thresholds]
        else:
            due = [threshold for threshold in thresholds if status.due(threshold)]
        fresh = [threshold for threshold in due if _key(status, threshold) not in sent]
        if not fresh:
            continue
        _mail(status)
        # One mail covers every threshold crossed at once (first seen with 5 days left: the 30 and the 7).
        sent.update(_key(status, threshold) for threshold in due)
        mailed.append(status)
    # A certificate found again is reminded afresh if it goes missing later.
    readable = {status.name for status in statuses if status.not_after is not None}
    sent = {key for key in sent if not (key.endswith(f"|none|{MISSING}") and key.split("|")[0] in readable)}
    _save_sent(state, sent)
    return mailed


# --- Self-signed certificates (make prod-local, the bench, tests) -------------------------------------------------


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """The private key as PKCS#8 PEM, created 0600."""
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _self_signed(
    key: ec.EllipticCurvePrivateKey,
    common_name: str,
    days: int,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    """A certificate signed by its own key, valid from five minutes ago for `days` days."""
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256())


def local_authority(directory: Path, *, days: int = 365) -> tuple[Path, Path]:
    """A certificate authority for this machine only (ca.crt, ca.key in `directory`), made once and kept."""
    cert_path, key_path = directory / "ca.crt", directory / "ca.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True)
    key = _new_key()
    certificate = _self_signed(
        key,
        "Madoguchi local CA (not for production)",
        days,
        [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True),
        ],
    )
    _write_key(key_path, key)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def self_signed_certificate(cert_path: Path, key_path: Path, hosts: Sequence[str], *, days: int = 7) -> None:
    """A self-signed certificate (EC P-256) for `hosts` (wildcards allowed), as PEM files, no authority: the
    bench's nginx (bench/nginx_server.py)."""
    key = _new_key()
    certificate = _self_signed(
        key,
        hosts[0],
        days,
        [
            (x509.SubjectAlternativeName([x509.DNSName(host) for host in hosts]), False),
            (x509.BasicConstraints(ca=True, path_length=None), True),
        ],
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    _write_key(key_path, key)
    key_path.chmod(0o600)  # an existing file keeps its mode through os.open


def local_certificates(tls_dir: Path, domain: str, hosts: Sequence[str]) -> None:
    """make prod-local's: a local certificate authority (made once, kept in tls_dir/ca), a wildcard certificate
    for the vendor's domain and one for each of `hosts` (as nginx's config names them), renewed on every call."""
    authority = local_authority(tls_dir / "ca")
    wildcard = f"wildcard.{domain}"
    issue_certificate(
        authority, [domain, f"*.{domain}"], tls_dir / f"{wildcard}.crt", tls_dir / f"{wildcard}.key"
    )
    for host in hosts:
        issue_certificate(authority, [host], tls_dir / f"{host}.crt", tls_dir / f"{host}.key")


def issue_certificate(
    authority: tuple[Path, Path],
    names: list[str],
    cert_path: Path,
    key_path: Path,
    *,
    not_after: dt.datetime | None = None,
) -> Path:
    """A server certificate for `names` (DNS names, wildcards allowed) signed by the local authority."""
    ca_cert = x509.load_pem_x509_certificate(authority[0].read_bytes())
    ca_key = serialization.load_pem_private_key(authority[1].read_bytes(), password=None)
    key = _new_key()
    now = dt.datetime.now(dt.UTC)
    not_after = not_after or now + dt.timedelta(days=90)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now - dt.timedelta(minutes=5), not_after - dt.timedelta(days=1)))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    _write_key(key_path, key)
    # The server certificate first, then the authority: nginx sends the chain, clients trust ca.crt.
    cert_path.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + ca_cert.public_bytes(serialization.Encoding.PEM)
    )
    return cert_path

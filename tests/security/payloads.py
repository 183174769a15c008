"""Attack inputs for tests/security/, one list per IPA class (安全なウェブサイトの作り方 改訂第7版).

Real payloads as scanners and testers send them (sqlmap, OWASP testing guide, PayloadsAllTheThings), kept short
enough that every form field can get every payload. Add a payload here and every module that uses the list tries
it on every page.
"""

from __future__ import annotations

import uuid

# 1-(i) SQL injection: quote breaking, tautologies, UNION, stacked queries, time-based, comments, PostgreSQL
# specifics (dollar quoting, casts), and full-width quotes that NFKC would fold.
SQL_INJECTION = [
    "' OR '1'='1",
    "' OR '1'='1' --",
    "' OR 1=1 --",
    '" OR ""="',
    "admin'--",
    "admin' #",
    "') OR ('1'='1",
    "1' ORDER BY 1--",
    "' UNION SELECT NULL, username, password FROM security_user --",
    "' UNION SELECT table_name, NULL FROM information_schema.tables --",
    "'; DROP TABLE security_user; --",
    "'; DROP SCHEMA public CASCADE; --",
    "'; TRUNCATE tenants_municipality CASCADE; --",
    "'; UPDATE security_user SET is_superuser = true; --",
    "' AND 1=(SELECT COUNT(*) FROM pg_sleep(3)) --",
    "'; SELECT pg_sleep(3); --",
    "1; SET search_path TO okegawa; --",
    "$$; DROP TABLE security_user; $$",
    "'::text || (SELECT current_user) || '",
    "' AND extractvalue(1, concat(0x7e, version())) --",
    "1 AND 1=CAST((SELECT version()) AS int)",
    "\\'; DROP TABLE security_user; --",
    "％27 OR ％271％27=％271",  # full-width percent signs
    "＇ OR ＇1＇=＇1",  # full-width apostrophes (U+FF07)
    "%27%20OR%20%271%27%3D%271",
    "\x00' OR 1=1 --",
]

# Tables whose rows must survive every SQL injection attempt (checked by count before and after).
SQL_CANARY_TABLES = ["security_user", "django_session", "auth_group"]


def command_injection(marker: str) -> list[str]:
    """1-(ii) OS command injection: each payload would create `marker` (a path under /tmp) if it reached a shell."""
    return [
        f"; touch {marker}",
        f"| touch {marker}",
        f"|| touch {marker}",
        f"&& touch {marker}",
        f"& touch {marker} &",
        f"`touch {marker}`",
        f"$(touch {marker})",
        f"\n touch {marker}",
        f"%0atouch {marker}",
        f"a@example.jp; touch {marker}",
        f"a@example.jp`touch {marker}`",
        f"'; touch {marker}; echo '",
        f'"; touch {marker}; echo "',
        f"${{IFS}}touch${{IFS}}{marker}",
        f'; python3 -c \'open("{marker}", "w")\'',
        f"|/usr/bin/touch {marker}",
    ]


def command_marker() -> str:
    return f"/tmp/pwned-{uuid.uuid4().hex}"  # noqa: S108 (a file that must never be created)


# 1-(iii) Path traversal: dot segments raw, percent-encoded, double-encoded, overlong UTF-8, backslashes, NUL.
PATH_TRAVERSAL = [
    "../../../../../../etc/passwd",
    "..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "..%c0%af..%c0%af..%c0%afetc%c0%afpasswd",
    "..%ef%bc%8f..%ef%bc%8fetc%ef%bc%8fpasswd",
    "....//....//....//etc/passwd",
    "..\\..\\..\\..\\etc\\passwd",
    "..%5c..%5c..%5cetc%5cpasswd",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "../../../../etc/passwd%00.css",
    "../../platform/madoguchi/settings/__init__.py",
    "../../.env",
    "../../.data/pg/postgresql.conf",
    "../../../proc/self/environ",
]
# What a leaked file would contain: the test asserts none of these ever appears in a response.
LEAK_MARKERS = ["root:x:0:0", "root:*:0:0", "DJANGO_SECRET_KEY", "SECRET_KEY =", "PATH=/", "shared_buffers"]

# Open redirect (a cousin of path traversal on `next=`): targets off this site, in the spellings browsers accept.
OPEN_REDIRECTS = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "///evil.example",
    "////evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "https:evil.example",
    "https:/evil.example",
    "/%2f%2fevil.example",
    "%2f%2fevil.example",
    "/%09/evil.example",
    " //evil.example",
    "\t//evil.example",
    "https://ageo.localhost@evil.example/",
    "https://evil.example#@ageo.localhost/",
    "https://evil.example?.ageo.localhost",
    "javascript:alert(document.domain)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
]

# 1-(v) Cross-site scripting: element, attribute, URL and event contexts, filter-evasion spellings.
XSS = [
    "<script>alert(1)</script>",
    '"><script>alert(document.cookie)</script>',
    "'><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    "<svg><script>alert&#40;1&#41;</script>",
    "<body onload=alert(1)>",
    "<iframe src=javascript:alert(1)>",
    '" autofocus onfocus="alert(1)',
    "' onmouseover='alert(1)",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "<ScRiPt>alert(1)</sCrIpT>",
    "<scr<script>ipt>alert(1)</script>",
    "javascript:alert(1)",
    "<a href=javascript:alert(1)>x</a>",
    "{{ 7*7 }}{% debug %}",
    "${7*7}<%= 7*7 %>",
    "＜script＞alert(1)＜/script＞",  # full-width brackets
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
]
# Markers that would appear, unescaped, in a page if a payload were reflected raw.
XSS_RAW_MARKERS = [
    "<script>alert",
    "<script>alert(document.cookie)",
    "<img src=x onerror",
    "<svg/onload",
    "<svg><script>",
    "<body onload",
    "<iframe src=javascript",
    '" autofocus onfocus="alert',
    "' onmouseover='alert",
    "</textarea><script>",
    "</title><script>",
    "<ScRiPt>",
    "<a href=javascript:",
]

# 1-(vii) HTTP header injection: CR/LF raw and encoded, Unicode line separators, header folding.
CRLF = [
    "\r\nSet-Cookie: injected=1",
    "\r\nX-Injected: 1",
    "%0d%0aSet-Cookie:%20injected=1",
    "%0D%0AX-Injected:%201",
    "%0aX-Injected:%201",
    "%0dX-Injected:%201",
    "%E5%98%8A%E5%98%8DX-Injected:%201",  # U+560A U+560D: bytes 0A/0D in a naive decoder
    "\u2028X-Injected: 1",
    "\r\n\r\n<script>alert(1)</script>",
    "%0d%0a%0d%0a<script>alert(1)</script>",
    "\nLocation: https://evil.example/",
]
INJECTED_HEADERS = ["X-Injected", "injected"]

# 1-(viii) Mail header injection: a second header or recipients smuggled into an address.
ATTACKER = "attacker@evil.example"
MAIL_HEADER_INJECTION = [
    f"victim@example.jp\r\nBcc: {ATTACKER}",
    f"victim@example.jp\nBcc: {ATTACKER}",
    f"victim@example.jp\r\nCc: {ATTACKER}",
    f"victim@example.jp%0d%0aBcc:%20{ATTACKER}",
    f"victim@example.jp%0ABcc:{ATTACKER}",
    f"victim@example.jp\r\nTo: {ATTACKER}",
    f"victim@example.jp,{ATTACKER}",
    f"victim@example.jp;{ATTACKER}",
    f"victim@example.jp {ATTACKER}",
    f'"victim@example.jp\\"\r\nBcc: {ATTACKER}"@example.jp',
    f"victim@example.jp\r\nSubject: hacked\r\n\r\nbody\r\n.\r\nMAIL FROM:<{ATTACKER}>",
]

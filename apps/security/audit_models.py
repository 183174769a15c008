"""The audit log: one append-only, hash-chained table per schema (public for the vendor, one per city).

Each row's `hash` is HMAC-SHA256(the schema's key, prev_hash + canonical JSON of the row's other fields)
(`hash_version` 2; rows written before the key existed keep version 1, a plain sha256), and `prev_hash` is the hash
of the row before it, so changing, removing or reordering a row breaks the chain at that row (`manage.py
audit_verify`). A one-row `AuditHead` per schema records the newest sequence and hash under a MAC, so removing the
newest rows is noticed too. Rows are written only by `apps.security.audit.audit_record`, which serialises a
schema's writers; the database refuses UPDATE, DELETE and TRUNCATE on the table (migration 0003 and
ops/database-roles.md). docs/audit-log.md describes the scheme.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any, NoReturn

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.security.audit_keys import city_key, keyed_hash

GENESIS_HASH = "0" * 64
# hash_version: 1 = sha256 without a key (rows written before migration 0005), 2 = HMAC-SHA256 with the city's key.
HASH_UNKEYED = 1
HASH_KEYED = 2

# Every action code with its label. Codes are open-ended (other apps add theirs here); an unknown code is shown
# as it is.
ACTION_LABELS: dict[str, Any] = {
    "auth.login": _("ログイン"),
    "auth.login_failed": _("ログイン失敗"),
    "auth.logout": _("ログアウト"),
    "auth.logout_everywhere": _("すべての端末からログアウト"),
    "auth.lockout": _("ログインのロック"),
    "auth.unlock": _("ロックの解除"),
    "auth.mfa_failed": _("二要素認証の失敗"),
    "network.refused": _("接続元による拒否"),
    "network.added": _("許可ネットワークの追加"),
    "network.removed": _("許可ネットワークの削除"),
    "policy.changed": _("セキュリティ方針の変更"),
    "audit.exported": _("監査ログの出力"),
    "audit.viewed": _("監査ログの閲覧"),
    "audit.key_disclosed": _("監査ログの検証鍵の出力"),
    "audit.head_reset": _("監査ログの先頭記録の再設定"),
    "personal_data.viewed": _("個人情報の閲覧"),
    "personal_data.searched": _("個人情報の検索"),
    "request.write": _("データの変更"),
    "import.uploaded": _("カード一覧のアップロード"),
    "import.refused": _("カード一覧の受付拒否"),
    "import.confirmed": _("カード一覧の取込の確定"),
    "import.applied": _("カード一覧の取込"),
    "import.failed": _("カード一覧の取込の失敗"),
    "import.discarded": _("カード一覧の取込の取りやめ"),
    "import.files_deleted": _("取込ファイルの削除"),
    "import.mapping_saved": _("列の対応の保存"),
    "import.mapping_deleted": _("列の対応の削除"),
    "security.upload_infected": _("ウイルスを含むファイルの受付拒否"),
    "api_key.created": _("APIキーの作成"),
    "staff.invited": _("職員の招待"),
    "city.offboarded": _("自治体の削除（契約終了）"),
    "api_key.rotated": _("APIキーの再発行"),
    "api_key.revoked": _("APIキーの失効"),
}


def register_action_labels(labels: dict[str, Any]) -> None:
    """Other apps name their own audit actions here (security must not import them), from their `ready()`."""
    ACTION_LABELS.update(labels)


class ActorKind(models.TextChoices):
    STAFF = "staff", _("職員")
    VENDOR = "vendor", _("運営事業者")
    RESIDENT = "resident", _("住民")
    SYSTEM = "system", _("システム")
    ANONYMOUS = "anonymous", _("未ログイン")
    API_KEY = "api_key", _("APIキー")


class AppendOnlyError(Exception):
    """Raised before the database would refuse it: audit events are never changed or deleted."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events cannot be changed")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("audit events cannot be deleted")


class AuditEvent(models.Model):
    # `id` is only the row's storage key; `sequence` is the chain's order, gap-free per schema.
    sequence = models.BigIntegerField(_("連番"), unique=True)
    at = models.DateTimeField(_("日時"))
    actor_id = models.BigIntegerField(_("操作者ID"), null=True, blank=True)
    # A copy of the name, so that events of a deleted or renamed account stay readable.
    actor_username = models.CharField(_("操作者"), max_length=150, blank=True)
    actor_kind = models.CharField(_("操作者の種別"), max_length=10, choices=ActorKind.choices)
    address = models.CharField(_("接続元アドレス"), max_length=64, blank=True)
    action = models.CharField(_("操作"), max_length=64)
    target = models.CharField(_("対象"), max_length=255, blank=True)
    summary = models.TextField(_("内容"), blank=True)
    before = models.JSONField(_("変更前"), null=True, blank=True)
    after = models.JSONField(_("変更後"), null=True, blank=True)
    request_id = models.CharField(_("リクエストID"), max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # Not hashed itself: a row claiming version 1 where the head says keyed rows began is refused by audit_verify.
    hash_version = models.PositiveSmallIntegerField(default=HASH_KEYED)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("監査ログ")
        verbose_name_plural = _("監査ログ")
        ordering = ["-sequence"]
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["at"], name="security_audit_at_idx"),
            models.Index(fields=["action", "-sequence"], name="security_audit_action_idx"),
            models.Index(fields=["actor_username", "-sequence"], name="security_audit_actor_idx"),
            models.Index(fields=["address", "-sequence"], name="security_audit_address_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events cannot be deleted")

    @property
    def action_label(self) -> Any:
        return ACTION_LABELS.get(self.action, self.action)

    def chain_payload(self) -> dict[str, Any]:
        """Every field the hash covers (all but the storage key and the two hashes)."""
        return {
            "sequence": self.sequence,
            "at": self.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor_id": self.actor_id,
            "actor_username": self.actor_username,
            "actor_kind": self.actor_kind,
            "address": self.address,
            "action": self.action,
            "target": self.target,
            "summary": self.summary,
            "before": self.before,
            "after": self.after,
            "request_id": self.request_id,
        }

    def compute_hash(self, key: bytes | None = None) -> str:
        """The row's hash for its version; version 2 uses `key`, by default the current schema's key."""
        if self.hash_version == HASH_UNKEYED:
            return chain_hash(self.prev_hash, self.chain_payload())
        if key is None:
            from tenants.db import current_schema

            key = city_key(current_schema())
        return keyed_hash(key, self.prev_hash, canonical_json(self.chain_payload()))


def canonical_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    """A version-1 row's hash (unkeyed): kept to verify the rows written before the key existed."""
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode("utf-8")).hexdigest()


class AuditHead(models.Model):
    """The chain's newest sequence and hash, one row per schema, moved by `audit_record` with every event.

    `mac` = HMAC(the schema's key, keyed_from, sequence, hash): someone who can write the database but lacks the key
    cannot move the head back after deleting the newest events, nor claim that keyed rows begin later than they do.
    This table is not append-only (it is updated in place); the application role may write it.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    # The first sequence that must be keyed (hash_version 2); earlier rows were written before the key existed.
    keyed_from = models.BigIntegerField()
    sequence = models.BigIntegerField()  # 0: no events yet
    hash = models.CharField(max_length=64)
    mac = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        default_permissions = ()
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="security_audithead_one_row")]

    def __str__(self) -> str:
        return f"head #{self.sequence}"

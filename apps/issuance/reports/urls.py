from django.urls import URLPattern, URLResolver, path

from apps.issuance.reports import views
from apps.issuance.reports.worklists import WORK_LISTS
from apps.security.roles import MANAGE_CARDS, require_permission

app_name = "issuance_reports"


def _work_list_urls() -> list[URLPattern]:
    """Each work list at lists/<key>/ (and its export, and its bulk action if it has one) with the list's
    permission; the bulk action writes, so it needs MANAGE_CARDS whatever the list's."""
    patterns: list[URLPattern] = []
    for work_list in WORK_LISTS.values():
        may_see = require_permission(work_list.permission)
        key = {"key": work_list.key}
        patterns += [
            path(f"lists/{work_list.key}/", may_see(views.work_list_page), key, name=work_list.key),
            path(
                f"lists/{work_list.key}/export/",
                may_see(views.work_list_export),
                key,
                name=f"{work_list.key}_export",
            ),
        ]
        if work_list.bulk_action:
            patterns.append(
                path(
                    f"lists/{work_list.key}/{work_list.bulk_action}/",
                    require_permission(MANAGE_CARDS)(views.work_list_bulk),
                    key,
                    name=f"{work_list.key}_bulk",
                )
            )
    return patterns


urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.report_page, name="report"),
    path("export/", views.report_export, name="report_export"),
    path("pdf/", views.report_pdf_view, name="report_pdf"),
    path("monthly/", views.monthly, name="monthly"),
    path("monthly/export/", views.monthly_export, name="monthly_export"),
    path("monthly/pdf/", views.monthly_pdf, name="monthly_pdf"),
    path("lists/", views.lists_index, name="lists"),
    *_work_list_urls(),
]

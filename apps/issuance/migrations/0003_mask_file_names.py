"""Card-list batches uploaded before file names were checked keep no 個人番号 in their names (issue 10, item 6).

Only the name shown in the list is masked; the stored file (`stored_name`, a random name) and the batch stay.
The audit rows of those uploads are append-only and cannot be changed: docs/security.md says so.
"""

from typing import Any

from django.db import migrations


def mask_names(apps: Any, schema_editor: Any) -> None:
    from base.mynumber import contains_individual_number, mask_individual_numbers

    ImportBatch = apps.get_model("issuance", "ImportBatch")
    for batch in ImportBatch.objects.only("pk", "file_name").iterator():
        if contains_individual_number(batch.file_name):
            ImportBatch.objects.filter(pk=batch.pk).update(file_name=mask_individual_numbers(batch.file_name))


class Migration(migrations.Migration):
    dependencies = [("issuance", "0002_history_index_upload_days")]

    operations = [migrations.RunPython(mask_names, migrations.RunPython.noop)]

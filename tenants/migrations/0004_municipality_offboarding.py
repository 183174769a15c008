from django.db import migrations, models


class Migration(migrations.Migration):
    # varchar(10) to varchar(12) is a catalog change in PostgreSQL (no rewrite, a brief lock); the old code writes
    # only its own shorter values and reads "offboarding" as a city that is not active.
    zero_downtime = "expand: a longer varchar and a new choice; no rewrite, the old code's values still fit"

    dependencies = [
        ("tenants", "0003_spareschema"),
    ]

    operations = [
        migrations.AlterField(
            model_name="municipality",
            name="status",
            field=models.CharField(
                choices=[("active", "稼働中"), ("suspended", "停止中"), ("offboarding", "契約終了手続き中")],
                default="active",
                max_length=12,
                verbose_name="状態",
            ),
        ),
    ]

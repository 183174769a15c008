from django.db import migrations, models


class Migration(migrations.Migration):
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

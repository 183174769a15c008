"""Django admin for the console's public tables.

The maintenance windows are not registered here: they are proposed, listed and cancelled on the console's own
pages (console.maintenance), where each city's approval is asked, mailed and audited; a row written in admin would
skip all three (and the old admin-managed MaintenanceNotice, which showed without approval, is gone).
"""

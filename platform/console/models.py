"""The vendor console's own tables (public schema).

The admin-managed MaintenanceNotice that used to live here showed a banner without any city's approval; it was
dropped (migration 0002) for console.maintenance's MaintenanceProposal, which applies to a city only once that
city's supervisor approved it (docs/console.md, "Maintenance").
"""

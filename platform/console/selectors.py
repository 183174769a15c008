"""Reads of the vendor console for every page: the maintenance windows moved to console.maintenance.selectors
(approved per city); this module keeps their names for the console's other readers."""

from __future__ import annotations

from console.maintenance.selectors import ApprovedWindow, approved_windows, window_in_progress

__all__ = ["ApprovedWindow", "approved_windows", "window_in_progress"]

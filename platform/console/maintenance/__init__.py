"""Maintenance windows with each city's approval (issue 15, item 3): proposed in the console, approved per city."""

"""Packaging: files that take Shipyard to production (containers, manifests, dashboards, alerts).

Everything here generates text from what Shipyard knows; nothing runs a service.
"""

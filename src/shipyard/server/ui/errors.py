"""The dashboard's own refusals (mapped to statuses and pages only in ``rendering``)."""

from __future__ import annotations

from shipyard.errors import ShipyardError


class CsrfRefused(ShipyardError):
    """A state-changing request without the session's CSRF token (403)."""


class SignInFailed(ShipyardError):
    """The token given on the sign-in page is not a live token (401)."""

"""The dashboard's buttons: each POST checks the session's CSRF token, then calls the same
Client operation as the control API (the auth layer has already checked the same
permission, from the same table) and redirects back to the page (post/redirect/get)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from shipyard.errors import NotFound, ShipyardError
from shipyard.sdk.client import Client
from shipyard.server.ui.pages import ROLLOUT_ACTIONS
from shipyard.server.ui.rendering import read_form, render_error
from shipyard.server.ui.viewer import check_csrf, viewer_of

router = APIRouter(include_in_schema=False)


@router.post("/ui/rollouts/{deployment}/{action}")
async def act_on_rollout(request: Request, deployment: str, action: str) -> Response:
    """promote, pause, resume or abort the deployment's latest rollout."""
    viewer = viewer_of(request)
    try:
        check_csrf(request, viewer, await read_form(request))
        if action not in ROLLOUT_ACTIONS:
            raise NotFound(f"no rollout action {action!r}; use one of {list(ROLLOUT_ACTIONS)}")
        client: Client = request.app.state.client
        getattr(client, f"{action}_rollout")(deployment)
    except ShipyardError as error:
        return render_error(request, viewer, error)
    return RedirectResponse(f"/ui/rollouts/{deployment}", status_code=303)

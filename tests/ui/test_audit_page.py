"""The Audit page: admins only (the permission of ``shipyard audit``), filtered and paged in
the store, with the hash chain's verify status."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.config import ServerSettings, StoreSettings
from shipyard.server.app import create_app
from shipyard.server.ui.chain_status import ChainVerifier
from shipyard.store.audit_chain import AuditHead
from tests.store.test_audit_chain import tamper
from tests.ui.conftest import sign_in, token_of


def _rows(page: str) -> list[int]:
    """The audit row ids the page lists."""
    table = page.split('id="audit-rows"', 1)[1].split("</table>", 1)[0]
    return [int(m) for m in re.findall(r"<tr><td>(\d+)</td>", table)]


def test_an_admin_sees_the_log_newest_first_and_the_chain_intact(
    http: TestClient, workspace: Client
) -> None:
    cookie = sign_in(http, token_of(workspace, "admin", http))
    page = http.get("/ui/audit", headers=cookie)
    assert page.status_code == 200
    newest = workspace.audit_log(limit=100)
    assert _rows(page.text) == [e.id for e in newest]
    assert "intact</span>" in page.text and "rows verified" in page.text
    assert "shipyard audit log" in page.text and "shipyard audit verify" in page.text
    assert '<a href="/ui/audit"' in page.text  # the nav shows Audit to an admin
    assert 'id="audit-rows" data-live="5"' in page.text
    for field in ("f-actor", "f-action", "f-target", "f-since", "f-until"):
        assert f'<label for="{field}">' in page.text


def test_filters_narrow_the_rows_in_the_store(http: TestClient, workspace: Client) -> None:
    cookie = sign_in(http, token_of(workspace, "admin", http))
    tokens = http.get("/ui/audit?action=token.", headers=cookie).text
    expected = [e.id for e in workspace.audit_log(action="token.", limit=100)]
    assert expected and _rows(tokens) == expected
    assert "shipyard audit log --action token." in tokens

    target = http.get("/ui/audit", params={"target": "deployment cancer"}, headers=cookie).text
    rows = _rows(target)
    assert rows and all(
        e.object_type == "deployment" and e.object_id == "cancer"
        for e in workspace.audit_log(limit=1000)
        if e.id in rows
    )

    actor = workspace.audit_log(limit=1)[0].actor
    by_actor = http.get("/ui/audit", params={"actor": actor}, headers=cookie).text
    assert _rows(by_actor) == [e.id for e in workspace.audit_log(actor=actor, limit=100)]

    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    assert _rows(http.get("/ui/audit", params={"since": future}, headers=cookie).text) == []
    assert (
        "match these filters"
        in http.get("/ui/audit", params={"since": future}, headers=cookie).text
    )
    everything = http.get("/ui/audit", params={"until": future, "since": "7d"}, headers=cookie)
    assert _rows(everything.text) == [e.id for e in workspace.audit_log(limit=100)]


def test_paging_reads_one_page_at_a_time(http: TestClient, workspace: Client) -> None:
    while len(workspace.audit_log(limit=150)) < 150:  # more rows than one page
        workspace.create_token(f"paging-{len(workspace.audit_log(limit=150))}", "viewer")
    cookie = sign_in(http, token_of(workspace, "admin", http))
    first = http.get("/ui/audit", headers=cookie).text
    assert 'rel="next"' in first and 'rel="prev"' not in first
    second = http.get("/ui/audit?page=2", headers=cookie).text
    assert 'rel="prev"' in second
    every = [e.id for e in workspace.audit_log(limit=200)]
    assert _rows(first) + _rows(second)[:50] == every[:150]
    assert [e.id for e in workspace.audit_log(limit=10, offset=100)] == every[100:110]


def test_others_are_refused_and_see_no_audit_link(http: TestClient, workspace: Client) -> None:
    for role in ("viewer", "deployer"):
        cookie = sign_in(http, token_of(workspace, role, http))
        overview = http.get("/ui", headers=cookie).text
        assert '<a href="/ui/pipelines"' in overview and '<a href="/ui/audit"' not in overview
        refused = http.get("/ui/audit", headers=cookie)
        assert refused.status_code == 403 and "'manage_access' permission" in refused.text
    assert http.get("/ui/audit").status_code == 303  # anonymous: to the sign-in page


def test_bad_filters_get_a_400_page(http: TestClient, workspace: Client) -> None:
    cookie = sign_in(http, token_of(workspace, "admin", http))
    for params in ({"since": "yesterday-ish"}, {"until": "soon"}, {"page": "0"}, {"page": "two"}):
        response = http.get("/ui/audit", params=params, headers=cookie)
        assert response.status_code == 400, params
        assert 'role="alert"' in response.text
    echoed = http.get("/ui/audit", params={"actor": "<script>x</script>"}, headers=cookie).text
    assert "<script>x</script>" not in echoed and "&lt;script&gt;x&lt;/script&gt;" in echoed


def test_the_verifier_checks_only_new_rows_after_a_full_check(workspace: Client) -> None:
    verifier = ChainVerifier()
    full = verifier.status(workspace)
    assert full.check.ok and not full.incremental and full.rows == full.head.id  # type: ignore[union-attr]
    same = verifier.status(workspace)
    assert same.incremental and same.took_ms == 0.0  # the same head: nothing to check
    workspace.create_token("verify-incremental", "viewer")  # one more row
    grown = verifier.status(workspace)
    assert grown.check.ok and grown.incremental and grown.check.rows_checked == 1
    assert grown.rows == grown.head.id and grown.full_at_ms == full.full_at_ms  # type: ignore[union-attr]
    again = verifier.status(workspace, full=True)
    assert not again.incremental and again.check.rows_checked == again.head.id  # type: ignore[union-attr]


def test_verifying_after_a_head_that_no_longer_matches_fails(workspace: Client) -> None:
    head = workspace.audit_head()
    assert head is not None
    assert workspace.verify_audit(after=head).ok
    forged = AuditHead(id=head.id, hash="f" * 64)
    check = workspace.verify_audit(after=forged)
    assert not check.ok and check.bad_row_id == head.id
    gone = workspace.verify_audit(after=AuditHead(id=head.id + 10**6, hash="0" * 64))
    assert not gone.ok and gone.problem == "deleted"


def test_a_tampered_trail_shows_broken_once_checked_in_full(tmp_path: Path) -> None:
    client = Client(settings=StoreSettings(home=tmp_path / "ws", user="tester"))
    app = create_app(ServerSettings(pipelines=False, poll_interval_s=0.05), client=client)
    with TestClient(app, follow_redirects=False) as http:
        cookie = sign_in(http, token_of(client, "admin", http))
        assert "intact</span>" in http.get("/ui/audit", headers=cookie).text
        tamper(client, "UPDATE audit_events SET actor = 'mallory' WHERE id = 1")
        # the head is unchanged: a normal load reuses the check (and says when it ran) ...
        cached = http.get("/ui/audit", headers=cookie).text
        assert "intact</span>" in cached and "Check the whole chain again" in cached
        # ... a full check, as `shipyard audit verify`, finds the edit
        full = http.get("/ui/audit?verify=full", headers=cookie)
        assert full.status_code == 200
        assert "broken</span> at row 1 (edited)" in full.text and 'role="alert"' in full.text
        # and it stays broken on the next loads: a broken chain is checked in full each time
        assert "broken</span> at row 1" in http.get("/ui/audit", headers=cookie).text
    client.close()


def test_a_long_check_runs_in_the_background_and_the_page_says_so(workspace: Client) -> None:
    verifier = ChainVerifier(inline_rows=0)  # every check is "long"
    first = verifier.status(workspace)
    assert first.pending and first.check is None and first.rows == workspace.audit_head().id  # type: ignore[union-attr]
    deadline = time.monotonic() + 10
    status = verifier.status(workspace)
    while status.pending:
        assert time.monotonic() < deadline, "the background check never ended"
        time.sleep(0.02)
        status = verifier.status(workspace)
    assert status.check is not None and status.check.ok


def test_the_page_shows_a_check_in_progress(http: TestClient, workspace: Client) -> None:
    cookie = sign_in(http, token_of(workspace, "admin", http))
    verifier: ChainVerifier = http.app.fallback.state.ui_audit_verifier  # type: ignore[attr-defined]
    verifier.inline_rows = 0
    try:
        page = http.get("/ui/audit?verify=full", headers=cookie).text
        assert "checking</span>: verifying" in page and 'id="audit-chain" data-live="5"' in page
        deadline = time.monotonic() + 10
        while "intact</span>" not in http.get("/ui/audit", headers=cookie).text:
            assert time.monotonic() < deadline, "the page never showed the result"
            time.sleep(0.05)
    finally:
        verifier.inline_rows = 5000

"""The audit trail's hash chain: appended correctly, and tampering is named.

The tampering tests act as an attacker with database access would: they drop
the append-only triggers, change rows with plain SQL, and expect ``verify`` to
name the first bad row and what is wrong with it.
"""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.errors import InvalidInput
from shipyard.store.audit_chain import GENESIS, HASHED_FIELDS, canonical, chain_hash
from shipyard.store.audit_context import audit_context


def mutate(client: Client, n: int) -> None:
    """``n`` audited mutations: webhook subscriptions added (one audit row each)."""
    for i in range(n):
        client.add_webhook(f"https://example.com/hook/{i}")


def tamper(client: Client, *statements: str) -> None:
    """Run SQL on audit_events with the append-only triggers out of the way."""
    with client.store.db.engine.begin() as conn:
        drop_triggers(conn)
        for statement in statements:
            conn.execute(text(statement))


def drop_triggers(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
    else:
        conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(text("DROP TRIGGER audit_events_no_delete"))


def rows(client: Client) -> list[dict[str, Any]]:
    with client.store.db.engine.connect() as conn:
        result = conn.execute(text("SELECT * FROM audit_events ORDER BY id"))
        stored = [dict(r) for r in result.mappings()]
    for row in stored:  # SQLite hands JSON back as text, psycopg parses it
        if isinstance(row["details"], str):
            row["details"] = json.loads(row["details"])
    return stored


def test_the_hash_format_is_pinned() -> None:
    # Stored data: a change here makes every existing workspace fail verify.
    row = {
        "id": 1,
        "at": 1_700_000_000_000,
        "actor": "alice",
        "action": "alias.set",
        "object_type": "model",
        "object_id": "fraud",
        "details": {"b": [1, 2.5], "a": "é"},
        "request_id": None,
        "client_address": None,
    }
    assert canonical(row) == (
        b'{"action":"alias.set","actor":"alice","at":1700000000000,"client_address":null,'
        b'"details":{"a":"\xc3\xa9","b":[1,2.5]},"id":1,"object_id":"fraud",'
        b'"object_type":"model","request_id":null}'
    )
    assert chain_hash(GENESIS, row) == (
        "dc5e25a08172a7f70d8ad5dae97c299a9043e1a1c73c32735c6d7db3471bbb08"
    )


def test_a_fresh_workspace_verifies_and_links_every_row(client: Client) -> None:
    mutate(client, 3)
    client.remove_webhook(2)
    check = client.verify_audit()
    assert check.ok and check.rows_checked == 4 and check.bad_row_id is None
    stored = rows(client)
    assert [r["id"] for r in stored] == [1, 2, 3, 4]
    assert stored[0]["prev_hash"] == GENESIS
    for before, row in itertools.pairwise(stored):
        assert row["prev_hash"] == before["hash"]
        assert row["hash"] == chain_hash(row["prev_hash"], {k: row[k] for k in HASHED_FIELDS})


def test_an_empty_trail_verifies(client: Client) -> None:
    check = client.verify_audit()
    assert check.ok and check.rows_checked == 0
    assert client.audit_head() is None


@pytest.mark.parametrize(
    "statement",
    [
        """UPDATE audit_events SET details = '{"url": "https://evil.example"}' WHERE id = 3""",
        "UPDATE audit_events SET actor = 'someone-else' WHERE id = 3",
        "UPDATE audit_events SET at = at + 1 WHERE id = 3",
    ],
    ids=["details", "actor", "time"],
)
def test_an_edited_row_is_named(client: Client, statement: str) -> None:
    mutate(client, 5)
    tamper(client, statement)
    check = client.verify_audit()
    assert not check.ok
    assert (check.bad_row_id, check.problem, check.rows_checked) == (3, "edited", 2)
    assert "row 3 was edited" in check.message


def test_a_deleted_row_is_named(client: Client) -> None:
    mutate(client, 5)
    tamper(client, "DELETE FROM audit_events WHERE id = 3")
    check = client.verify_audit()
    assert (check.ok, check.bad_row_id, check.problem) == (False, 4, "deleted")
    assert "between row 2 and row 4" in check.message


def test_deleted_first_rows_are_named(client: Client) -> None:
    mutate(client, 3)
    tamper(client, "DELETE FROM audit_events WHERE id = 1")
    check = client.verify_audit()
    assert (check.ok, check.bad_row_id, check.problem) == (False, 2, "deleted")


def test_rows_with_swapped_ids_are_named_reordered(client: Client) -> None:
    mutate(client, 5)
    tamper(
        client,
        "UPDATE audit_events SET id = -1 WHERE id = 2",
        "UPDATE audit_events SET id = 2 WHERE id = 3",
        "UPDATE audit_events SET id = 3 WHERE id = -1",
    )
    check = client.verify_audit()
    assert (check.ok, check.bad_row_id, check.problem) == (False, 2, "reordered")


def test_rows_with_swapped_contents_are_named_reordered(client: Client) -> None:
    mutate(client, 5)
    stored = {r["id"]: r for r in rows(client)}
    columns = [c for c in stored[2] if c != "id"]

    def assign(row: dict[str, Any]) -> str:
        return ", ".join(f"{c} = {literal(row[c], c)}" for c in columns)

    tamper(
        client,
        f"UPDATE audit_events SET {assign(stored[3])} WHERE id = 2",
        f"UPDATE audit_events SET {assign(stored[2])} WHERE id = 3",
    )
    check = client.verify_audit()
    assert (check.ok, check.bad_row_id, check.problem) == (False, 2, "reordered")


def literal(value: Any, column: str) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    if column == "details":
        value = json.dumps(value)
    return "'" + str(value).replace("'", "''") + "'"


def test_an_edited_and_rehashed_row_breaks_the_next_link(client: Client) -> None:
    mutate(client, 5)
    row = rows(client)[2]  # id 3
    forged = {**{k: row[k] for k in HASHED_FIELDS}, "actor": "mallory"}
    new_hash = chain_hash(row["prev_hash"], forged)
    tamper(client, f"UPDATE audit_events SET actor = 'mallory', hash = '{new_hash}' WHERE id = 3")
    check = client.verify_audit()
    assert (check.ok, check.bad_row_id, check.problem) == (False, 4, "broken_link")
    assert "row 4 does not chain from row 3" in check.message


def test_only_a_checkpoint_catches_the_newest_rows_deleted(client: Client) -> None:
    mutate(client, 4)
    head = client.audit_head()
    assert head is not None and head.id == 4
    assert client.verify_audit(against=head.token).ok
    tamper(client, "DELETE FROM audit_events WHERE id = 4")
    assert client.verify_audit().ok  # the chain alone cannot tell
    check = client.verify_audit(against=head.token)
    assert (check.ok, check.bad_row_id, check.problem) == (False, 4, "deleted")


def test_only_a_checkpoint_catches_a_chain_rewritten_from_a_row_on(client: Client) -> None:
    mutate(client, 4)
    checkpoint = client.audit_head()
    assert checkpoint is not None
    stored = rows(client)
    prev, updates = stored[1]["hash"], []
    for row in stored[2:]:  # rewrite rows 3 and 4 consistently
        fields = {**{k: row[k] for k in HASHED_FIELDS}, "actor": "mallory"}
        new_hash = chain_hash(prev, fields)
        updates.append(
            f"UPDATE audit_events SET actor = 'mallory', prev_hash = '{prev}', "
            f"hash = '{new_hash}' WHERE id = {row['id']}"
        )
        prev = new_hash
    tamper(client, *updates)
    assert client.verify_audit().ok
    check = client.verify_audit(against=checkpoint.token)
    assert (check.ok, check.bad_row_id, check.problem) == (False, 4, "broken_link")


def test_a_malformed_checkpoint_is_refused(client: Client) -> None:
    with pytest.raises(InvalidInput, match="HASH@ID"):
        client.verify_audit(against="abc@1")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'x' WHERE id = 1",
        "DELETE FROM audit_events WHERE id = 1",
        "DELETE FROM audit_events",
    ],
)
def test_triggers_refuse_updates_and_deletes(client: Client, statement: str) -> None:
    mutate(client, 2)
    with pytest.raises(DBAPIError, match="append-only"), client.store.db.engine.begin() as conn:
        conn.execute(text(statement))
    assert len(rows(client)) == 2 and client.verify_audit().ok


def test_postgresql_refuses_truncate(settings: StoreSettings, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    with Client(settings=settings) as client:
        mutate(client, 1)
        with pytest.raises(DBAPIError, match="append-only"), client.store.db.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_events"))


def test_concurrent_writers_keep_one_chain(settings: StoreSettings) -> None:
    """Several clients (own engines, own connections) append at once: no fork, no gap."""
    writers, each = 6, 15
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(n: int) -> None:
        try:
            with Client(settings=settings) as client:
                start.wait()
                for i in range(each):
                    client.add_webhook(f"https://example.com/{n}/{i}")
        except BaseException as exc:  # reported below, with the thread's error
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Client(settings=settings) as client:
        check = client.verify_audit()
        assert check.ok and check.rows_checked == writers * each
        assert [r["id"] for r in rows(client)] == list(range(1, writers * each + 1))


def test_the_audit_context_fills_request_id_address_and_actor(client: Client) -> None:
    mutate(client, 1)
    with audit_context(request_id="req-7", client_address="10.0.0.9:5123", actor="alice"):
        client.add_webhook("https://example.com/ctx")
    mutate(client, 1)
    newest, middle, oldest = client.audit_log(limit=3)
    assert (middle.actor, middle.request_id, middle.client_address) == (
        "alice",
        "req-7",
        "10.0.0.9:5123",
    )
    assert (newest.actor, newest.request_id) == ("tester", None)
    assert oldest.actor == "tester"
    assert client.verify_audit().ok


def test_audit_log_filters(client: Client) -> None:
    mutate(client, 3)
    client.remove_webhook(1)
    with audit_context(actor="bob"):
        client.remove_webhook(2)
    assert [e.id for e in client.audit_log()] == [5, 4, 3, 2, 1]
    assert [e.id for e in client.audit_log(limit=2)] == [5, 4]
    assert [e.action for e in client.audit_log(action="webhook.rem")] == ["webhook.remove"] * 2
    assert [e.id for e in client.audit_log(action="webhook%")] == []  # a prefix, not a pattern
    assert [e.id for e in client.audit_log(actor="bob")] == [5]
    assert len(client.audit_log(since="1h")) == 5
    tamper(client, "UPDATE audit_events SET at = at - 7200000 WHERE id <= 2")
    assert [e.id for e in client.audit_log(since="1h")] == [5, 4, 3]
    with pytest.raises(InvalidInput, match="duration"):
        client.audit_log(since="soon")
    with pytest.raises(InvalidInput, match="limit"):
        client.audit_log(limit=0)


def test_webhook_secrets_stay_out_of_the_audit_trail(client: Client) -> None:
    secret = "xoxb-T0KEN-s3cr3t"
    client.add_webhook(f"https://hooks.example.com/services/{secret}?sig=abc")
    client.add_webhook(f"https://user:{secret}@hooks.example.com/")
    text_of_trail = str([e.to_dict() for e in client.audit_log()])
    assert secret not in text_of_trail and "sig=abc" not in text_of_trail
    details = client.audit_log()[-1].details
    assert details["url"] == "https://hooks.example.com/…" and len(details["url_sha256"]) == 16

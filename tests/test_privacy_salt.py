"""The e-mail pseudonym is computed by the gate, with the salt in no statement text."""

from __future__ import annotations

import hashlib

from cx_insights.contract import entity
from cx_insights.ingest.loader import load_entity
from cx_insights.quality.gate import run_gate
from cx_insights.quality.rules import GateOptions
from cx_insights.warehouse import connect

CUSTOMERS = entity("crm__customers")


def _hashes(warehouse, landing, salt: str) -> dict[str, str | None]:
    with connect(warehouse) as con:
        load_entity(con, landing.root, CUSTOMERS)
        result = run_gate(con, CUSTOMERS, GateOptions(pii_salt=salt))
        assert result.mode in ("full", "skipped")
        return dict(
            con.execute(
                "select customer_id, email_hash from raw.crm__customers__accepted"
            ).fetchall()
        )


def test_email_hash_is_the_salted_sha256_of_the_normalised_address(landing, warehouse):
    landing.write(
        "crm/customers/a.csv",
        "customer_id,email,signed_up_at\n"
        'c1,"  Jane@Example.COM ",2024-01-01\nc2,,2024-01-01\nc3,"   ",2024-01-01\n',
    )
    expected = hashlib.sha256(b"unit-salt" + b"jane@example.com").hexdigest()
    assert expected == "d346dc5bf982eb98316891d4c10eb726d9b2552f2bf6dc84991c53b03a6b51c4"
    assert _hashes(warehouse, landing, "unit-salt") == {"c1": expected, "c2": None, "c3": None}


def test_another_salt_regates_and_changes_every_hash(landing, warehouse):
    landing.write("crm/customers/a.csv", "customer_id,email,signed_up_at\nc1,a@b.de,2024-01-01\n")
    first = _hashes(warehouse, landing, "salt-one")
    assert _hashes(warehouse, landing, "salt-one") == first
    second = _hashes(warehouse, landing, "salt-two")
    assert second["c1"] == hashlib.sha256(b"salt-two" + b"a@b.de").hexdigest() != first["c1"]
    with connect(warehouse) as con:
        stored = con.execute("select settings from raw._gate_state").fetchall()
    assert "salt-two" not in repr(stored) and "salt-one" not in repr(stored)

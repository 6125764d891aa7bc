"""Protection at rest: the sealed blob, its failures, the keys in the settings, a delivery
whose stored package the worker cannot open."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.memory import MemoryAdapter
from core.errors import HubError, PermanentError, TransientError
from core.model import Kind
from core.settings import load_settings
from hub.store.models import Message
from hub.store.raw import raw_of
from security.atrest import (
    MAGIC,
    AtRestError,
    AtRestKeyUnknown,
    AtRestTampered,
    Sealer,
    key_id,
    key_id_of,
)
from tests.support import body, document, wait_until
from tests.unit.memory_hub import RECIPIENT, memory_hub, view

K1, K2, K3 = (bytes([n]) * 32 for n in (1, 2, 3))
PACKAGE = "Quyết định về việc thử nghiệm niêm phong".encode()
AAD = b"lienthong/messages.raw/m-1"


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LIENTHONG_ATREST_KEY", "LIENTHONG_ATREST_OLD_KEYS", "LIENTHONG_CONFIG"):
        monkeypatch.delenv(name, raising=False)


# -- the blob ------------------------------------------------------------------------------
def test_a_sealed_blob_names_its_key_and_opens_to_the_very_bytes() -> None:
    sealer = Sealer(K1)
    blob = sealer.seal(PACKAGE, AAD)
    assert blob.startswith(MAGIC + key_id(K1).encode())
    assert key_id_of(blob) == key_id(K1) and len(key_id(K1)) == 8
    assert PACKAGE not in blob and "niêm phong".encode() not in blob
    assert sealer.open(blob, AAD) == PACKAGE
    # a fresh nonce each time: the same package never seals to the same bytes
    assert sealer.seal(PACKAGE, AAD) != blob


def test_plaintext_from_before_protection_reads_as_it_is() -> None:
    assert Sealer(K1).open(PACKAGE, AAD) == PACKAGE
    assert Sealer().open(PACKAGE, AAD) == PACKAGE
    assert Sealer().seal(PACKAGE, AAD) == PACKAGE  # protection off: stored as received


def test_a_blob_moved_to_another_row_fails_as_tampered() -> None:
    sealer = Sealer(K1)
    blob = sealer.seal(PACKAGE, b"lienthong/messages.raw/m-1")
    with pytest.raises(AtRestTampered) as caught:
        sealer.open(blob, b"lienthong/messages.raw/m-2", "the stored package of message m-2")
    assert caught.value.code == "atrest_tampered"
    assert "m-2" in caught.value.detail and caught.value.detail_vi


@pytest.mark.parametrize("where", [16, 23, 40, -1], ids=["nonce", "nonce end", "ciphertext",
                                                       "tag"])
def test_a_flipped_byte_fails_as_tampered(where: int) -> None:
    sealer = Sealer(K1, [K2])
    blob = bytearray(sealer.seal(PACKAGE, AAD))
    blob[where] ^= 0x01
    with pytest.raises(AtRestError) as caught:
        sealer.open(bytes(blob), AAD)
    assert caught.value.code == "atrest_tampered"


def test_a_rewritten_key_id_never_opens() -> None:
    sealer = Sealer(K1, [K2])
    blob = sealer.seal(PACKAGE, AAD)
    # naming another key the process holds: the header is bound to the tag
    other = MAGIC + key_id(K2).encode() + blob[12:]
    with pytest.raises(AtRestTampered):
        sealer.open(other, AAD)
    # a flipped bit in the id names a key nobody holds (it cannot be told from one)
    flipped = bytearray(blob)
    flipped[4] ^= 0x01
    with pytest.raises(AtRestKeyUnknown) as caught:
        sealer.open(bytes(flipped), AAD)
    assert caught.value.key_id == bytes(flipped[4:12]).decode()
    # and bytes that are no key id at all
    with pytest.raises(AtRestTampered):
        sealer.open(MAGIC + b"zz" + blob[6:], AAD)


def test_a_truncated_blob_fails_as_tampered() -> None:
    blob = Sealer(K1).seal(PACKAGE, AAD)
    for cut in (len(MAGIC) + 3, 30, len(blob) - 1):
        with pytest.raises(AtRestTampered):
            Sealer(K1).open(blob[:cut], AAD)


def test_a_key_this_process_does_not_hold_is_named() -> None:
    blob = Sealer(K1).seal(PACKAGE, AAD)
    with pytest.raises(AtRestKeyUnknown) as caught:
        Sealer(K2).open(blob, AAD, "the stored package of message m-1")
    assert caught.value.code == "atrest_key_unknown"
    assert key_id(K1) in caught.value.detail and "m-1" in caught.value.detail
    assert "LIENTHONG_ATREST_OLD_KEYS" in caught.value.detail


def test_old_keys_open_and_the_current_key_seals() -> None:
    old_blob = Sealer(K1).seal(PACKAGE, AAD)
    rotated = Sealer(K2, [K1])
    assert rotated.open(old_blob, AAD) == PACKAGE
    assert key_id_of(rotated.seal(PACKAGE, AAD)) == key_id(K2)
    assert rotated.knows(key_id(K1)) and not rotated.knows(key_id(K3))


def test_an_unreadable_store_is_the_hubs_problem_not_the_callers() -> None:
    for error in (AtRestKeyUnknown("abcd1234", "x"), AtRestTampered("x")):
        assert isinstance(error, HubError)
        assert not isinstance(error, PermanentError | TransientError)
        assert error.http_status == 500 and error.soap_fault == "Server"


# -- keys in the settings --------------------------------------------------------------------
def test_enabled_without_a_key_refuses_to_start() -> None:
    with pytest.raises(ValidationError) as caught:
        load_settings(atrest={"enabled": True})
    assert "LIENTHONG_ATREST_KEY is not set" in str(caught.value)


@pytest.mark.parametrize(("value", "says"), [
    ("not base64 at all!", "is not base64"),
    (base64.b64encode(b"sixteen byte key").decode(), "decodes to 16 bytes"),
])
def test_a_malformed_or_short_key_refuses_to_start_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    monkeypatch.setenv("LIENTHONG_ATREST_KEY", value)
    with pytest.raises(ValidationError) as caught:
        load_settings(atrest={"enabled": True})
    assert says in str(caught.value) and "LIENTHONG_ATREST_KEY" in str(caught.value)
    assert value not in str(caught.value)


def test_a_bad_old_key_is_named_by_its_position(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_ATREST_KEY", b64(K1))
    monkeypatch.setenv("LIENTHONG_ATREST_OLD_KEYS", f"{b64(K2)}, c2hvcnQ=")
    with pytest.raises(ValidationError) as caught:
        load_settings(atrest={"enabled": True})
    assert "LIENTHONG_ATREST_OLD_KEYS (key 2 of 2)" in str(caught.value)


def test_a_key_in_the_settings_file_is_refused_and_not_echoed(tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text(f"atrest:\n  enabled: true\n  key: {b64(K1)}\n", encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_settings(config)
    assert "read only from the environment" in str(caught.value)
    assert b64(K1) not in str(caught.value)


def test_keys_come_from_the_environment_and_stay_out_of_dumps(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIENTHONG_ATREST_KEY", b64(K2))
    monkeypatch.setenv("LIENTHONG_ATREST_OLD_KEYS", f" {b64(K1)} ,,")
    settings = load_settings(atrest={"enabled": True})
    assert settings.atrest.key == K2 and settings.atrest.old_keys == (K1,)
    for shown in (repr(settings), str(settings.model_dump())):
        assert b64(K2) not in shown and b64(K1) not in shown and "atrest" in shown
    sealer = Sealer.from_settings(settings.atrest)
    assert sealer.key_id == key_id(K2) and sealer.knows(key_id(K1))


def test_protection_off_keeps_the_keys_for_reading_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_ATREST_KEY", b64(K1))
    sealer = Sealer.from_settings(load_settings().atrest)
    assert not sealer.sealing and sealer.seal(PACKAGE, AAD) == PACKAGE
    assert sealer.open(Sealer(K1).seal(PACKAGE, AAD), AAD) == PACKAGE


# -- a delivery that meets a package it cannot open -------------------------------------------
def test_a_delivery_sealed_under_a_lost_key_retries_and_goes_once_the_key_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIENTHONG_ATREST_KEY", b64(K1))
    adapter = MemoryAdapter()
    ctx = memory_hub(tmp_path, adapter)
    ctx.deliverer.schedule = lambda ids, prio, delay: None  # attempts are driven by the test
    try:
        assert ctx.settings.atrest.enabled is False  # memory_hub's settings: reading only
        ctx.ingest.writer.sealer = ctx.deliverer.sealer = Sealer(K1)
        system = ctx.directory.system("tinh")
        assert system is not None
        package = body(document(31, to=(RECIPIENT,)))
        receipt = ctx.ingest.submit(system, package, "application/json", Kind.DOCUMENT)
        with ctx.db.reading() as session:
            stored = session.get(Message, receipt.id)
            assert stored is not None and key_id_of(stored.stored_raw) == key_id(K1)
        delivery = view(ctx, receipt.id)["id"]

        ctx.deliverer.sealer = Sealer(K2)  # the worker was started without the old key
        assert ctx.deliverer.run(delivery).state == "retrying"
        assert adapter.delivered == []
        failed = view(ctx, receipt.id)
        assert failed["state"] == "retrying"
        assert key_id(K1) in failed["last_error"]

        ctx.deliverer.sealer = Sealer(K2, [K1])  # restarted with it in the old keys
        outcomes: list[str] = []
        wait_until(lambda: outcomes.append(ctx.deliverer.run(delivery).state)
                   or outcomes[-1] != "skipped", timeout=10, what="the retry to fall due")
        assert outcomes[-1] == "delivered"
        assert adapter.delivered[0].payload == package
    finally:
        ctx.close()


def test_the_store_reads_every_package_through_raw_of() -> None:
    # the mapped attribute is not `raw`: reading the column by the old name cannot hand
    # ciphertext to a reader unnoticed
    assert not hasattr(Message, "raw")
    message = Message(id="m-1", stored_raw=Sealer(K1).seal(PACKAGE, AAD))
    assert raw_of(Sealer(K1), message) == PACKAGE


# -- the commands, on an embedded (SQLite) hub -------------------------------------------------
def test_keygen_prints_a_key_the_settings_take(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from hub.cli import app

    result = CliRunner().invoke(app, ["atrest", "keygen"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert len(base64.b64decode(key, validate=True)) == 32
    monkeypatch.setenv("LIENTHONG_ATREST_KEY", key)
    assert load_settings(atrest={"enabled": True}).atrest.key == base64.b64decode(key)


def test_rotation_on_sqlite_seals_plaintext_and_old_rows_and_refuses_when_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from hub.cli import app
    from hub.store.raw import PLAINTEXT, census

    ctx = memory_hub(tmp_path, MemoryAdapter())
    try:
        system = ctx.directory.system("tinh")
        assert system is not None
        sent = {}
        for n, sealer in ((41, Sealer()), (42, Sealer(K1)), (43, Sealer(K1))):
            ctx.ingest.writer.sealer = sealer
            raw = body(document(n, to=(RECIPIENT,)))
            sent[ctx.ingest.submit(system, raw, "application/json", Kind.DOCUMENT).id] = raw
        assert census(ctx.db) == {PLAINTEXT: 1, key_id(K1): 2}
    finally:
        ctx.close()

    monkeypatch.setenv("LIENTHONG_DATABASE_URL", ctx.settings.database_url)
    off = CliRunner().invoke(app, ["atrest", "rotate"])
    assert off.exit_code == 1 and "atrest_off" in off.output

    monkeypatch.setenv("LIENTHONG_ATREST__ENABLED", "true")
    monkeypatch.setenv("LIENTHONG_ATREST_KEY", b64(K2))
    monkeypatch.setenv("LIENTHONG_ATREST_OLD_KEYS", b64(K1))
    done = CliRunner().invoke(app, ["atrest", "rotate", "--batch", "1"])
    assert done.exit_code == 0, done.output
    assert "re-sealed 3/3 (2 from older keys, 1 from plaintext, 0 failed)" in done.output
    status = CliRunner().invoke(app, ["atrest", "status"])
    assert key_id(K2) in status.output and "current key" in status.output

    ctx = memory_hub(tmp_path, MemoryAdapter())
    try:
        assert census(ctx.db) == {key_id(K2): 3}
        with ctx.db.reading() as session:
            for message_id, raw in sent.items():
                message = session.get(Message, message_id)
                assert message is not None and raw_of(Sealer(K2), message) == raw
    finally:
        ctx.close()

"""The recovery module's own rules, without a server: what the trust file keeps and how
a damaged one reads, which text is taken for a recovery key, and the backup's entries."""

from __future__ import annotations

import json
import os

from app.matrix import secrets
from app.matrix.recovery import (
    DeviceTrust,
    _first_failure,
    backup_entry,
    backup_sessions,
    load_trust,
    looks_like_recovery_key,
    save_trust,
)


def test_the_trust_file_round_trips_privately_and_a_damaged_one_is_no_trust(tmp_path) -> None:
    old = os.umask(0)
    try:
        trust = DeviceTrust(verified=True, self_signing_key="ssk", backup_version="3", backup_key=b"k" * 32,
                            restored=True, uploading=True)
        save_trust(tmp_path, trust)
    finally:
        os.umask(old)
    assert (tmp_path / "trust.json").stat().st_mode & 0o777 == 0o600
    assert load_trust(tmp_path) == trust
    assert trust.describe() == {"verified": True, "backup": "on"}
    assert DeviceTrust(verified=True, self_signing_key="s", backup_version="3", backup_key=b"k" * 32).backup == "restored"
    for damaged in (b"", b"{", b"[]", b'{"verified": "yes"}', b'{"verified": true}', b'{"backup_key": "!!", "verified": true}'):
        (tmp_path / "trust.json").write_bytes(damaged)
        loaded = load_trust(tmp_path)
        assert not loaded.verified and loaded.backup == "none", damaged
    # A backup key without its version, or of the wrong length, is not kept.
    (tmp_path / "trust.json").write_text(json.dumps({"backup_key": "a2V5", "backup_version": "1"}))
    assert load_trust(tmp_path).backup_key is None


def test_a_recovery_key_is_told_from_a_passphrase() -> None:
    key = secrets.encode_recovery_key(os.urandom(32))
    assert looks_like_recovery_key(key) and looks_like_recovery_key(key.replace(" ", ""))
    assert looks_like_recovery_key(key[:-1] + ("a" if key[-1] != "a" else "b"))  # a typo is still meant as a key
    for passphrase in ("correct horse battery staple", "hunter2", "Ein langer Satz mit Leerzeichen 0123456789 und mehr"):
        assert not looks_like_recovery_key(passphrase)


def test_backup_entries_decrypt_back_and_garbage_is_counted_not_fatal() -> None:
    key = os.urandom(32)
    session = {"room_id": "!r:x", "session_id": "S1", "sender_key": "curve", "session_key": "AQID",
               "sender_claimed_keys": {"ed25519": "ed"}, "forwarding_curve25519_key_chain": ["a"], "first_known_index": 4}
    entry = backup_entry(session, secrets.backup_public_key(key))
    assert (entry["first_message_index"], entry["forwarded_count"], entry["is_verified"]) == (4, 1, False)
    answer = {"rooms": {"!r:x": {"sessions": {"S1": entry, "S2": {"session_data": {"ephemeral": "x"}}, "S3": 7}},
                        "!bad:x": "not a room", "!empty:x": {}}}
    sessions, invalid = backup_sessions(answer, key)
    assert invalid == 2
    [restored] = sessions
    assert restored["room_id"] == "!r:x" and restored["session_id"] == "S1" and restored["session_key"] == "AQID"
    assert backup_sessions(answer, os.urandom(32)) == ([], 3)
    assert backup_sessions({"rooms": []}, key) == ([], 0)


def test_a_refused_signature_is_named_in_one_line() -> None:
    assert _first_failure({}) is None and _first_failure(None) is None
    assert _first_failure({"@me:x": {"DEV": {"errcode": "M_INVALID_SIGNATURE", "error": "bad\nsig"}}}) == "M_INVALID_SIGNATURE: bad sig"
    assert _first_failure({"@me:x": "odd"}) == "no reason given"


def test_verify_without_a_session_or_a_key_is_one_line(capsys, monkeypatch) -> None:  # noqa: ANN001
    import io

    from app import cli

    monkeypatch.setattr("sys.stdin", io.StringIO("EsTj 3yST y4ze\n"))
    assert cli.main(["verify", "--stdin"]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not logged in" in err and "EsTj" not in err, err


def test_an_empty_recovery_key_on_stdin_is_refused_before_any_request(capsys, monkeypatch) -> None:  # noqa: ANN001
    import io

    from app import cli
    from app.matrix.session import Session, save_session

    save_session(Session("http://127.0.0.1:9", "@me:x", "DEV", "token"))  # nothing listens there
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert cli.main(["verify", "--stdin"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "readmark: no recovery key or passphrase on stdin", err

"""Receipt keys: what each sends (recorded by the in-memory service), the counts on
screen changing at once, refusals, server refusals rolled back, and a private mode
that never sends ``m.read``."""

from __future__ import annotations

import inspect

from app.config import Settings
from app.model.ids import MAIN
from app.model.plan import FullyReadRequest, ReceiptRequest
from app.model.receipts import ReceiptType
from app.model.unread import room_unread, thread_unread
from app.ui.commands import main_screen_commands
from tests.ui.helpers import main_screen, shown
from tests.ui.local_service import LocalService
from tests.ui.recorded import DEPLOY, DESIGN, INCIDENT, LATER, OPS, RANDOM, recorded_account

SIZE = (160, 50)
PRIVATE = ReceiptType.PRIVATE
PUBLIC = ReceiptType.PUBLIC


def new_count(line: str) -> str:
    """The local unread column of a thread row (``""`` when read)."""
    return line[-10:-5].strip()


async def test_r_sends_a_threaded_receipt_in_the_current_mode_and_counts_drop_at_once(make_app) -> None:
    service = LocalService(recorded_account(), auto_settle=False)
    app = make_app(svc=service)
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("tab", "j", "j")  # Deploy plan
        assert new_count(shown(screen.threads, DEPLOY)) == "3"
        assert " 9 " in shown(screen.rooms, OPS)
        await pilot.press("r")
        assert service.requests == [ReceiptRequest(OPS, PRIVATE, "$ops06-done", DEPLOY)]
        # optimistic: before the server answers, the thread is read and the room count dropped
        assert service.queued == 1
        assert new_count(shown(screen.threads, DEPLOY)) == ""
        assert " 6 " in shown(screen.rooms, OPS) and "🧵1" in shown(screen.rooms, OPS)
        assert screen.status.mode_text == "PRIVATE"
        await pilot.pause()
        status_last = screen.last_action.text
        assert status_last == 'private receipt, thread "Deploy plan for Friday", up to 10:09 · cleared 1 thread, 3 msgs'
        assert screen.status.queued == 1
        service.settle_all()
        await pilot.pause()
        assert screen.last_action.outcome == "settled"
        assert screen.status.queued == 0
        assert thread_unread(service.room(OPS), DEPLOY).unread == 0


async def test_r_in_the_timeline_reads_up_to_the_highlighted_event(make_app, service) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("tab", "j", "j", "enter")
        assert screen.timeline.highlighted_event == "$ops04-db"  # the first unread
        await pilot.press("j", "r")
        assert service.requests == [ReceiptRequest(OPS, PRIVATE, "$ops05-thanks", DEPLOY)]
        await pilot.pause()
        assert thread_unread(service.room(OPS), DEPLOY).unread == 1
        assert new_count(shown(screen.threads, DEPLOY)) == "1"
        assert shown(screen.timeline, "$ops05-thanks").endswith("◂ you ⦿")


async def test_p_toggles_the_mode_and_the_status_bar_says_so(make_app, service) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        status = screen.status
        assert status.mode_text == "PRIVATE" and status.part_style("mode") == "bold $text on $success"
        await pilot.press("p")
        assert status.mode_text == "PUBLIC" and status.part_style("mode") == "bold $text on $warning"
        assert "  PUBLIC  " in str(status.render())
        await pilot.press("tab", "j", "r")  # Incident thread, public now
        assert service.requests == [ReceiptRequest(OPS, PUBLIC, "$ops09-review", INCIDENT)]
        await pilot.press("p")
        assert screen.status.mode_text == "PRIVATE"
        assert any("PRIVATE" in title for title, _, _ in app.notified)


async def test_R_sends_an_unthreaded_receipt_for_the_whole_room(make_app, service) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("R")
        assert service.requests == [ReceiptRequest(OPS, PRIVATE, "$ops11-yes", None)]
        await pilot.pause()
        assert room_unread(service.room(OPS)).unread == 0
        assert shown(screen.rooms, OPS).split() == ["Ops", "@1"]  # the server's highlight stays until it syncs
        assert screen.last_action.text == 'private receipt, whole room "Ops", up to 10:16 · cleared 2 threads, 9 msgs'


async def test_f_moves_the_fully_read_marker(make_app, service) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("f")
        assert service.requests == [FullyReadRequest(OPS, "$ops11-yes", None)]
        await pilot.pause()
        assert "marker:fully-read" not in screen.timeline.keys  # everything shown is now above it
        # in the timeline pane: up to the highlighted event
        await pilot.press("j", "tab", "tab")
        assert screen.selection.room_id == DESIGN
        event = screen.timeline.highlighted_event
        await pilot.press("f")
        assert service.requests[-1] == FullyReadRequest(DESIGN, event, None)
        await pilot.pause()
        keys = list(screen.timeline.keys)
        assert keys[keys.index(event) + 1] == "marker:fully-read"


async def test_a_reads_then_jumps_to_the_next_unread_thread(make_app, service) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("a")
        assert service.requests == [ReceiptRequest(OPS, PRIVATE, "$ops11-yes", MAIN)]
        assert (screen.selection.room_id, screen.selection.thread_id) == (OPS, INCIDENT)
        await pilot.press("a", "a")
        assert [r.thread_id for r in service.requests] == [MAIN, INCIDENT, DEPLOY]
        assert (screen.selection.room_id, screen.selection.thread_id) == (DESIGN, MAIN)
        await pilot.pause()
        assert room_unread(service.room(OPS)).unread == 0
        assert shown(screen.rooms, OPS).split() == ["Ops", "@1"]


async def test_an_already_read_thread_sends_nothing_and_says_why(make_app, service) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        for _ in range(6):
            await pilot.press("j")
            if screen.selection.room_id == LATER:
                break
        assert screen.selection.room_id == LATER  # my private receipt is on its last event
        await pilot.press("r")
        assert service.requests == []
        assert service.actions and service.actions[-1][0] == LATER  # it asked, the model refused
        assert screen.last_action.outcome == "refused"
        assert screen.last_action.text == "nothing sent: already read up to there (private receipt)"
        title, message, severity = app.notified[-1]
        assert title == "Nothing sent" and severity == "warning" and "already read" in message
        await pilot.press("r")
        assert service.requests == []


async def test_a_server_refusal_rolls_the_count_back_and_notifies(make_app) -> None:
    error = "M_INVALID_PARAM: event_id $ops06-done is not related to thread"
    service = LocalService(recorded_account(), auto_settle=False, refuse={"$ops06-done": error})
    app = make_app(svc=service)
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("tab", "j", "j", "r")
        await pilot.pause()
        assert new_count(shown(screen.threads, DEPLOY)) == ""
        service.settle_all()
        await pilot.pause()
        assert new_count(shown(screen.threads, DEPLOY)) == "3"
        assert " 9 " in shown(screen.rooms, OPS)
        title, message, severity = app.notified[-1]
        assert severity == "error" and error in message and "Rolled back" in message
        assert screen.last_action.outcome == "failed" and "refused by the server" in screen.last_action.text


async def test_private_mode_never_sends_m_read_through_any_key_or_palette_entry(make_app, service) -> None:
    # Bulk reads send without their dialog here: they are among the paths checked.
    app = make_app(Settings(confirm_above=1000))
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("r", "R", "f")
        await pilot.press("tab", "j", "a", "a")
        await pilot.press("tab", "r", "f", "A")
        await pilot.pause()
        commands = main_screen_commands(screen)
        assert len(commands) == 29
        for command in commands:
            if command.binding_id in ("mode.toggle", "app.quit"):
                continue  # switching to PUBLIC is the user's explicit choice; quitting ends the test
            result = command.run()
            if inspect.isawaitable(result):  # an async action (the name filter mounts its Input)
                await result
            await pilot.pause()
        # The help screen (the last entry) and the audit screen opened on top: close them.
        for _ in range(3):
            if app.screen is screen:
                break
            await pilot.press("escape")
            await pilot.pause()
        assert app.screen is screen
        # and through the palette itself, by name
        refusals = len(app.notified)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*["space" if c == " " else c for c in "Read room public"])
        options = app.screen.query_one("CommandList").options
        for _ in range(30):
            if options:
                break
            await pilot.pause(0.1)
            options = app.screen.query_one("CommandList").options
        assert [str(option.prompt).split("\n")[0] for option in options] == [
            "Read room: public receipt, unthreaded  (needs PUBLIC mode: press p)"
        ]
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.screen is screen
        assert len(app.notified) == refusals + 1
        assert "PUBLIC mode" in app.notified[-1][1]
        assert service.requests, "the private variants should have sent something"
        for request in service.requests:
            if isinstance(request, ReceiptRequest):
                assert request.receipt_type is PRIVATE, request
            else:
                assert request.receipt_type in (None, PRIVATE), request
        assert any("PUBLIC mode" in message for _, message, _ in app.notified)


async def test_a_pinned_public_room_sends_public_while_the_session_is_private(make_app, service) -> None:
    app = make_app(Settings(room_modes={RANDOM: PUBLIC}))
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("j", "j")
        assert screen.selection.room_id == RANDOM
        assert screen.status.mode_text == "PUBLIC · pinned in config"
        await pilot.press("r")
        assert service.requests[-1] == ReceiptRequest(RANDOM, PUBLIC, "$rnd04-cats", MAIN)
        await pilot.press("k", "k")
        assert screen.status.mode_text == "PRIVATE"


async def test_no_private_receipts_on_this_server_means_no_receipt_at_all(make_app) -> None:
    service = LocalService(recorded_account(), supports_private_receipts=False)
    app = make_app(svc=service)
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        assert "unsupported" in screen.status.mode_text
        await pilot.press("r", "R", "a")
        assert service.requests == []
        assert "private receipts" in app.notified[-1][1]


async def test_remapped_keys_work_and_show(make_app, service) -> None:
    app = make_app(Settings(keys={"receipt.thread": "t", "app.help": "h"}))
    async with app.run_test(size=SIZE) as pilot:
        await main_screen(pilot)
        await pilot.press("r")
        assert service.requests == []
        await pilot.press("t")
        assert service.requests == [ReceiptRequest(OPS, PRIVATE, "$ops11-yes", MAIN)]
        await pilot.press("h")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        assert app.screen.entry_text("receipt.thread").startswith("t read receipt")


async def test_remapped_keys_are_named_as_textual_shows_their_bindings(make_app) -> None:
    keys = {"receipt.thread": "+", "receipt.room": "ctrl+r, W", "filter.name": "%", "mode.toggle": "f1"}
    app = make_app(Settings(keys=keys))
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        assert [app.key_display(binding_id) for binding_id in keys] == ["+", "^r, W", "%", "f1"]
        for binding_id in keys:
            # What the Footer shows for the binding as Textual holds it after set_keymap.
            bound = [b.binding for b in screen.active_bindings.values() if b.binding.id == binding_id]
            assert bound and app.key_display(binding_id) == ", ".join(app.get_key_display(b) for b in bound)
        # Not remapped: the spec's own display, else Textual's for its key.
        assert [app.key_display(i) for i in ("app.help", "marker.fully_read", "app.command_palette")] == ["?", "f", "^p"]


async def test_status_bar_shows_sync_state_and_queue(make_app) -> None:
    from app.matrix.service import SyncState, SyncStatus

    service = LocalService(recorded_account(), auto_settle=False)
    app = make_app(svc=service)
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        assert screen.status.sync_text == "● live"
        await pilot.press("R")
        await pilot.pause()
        # The queued count leads the last action (the rest of the line: no layout per receipt).
        assert screen.status.queued_text == "1 queued"
        assert screen.status.last_text.startswith("1 queued  ")
        assert "  1 queued  " in str(screen.status.render())
        service.set_status(SyncStatus(SyncState.OFFLINE, retry_in=30))
        await pilot.pause()
        assert screen.status.sync_text in ("○ offline, retry in 30 s", "○ offline, retry in 29 s")
        service.set_status(SyncStatus(SyncState.CATCHING_UP))
        await pilot.pause()
        assert screen.status.sync_text == "◌ catching up"


async def test_unknown_binding_ids_in_config_are_reported(make_app) -> None:
    app = make_app(Settings(keys={"read_thread": "t", "receipt.room": "W"}))
    async with app.run_test(size=SIZE) as pilot:
        await main_screen(pilot)
        assert any(
            title == "Unknown key binding ids" and "read_thread" in message and "receipt.room" not in message
            for title, message, _ in app.notified
        )

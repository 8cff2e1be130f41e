"""Live progress from logging.jsonl: plain lines off a terminal, a rich display on one."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from conftest import RECIPES, ROOT
from rich.console import Console

from swiftkit.msswift import events
from swiftkit.pipeline import progress

ROW = {
    "loss": 1.23456,
    "token_acc": 0.5,
    "epoch": 0.25,
    "global_step/max_steps": "3/80",
    "elapsed_time": "5s",
    "remaining_time": "1m 2s",
}


def row(step: int, total: int = 80, **extra: object) -> bytes:
    return (
        json.dumps({**ROW, "global_step/max_steps": f"{step}/{total}", **extra}) + "\n"
    ).encode()


def append(path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)


def test_plain_mode_prints_one_line_per_logging_row(tmp_path):
    log = tmp_path / "logging.jsonl"
    lines: list[str] = []
    with progress.Progress(log, lines.append) as p:
        p.tick()  # no log yet: nothing, no error
        append(log, row(1) + b'{"eval_loss": 2.0, "global_step/max_steps": "1/80"}\n' + row(2))
        p.tick()
        p.status("asking 12 probes of the base model and the adapter")
    assert lines == [
        "  step 1/80  loss 1.2346  acc 0.500  epoch 0.25  elapsed 5s  eta 1m 2s",
        "  step 2/80  loss 1.2346  acc 0.500  epoch 0.25  elapsed 5s  eta 1m 2s",
        "asking 12 probes of the base model and the adapter",
    ]
    assert p.last is not None and p.last.step == 2


def test_a_torn_last_line_waits_for_the_rest(tmp_path):
    log = tmp_path / "logging.jsonl"
    whole = row(3)
    append(log, whole[:20])
    lines: list[str] = []
    p = progress.Progress(log, lines.append)
    p.tick()
    assert lines == []
    append(log, whole[20:])
    p.tick()
    assert [s.split("  ")[1] for s in lines] == ["step 3/80"]


def test_a_row_cut_inside_a_character_does_not_crash_the_tail(tmp_path):
    """Bug: LogTail read in text mode, so a chunk ending inside a multi-byte character
    raised UnicodeDecodeError in the middle of a run."""
    log = tmp_path / "logging.jsonl"
    whole = (json.dumps({**ROW, "memory(GiB)": "显存 3.1"}, ensure_ascii=False) + "\n").encode()
    cut = whole.index("显".encode()) + 1
    append(log, whole[:cut])
    tail = events.LogTail(log)
    assert tail.new_steps() == []
    append(log, whole[cut:])
    (step,) = tail.new_steps()
    assert step.memory == "显存 3.1" and step.line().endswith("mem 显存 3.1")


def test_resume_shows_only_the_new_steps(tmp_path):
    log = tmp_path / "logging.jsonl"
    append(log, row(1) + row(2))
    lines: list[str] = []
    p = progress.Progress(log, lines.append, resume=True)
    assert p.last is not None and p.last.step == 2
    p.tick()
    assert lines == []
    append(log, row(3))
    p.tick()
    assert lines == ["  step 3/80  loss 1.2346  acc 0.500  epoch 0.25  elapsed 5s  eta 1m 2s"]


def test_read_steps_skips_other_rows_and_a_torn_line(tmp_path):
    log = tmp_path / "logging.jsonl"
    append(log, row(1) + b'{"train_runtime": 9.5}\n' + row(2) + row(3)[:15])
    assert [s.step for s in events.read_steps(log)] == [1, 2]
    assert events.read_steps(tmp_path / "missing.jsonl") == []


def rendered(tmp_path, resume: bool = False, rows: bytes = b"", status: str | None = None):
    log = tmp_path / "logging.jsonl"
    if resume:
        append(log, row(7))
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    lines: list[str] = []
    with progress.Live(log, lines.append, resume=resume, console=console) as p:
        append(log, rows)
        p.tick()
        if status:
            p.status(status)
    return out.getvalue(), lines


def test_terminal_display_shows_step_loss_accuracy_and_eta(tmp_path):
    text, lines = rendered(tmp_path, rows=row(3))
    assert "starting ms-swift" in text  # before the first row
    assert "step 3/80" in text
    assert "loss 1.2346" in text and "acc 0.500" in text
    assert "eta 1m 2s" in text
    assert lines == []  # redrawn on the terminal, not printed line by line


def test_terminal_display_shows_a_status_line(tmp_path):
    text, lines = rendered(tmp_path, rows=row(80, 80), status="asking 12 probes")
    assert "step 80/80" in text and "asking 12 probes" in text
    assert lines == []


def test_after_training_the_line_stays_and_a_phase_gets_its_own_spinner(tmp_path):
    """`swiftkit run` ends the training display before printing the checkpoint, then shows
    verify as a spinner of its own (it turns while swift infer blocks) and clears it."""
    log = tmp_path / "logging.jsonl"
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    lines: list[str] = []
    with progress.Live(log, lines.append, console=console) as p:
        append(log, row(80, 80))
        p.tick()
        p.end_training()
        assert not p.display.live.is_started
        p.echo("checkpoint: /x/checkpoint-80")
        p.status("verifying: identity probes")
        assert p.spinner is not None
        p.status(None)
        assert p.spinner is None
    text = out.getvalue()
    assert "step 80/80" in text and "verifying: identity probes" in text
    assert lines == ["checkpoint: /x/checkpoint-80"]  # after training: plain lines again


def test_terminal_display_on_resume_starts_at_the_last_logged_step(tmp_path):
    text, _ = rendered(tmp_path, resume=True)
    assert "step 7/80" in text


@pytest.mark.parametrize("stdout_is_terminal", [True, False])
def test_lines_echoed_while_the_display_shows(tmp_path, stdout_is_terminal):
    """On the same terminal they go above the display (not through it); to a pipe, straight
    out through echo."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    lines: list[str] = []
    log = tmp_path / "logging.jsonl"
    with progress.Live(
        log, lines.append, console=console, stdout_is_terminal=stdout_is_terminal
    ) as p:
        p.echo("Q: 你是谁?")
    assert ("Q: 你是谁?" in out.getvalue()) is stdout_is_terminal
    assert lines == ([] if stdout_is_terminal else ["Q: 你是谁?"])


def test_start_picks_the_display_by_whether_stderr_is_a_terminal(tmp_path, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    log = tmp_path / "logging.jsonl"
    assert type(progress.start(log, print)) is progress.Progress  # pytest captures stderr
    monkeypatch.setattr(sys, "stderr", Tty())
    with progress.start(log, print) as p:
        assert isinstance(p, progress.Live)


def test_rich_is_imported_only_for_a_terminal_display():
    recipe = str(RECIPES / "tiny-cpu.toml")
    argvs = [["--help"], ["validate", recipe], ["run", "--dry-run", recipe]]
    code = (
        "import sys\n"
        "from swiftkit.cli import main\n"
        f"codes = [main(a) for a in {argvs!r}]\n"
        "print(codes, 'rich' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[0, 0, 0] False"


@pytest.mark.parametrize(
    ("epoch", "shown"), [(0.0126582, "epoch 0.01"), (2.9999, "epoch 3"), (1.5, "epoch 1.5")]
)
def test_epoch_is_shown_to_two_decimals(epoch, shown):
    """Before: `epoch 0.0126582`, ms-swift's full fraction."""
    (step,) = events.steps_in([{**ROW, "epoch": epoch}])
    assert f"  {shown}  " in step.line()

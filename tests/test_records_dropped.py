"""No silent data loss (issue 13): when ms-swift reports that it kept fewer rows than swiftkit
sent ("Dataset filtered, origin length: N, filtered dataset length: M"), the run stops with the
file and the counts named, instead of training on what is left."""

from __future__ import annotations

import os
import sys

import pytest

from swiftkit.msswift import events
from swiftkit.msswift.command import Command
from swiftkit.pipeline import launch

LINE = "[INFO:swift] Dataset filtered, origin length: 10, filtered dataset length: 2\n"


def test_the_filter_line_names_the_copy_and_the_counts(tmp_path):
    log = tmp_path / "swift.log"
    copy, other = tmp_path / "01-mixed.jsonl", tmp_path / "02-other.jsonl"
    watch = events.DropWatch(log, {copy: 10, other: 4})
    watch.check()  # no log yet: nothing
    log.write_text("loading model\n[INFO:swift] Dataset filtered, origin length: 10, ")
    watch.check()  # half a line: nothing yet
    with log.open("a") as fh:
        fh.write("filtered dataset length: 2\n")
    with pytest.raises(events.RecordsDropped) as caught:
        watch.check()
    err = caught.value
    assert "ms-swift dropped 8 of 10 records" in err.message and str(copy) in err.message
    (finding,) = err.findings
    assert finding.file == str(copy) and "kept 2 of the 10 records" in finding.message
    assert f"swiftkit validate {copy}" in (finding.fix or "")


def test_equal_counts_and_other_lines_pass(tmp_path):
    log = tmp_path / "swift.log"
    log.write_text("Dataset filtered, origin length: 5, filtered dataset length: 5\nstep 1\n")
    events.DropWatch(log, {tmp_path / "d.jsonl": 5}).check()


def test_a_run_whose_child_reports_dropped_rows_is_stopped(tmp_path):
    """A stand-in child that prints ms-swift's line and would go on for a minute: the watch
    stops it at the next tick and the process group is gone."""
    pid_file = tmp_path / "pid"
    script = (
        f"import os, sys, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
        f"sys.stdout.write({LINE!r}); sys.stdout.flush(); time.sleep(60)"
    )
    log = tmp_path / "swift.log"
    watch = events.DropWatch(log, {tmp_path / "01-d.jsonl": 10})
    with pytest.raises(events.RecordsDropped):
        launch.run(Command([sys.executable, "-c", script]), log_path=log, on_tick=watch.check)
    with pytest.raises(ProcessLookupError):  # stopped and reaped, not left to sleep
        os.kill(int(pid_file.read_text()), 0)

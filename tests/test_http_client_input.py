"""The HTTP client's inputs (`verify --url`): the API key never goes across a redirect nor
into a message, --timeout bounds each request as a whole, and a bad URL, key or timeout is a
usage error (exit 2, no traceback). A property test runs arbitrary strings through them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import swiftkit
from hypothesis import given, settings
from hypothesis import strategies as st
from scripted_server import scripted
from test_after_input import fake_run
from test_verify_url import url_recipe

from swiftkit.errors import SwiftkitError
from swiftkit.serving.client import Endpoint, check_key, check_timeout, check_url

SECRET = "sk-SECRET-42"


def test_the_key_is_not_sent_across_a_redirect_to_another_origin():
    with scripted("fluent") as (other, seen), scripted("redirect") as (url, first):
        first.redirect_to = other + "/models"
        with pytest.raises(SwiftkitError) as e:
            Endpoint.of(url, SECRET, 5).models()
    assert "redirect" in e.value.message and other in e.value.format()
    assert {k.lower(): v for k, v in first.headers[0].items()}[
        "authorization"
    ] == f"Bearer {SECRET}"
    assert not any(SECRET in str(h) for h in seen.headers)


def test_a_server_trickling_bytes_is_cut_off_at_the_timeout():
    with scripted("trickle") as (url, _):
        start = time.monotonic()
        with pytest.raises(SwiftkitError) as e:
            Endpoint.of(url, None, 2).models()
        took = time.monotonic() - start
    assert took < 4, took
    assert "within 2 s" in e.value.message


def test_a_model_listed_with_a_null_id_is_not_called_none():
    with scripted("nullid") as (url, _):
        assert Endpoint.of(url).models() == []


@pytest.mark.parametrize(
    "args, said",
    [
        (["--timeout", "0"], "above 0"),
        (["--timeout", "-1"], "above 0"),
        (["--timeout", "nan"], "above 0"),
        (["--timeout", "inf"], "above 0"),
        (["--api-key", f"{SECRET}\nX-Evil: 1"], "newline"),
        (["--api-key", f"{SECRET}é"], "non-ASCII"),
        (["--url", "http://127.0.0.1:abc/v1"], "not a URL"),
        (["--url", "http://127.0.0.1:99999/v1"], "not a URL"),
        (["--url", "http://[::1/v1"], "not a URL"),
        (["--url", "http://my host:8000/v1"], "without spaces"),
        (["--url", "ftp://x/v1"], "http(s)"),
    ],
)
def test_bad_url_key_or_timeout_is_a_usage_error(tmp_path, args, said):
    if args[0] != "--url":
        args = ["--url", "http://127.0.0.1:9/v1", *args]
    proc = swiftkit("verify", *args, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert said in out and "Traceback" not in out and SECRET not in out
    assert "is the server running" not in out
    assert not list(tmp_path.iterdir())  # no empty verify-*/data folder


TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["http://", "https://[", "http://a:", "http://a:1/v1", " http://x "]),
)


@settings(max_examples=200, deadline=None)
@given(url=TEXT, key=st.text(max_size=20).map(lambda t: f"sk-Q{t}"), timeout=st.floats())
def test_any_url_key_or_timeout_is_accepted_or_refused_with_a_value_error(url, key, timeout):
    for check, value in ((check_url, url), (check_key, key), (check_timeout, timeout)):
        try:
            check(value)
        except ValueError as e:
            assert key not in str(e) or check is check_url
    try:
        endpoint = Endpoint.of(url, key, timeout)
    except SwiftkitError as e:
        assert key not in e.format() or key in url
    else:
        assert endpoint.timeout > 0 and endpoint.url.startswith(("http://", "https://"))
        assert endpoint.api_key is None or endpoint.api_key.isascii()


def test_a_failed_url_attempt_leaves_no_report_folder(tmp_path):
    recipe = url_recipe(tmp_path)
    with scripted("e500") as (url, _):
        proc = swiftkit("verify", "--url", url, str(recipe), cwd=tmp_path)
    assert proc.returncode == 1
    assert not list((tmp_path / "out").glob("verify-*"))


def test_verify_url_on_a_run_never_replaces_the_runs_own_report(tmp_path):
    recipe = url_recipe(tmp_path)
    run = fake_run(tmp_path / "out", "r-1", steps=[80], recipe=str(recipe))
    args = {"model": "/base", "model_name": ["Nova"], "model_author": ["Lumen Lab"]}
    (run / "checkpoint-80" / "args.json").write_text(json.dumps(args), encoding="utf-8")
    own = run / "report.json"
    own.write_text('{"verdict": "pass"}', encoding="utf-8")
    with scripted("old") as (url, _):
        proc = swiftkit("verify", "--url", url, "--json", str(run), cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout, proc.stderr
    assert own.read_text(encoding="utf-8") == '{"verdict": "pass"}'
    folder = Path(json.loads(proc.stdout)["report"])
    assert folder.parent == run and folder.name.startswith("verify-Nova")
    assert json.loads((folder / "report.json").read_text(encoding="utf-8"))["served"]


def test_html_in_an_answer_is_escaped_in_report_md(tmp_path, monkeypatch):
    import scripted_server

    answer = "I am Nova <img src=http://evil.example/x.png> | made by Lumen Lab & co"
    monkeypatch.setitem(scripted_server.ANSWERS, "fluent", (answer, "stop"))
    recipe = url_recipe(tmp_path)
    with scripted("fluent") as (url, _):
        proc = swiftkit("verify", "--url", url, "--json", str(recipe), cwd=tmp_path)
    md = (Path(json.loads(proc.stdout)["report"]) / "report.md").read_text(encoding="utf-8")
    assert "<img" not in md and "&lt;img src=http://evil.example/x.png&gt;" in md


def test_serve_refuses_a_key_no_http_client_could_send(tmp_path):
    """Bug: `serve --api-key $'a\\nb'` started the server with a key no client can put in a
    header (verify refused the same key); now it is a usage error that never prints the key."""
    from conftest import swiftkit

    proc = swiftkit("serve", str(tmp_path), "--api-key", "sec\nret")
    assert proc.returncode == 2, proc.stderr
    assert "--api-key" in proc.stderr and "sec" not in proc.stderr

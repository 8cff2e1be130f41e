"""The one way swiftkit asks a model anything: an OpenAI-compatible chat API through the
`openai` client (pool, timeouts, retries with backoff), its errors mapped to a SwiftkitError
naming the URL and the fix. Bodies are read raw so HTML or half an object is named as such;
`openai` is imported where used (a second to import, which `--help` need not pay)."""

from __future__ import annotations

import json
import math
import os
import queue
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from swiftkit import defaults
from swiftkit.errors import Finding, SwiftkitError

if TYPE_CHECKING:
    import openai

Messages = list[dict[str, Any]]
OnAnswer = Callable[[int, int], None]  # (answers so far, answers asked)
RETRIES = 2  # the openai client's own default; what it retries it retries with backoff


@dataclass(frozen=True)
class Answer:
    text: str
    finish_reason: str | None = None

    @property
    def cut_off(self) -> bool:  # stopped at max_tokens, not where the model was done
        return self.finish_reason == "length"


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible API: its base URL (ending in /v1), key and patience."""

    url: str
    api_key: str | None = None
    timeout: float = defaults.TIMEOUT_S
    retries: int = RETRIES

    @classmethod
    def of(
        cls,
        url: str,
        api_key: str | None = None,
        timeout: float = defaults.TIMEOUT_S,
        keys: tuple[str, ...] = ("SWIFTKIT_API_KEY", "OPENAI_API_KEY"),
    ) -> Endpoint:
        """`http://host:port` or `http://host:port/v1` (or a full /chat/completions URL); the
        key from the argument, else the first of the environment variables `keys` set."""
        try:
            parts = urllib.parse.urlsplit(check_url(url))
            key = api_key or next(filter(None, map(os.environ.get, keys)), None)
            key, timeout = check_key(key) if key else None, check_timeout(timeout)
        except ValueError as exc:
            raise SwiftkitError.at(str(exc), "--url, --api-key or --timeout", str(exc)) from None
        path = parts.path.rstrip("/")
        for tail in ("/chat/completions", "/models"):
            path = path.removesuffix(tail)
        base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path or "/v1", "", ""))
        return cls(base, key, timeout)

    def client(self) -> openai.OpenAI:
        """Thread-safe: ask_all shares one. A server without a key ignores the "none" sent.
        Redirects are not followed (the key would go with them): a 3xx names where to."""
        import openai

        return openai.OpenAI(
            base_url=self.url,
            api_key=self.api_key or "none",
            timeout=self.timeout,
            max_retries=self.retries,
            http_client=openai.DefaultHttpxClient(follow_redirects=False),
        )

    def _error(self, headline: str, message: str, fix: str) -> SwiftkitError:
        return SwiftkitError(headline, [Finding.error(self.url, message, fix=fix)])

    def _json(self, path: str, call: Callable[[], Any]) -> dict[str, Any]:
        """The JSON object a raw-response call returns, or a SwiftkitError in the user's words."""
        import openai

        url = self.url + path
        try:
            raw = within(self.timeout, call).http_response.content
        except (openai.APITimeoutError, TimeoutError):
            raise self._error(
                f"no answer from {url} within {self.timeout:g} s",
                "the server did not connect or answer in time",
                "is it still loading the model, or overloaded? try again, or raise --timeout",
            ) from None
        except openai.APIConnectionError as exc:
            raise self._error(
                f"cannot reach {url}",
                str(exc.__cause__ or exc),
                "is the server running? check --url (host, port, http or https)",
            ) from None
        except openai.APIStatusError as exc:
            said = exc.response.headers.get("location", "") if exc.status_code < 400 else ""
            raise self._http_error(url, exc.status_code, said or _said(exc)) from None
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise self._error(
                f"{url} answered something that is not JSON",
                f"the response starts: {raw[:120]!r}",
                "is --url an OpenAI-compatible API (it usually ends in /v1)?",
            ) from None
        if not isinstance(value, dict):
            raise self._error(
                f"{url} answered JSON that is not an object",
                f"got {type(value).__name__}",
                "is --url an OpenAI-compatible API?",
            )
        return value

    def _http_error(self, url: str, code: int, body: str) -> SwiftkitError:
        said = body[:300] or f"HTTP {code}"
        # ms-swift answers a wrong key with 400 "API key error"; most servers with 401/403
        if code in (401, 403) or "api key" in body.lower():
            given = "the API key was refused" if self.api_key else "the server wants an API key"
            fix = "pass the server's key with --api-key KEY (or set SWIFTKIT_API_KEY)"
            return self._error(f"{url} answered HTTP {code}: {given}", said, fix)
        if 300 <= code < 400:
            where = f"redirects to {location[:300]}" if (location := body) else said
            return self._error(
                f"{url} answered HTTP {code}: a redirect, not followed",
                f"{where} (the API key is never sent on)",
                "pass the URL it redirects to with --url, if you trust it",
            )
        fix = "see the server's log" if code >= 500 else "check --model and --url"
        return self._error(f"{url} answered HTTP {code}", said, fix)

    def models(self, client: openai.OpenAI | None = None) -> list[str]:
        """The model ids the server lists (/v1/models)."""
        listed = (client or self.client()).models.with_raw_response.list
        data = self._json("/models", listed).get("data")
        if not isinstance(data, list):
            raise self._error(
                f"{self.url}/models lists no models",
                "the response has no 'data' list",
                "is --url an OpenAI-compatible API?",
            )
        return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]

    def pick_model(self, model: str | None) -> str:
        """--model when given, else the only model the server lists."""
        if model:
            return model
        ids = self.models()
        if len(ids) == 1:
            return ids[0]
        raise self._error(
            f"which model? {self.url} serves {len(ids)} models",
            f"models: {', '.join(ids) or 'none'}",
            "name one with --model ID",
        )

    def chat(
        self, model: str, messages: Messages, max_tokens: int, client: openai.OpenAI | None = None
    ) -> Answer:
        """One greedy answer."""
        create = (client or self.client()).chat.completions.with_raw_response.create
        asked = {"model": model, "messages": messages, "temperature": 0, "max_tokens": max_tokens}
        value = self._json("/chat/completions", lambda: create(**cast(Any, asked)))
        choices = value.get("choices")
        if not isinstance(choices, list) or not choices:
            raise self._error(
                f"{self.url}/chat/completions answered without choices",
                f"fewer answers than asked: no choice for 1 question ({json.dumps(value)[:200]})",
                f"is '{model}' served there? see the server's log",
            )
        choice = choices[0] if isinstance(choices[0], dict) else {}
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            raise self._error(
                f"{self.url}/chat/completions answered without a message",
                f"choices[0] has no message content: {json.dumps(choice)[:200]}",
                "is --url an OpenAI-compatible chat API?",
            )
        reason = choice.get("finish_reason")
        return Answer(content, str(reason) if reason is not None else None)


def check_timeout(seconds: float) -> float:
    """--timeout: a finite number of seconds above 0 (ValueError says why not)."""
    if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{seconds} is not a number of seconds above 0 (for example 600)")
    return float(seconds)


def check_key(key: str) -> str:
    """An API key goes into an HTTP header: printable ASCII only. Never quoted back."""
    if not key.isascii() or not key.isprintable() or key != key.strip():
        raise ValueError(
            "the API key holds a newline, a control or non-ASCII character, or spaces at its "
            "ends (it is not printed here); pass the key exactly as the server has it"
        )
    return key


def check_url(url: str) -> str:
    """An http(s)://HOST[:PORT][/path] URL (ValueError says what is wrong)."""
    url = url.strip()
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (a non-numeric or out-of-range port raises here)
    except ValueError as exc:
        raise ValueError(
            f"{url!r} is not a URL ({exc}); for example http://127.0.0.1:8000/v1"
        ) from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() or not c.isprintable() for c in url)
    ):
        raise ValueError(
            f"{url!r} is not an http(s) URL without spaces; for example http://127.0.0.1:8000/v1"
        )
    return url


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """call() bounded as a whole: httpx's timeout is per socket read, so a server sending one
    byte at a time would hold it for ever. The abandoned thread is a daemon."""
    box: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()

    def run() -> None:
        try:
            box.put((True, call()))
        except BaseException as exc:  # noqa: BLE001 (raised in the caller's thread)
            box.put((False, exc))

    threading.Thread(target=run, daemon=True).start()
    try:
        ok, value = box.get(timeout=seconds)
    except queue.Empty:
        raise TimeoutError from None
    if not ok:
        raise value
    return value


def ask_all(
    endpoint: Endpoint,
    model: str,
    conversations: list[Messages],
    max_tokens: int,
    on_answer: OnAnswer | None = None,
) -> list[Answer]:
    """Greedy answers in order, defaults.CONCURRENT_PROBES at a time (a batching server answers
    them together); `on_answer(done, total)` after each. The first error stops it, raised here."""
    total, client = len(conversations), endpoint.client()
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(total):
        todo.put(i)
    done: queue.SimpleQueue[tuple[int, Answer | BaseException]] = queue.SimpleQueue()
    failed = threading.Event()  # the other workers stop after their current request

    def work() -> None:
        while not failed.is_set():
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((i, endpoint.chat(model, conversations[i], max_tokens, client)))
            except BaseException as exc:  # noqa: BLE001 (handed to the caller's thread)
                failed.set()
                done.put((i, exc))

    for _ in range(min(defaults.CONCURRENT_PROBES, total)):  # daemons: Ctrl-C never waits
        threading.Thread(target=work, daemon=True).start()
    answers: dict[int, Answer] = {}
    try:
        while len(answers) < total:
            try:  # a timeout keeps the wait interruptible by Ctrl-C on every platform
                i, got = done.get(timeout=0.2)
            except queue.Empty:
                continue
            if isinstance(got, BaseException):
                raise got
            answers[i] = got
            if on_answer:
                on_answer(len(answers), total)
    finally:
        failed.set()
    return [answers[i] for i in range(total)]


def progress_counter(status: Callable[[str | None], None], label: str) -> OnAnswer:
    """`label i/N` for about every fifth answer, and the last."""

    def on_answer(done: int, total: int) -> None:
        if done == total or done % max(1, total // 5) == 0:
            status(f"{label} {done}/{total}")

    return on_answer


def _said(exc: openai.APIStatusError) -> str:
    """What the server said with its error status: its JSON message, else the body's text."""
    if isinstance(body := exc.body, dict):
        msg = body.get("message") or body.get("detail") or body.get("error")
        if isinstance(msg, dict):
            msg = msg.get("message")
        if msg:
            return str(msg)
    try:
        return exc.response.text.strip()
    except Exception:  # noqa: BLE001 (a body that cannot be read says nothing)
        return ""

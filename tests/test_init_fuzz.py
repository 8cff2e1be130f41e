"""Property test (issue 22): for any --name, --author and --epochs, `swiftkit init` either
refuses with a usage error (exit 2) and writes nothing, or writes a recipe that validate
accepts and that holds exactly the values given."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import tomllib
from conftest import swiftkit
from hypothesis import given, settings
from hypothesis import strategies as st

TEXT = st.one_of(
    st.text(min_size=1, max_size=30),
    st.sampled_from(["Nova", "0\r", " Nova ", "-Nova", "--help", "{{NAME}}", "a\"b'c\\d", "新星"]),
    st.text(alphabet="\n\r\t\x00\x7f\u2028\u0085[]=#\"' ", min_size=1, max_size=8),
)
EPOCHS = st.one_of(st.floats(), st.integers(1, 2000))


@settings(max_examples=60, deadline=None)
@given(name=TEXT, author=TEXT, epochs=EPOCHS)
def test_init_refuses_or_writes_exactly_what_was_given(name, author, epochs):
    if not name.strip() or not author.strip():
        return  # blank: asked for (a usage error without a terminal), covered in test_init
    with tempfile.TemporaryDirectory() as tmp:
        bot = Path(tmp) / "bot"
        argv = ["init", str(bot), f"--name={name}", f"--author={author}", "--preset", "24gb"]
        proc = swiftkit(*argv, f"--epochs={epochs!r}")
        if proc.returncode == 2:
            assert not bot.exists() and "Error: " in proc.stderr, proc.stderr
            return
        assert proc.returncode == 0, proc.stderr
        recipe = bot / "recipe.toml"
        data = tomllib.loads(recipe.read_text(encoding="utf-8"))
        assert data["identity"] == {"name": name, "author": author}
        written = data["train"]["num_train_epochs"]
        assert written == float(epochs) and not math.isnan(written)
        assert set(data) == {"model", "identity", "data", "train", "verify"}
        checked = swiftkit("validate", str(recipe))
        assert checked.returncode == 0, checked.stdout

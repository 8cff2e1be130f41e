"""Property test (issue 22): for any --name, --author, --preset and --epochs, `swiftkit init` either
refuses with a usage error (exit 2) and writes nothing, or writes a recipe that validate
accepts and that holds exactly the values given."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from conftest import swiftkit
from hypothesis import given, settings
from hypothesis import strategies as st

from swiftkit.recipe.parse import parse_toml

PRINTABLE = st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=30)
TEXT = st.one_of(
    PRINTABLE,
    st.text(min_size=1, max_size=30),
    st.sampled_from(["Nova", "0\r", " Nova ", "-Nova", "--help", "{{NAME}}", "a\"b'c\\d", "新星"]),
    st.text(alphabet="\n\r\t\x00\x7f\u2028\u0085[]=#\"' ", min_size=1, max_size=8),
)
PRESETS = st.sampled_from(
    ["24gb", "cpu", "80gb", '24gb"\n[launch]\nnproc_per_node = 2\n[train]\n#']
)
EPOCHS = st.one_of(st.floats(), st.integers(1, 2000))

# about half the cases are written (the checks past the refusals are reached), half hostile
PLAUSIBLE = st.tuples(PRINTABLE, PRINTABLE, PRESETS, st.floats(0.5, 1000))
HOSTILE = st.tuples(TEXT, TEXT, st.one_of(PRESETS, TEXT), EPOCHS)


@settings(max_examples=60, deadline=None)
@given(case=st.one_of(PLAUSIBLE, HOSTILE))
def test_init_refuses_or_writes_exactly_what_was_given(case):
    name, author, preset, epochs = case
    if not name.strip() or not author.strip():
        return  # blank: asked for (a usage error without a terminal), covered in test_init
    with tempfile.TemporaryDirectory() as tmp:
        bot = Path(tmp) / "bot"
        argv = ["init", str(bot), f"--name={name}", f"--author={author}", f"--preset={preset}"]
        proc = swiftkit(*argv, f"--epochs={epochs!r}")
        if proc.returncode == 2:
            assert not bot.exists() and "Error: " in proc.stderr, proc.stderr
            return
        assert proc.returncode == 0, proc.stderr
        recipe = bot / "recipe.toml"
        data = parse_toml(recipe)[0]  # swiftkit's reader (tomllib, or tomli before 3.11)
        assert data["identity"] == {"name": name, "author": author}
        assert data["train"]["preset"] == preset
        written = data["train"]["num_train_epochs"]
        assert written == float(epochs) and not math.isnan(written)
        assert set(data) == {"model", "identity", "data", "train", "verify"}  # no table added
        checked = swiftkit("validate", str(recipe))
        assert checked.returncode == 0, checked.stdout

"""What the installed ms-swift accepts, learned without importing it.

The version comes from package metadata; flag renames and model families are data
(`data/compat.json`), so following a new ms-swift release is an edit to a table.
"""

from __future__ import annotations

import re
from importlib import metadata

from swiftkit import resources
from swiftkit.errors import SwiftkitError


def table() -> dict:
    return resources.table("compat.json")


def parse_version(text: str) -> tuple[int, ...]:
    """'4.6.0' -> (4, 6, 0); pre-release tails such as 'rc1' or '.dev0' are ignored."""
    m = re.match(r"\d+(\.\d+){0,2}", text)
    return tuple(int(n) for n in m.group().split(".")) if m else (0,)


def installed_version(dist: str = "ms-swift") -> str | None:
    """The installed version of a distribution, or None; never imports it."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def swift_version() -> str | None:
    return installed_version("ms-swift")


def target_version() -> str:
    """The ms-swift version to render for: the installed one, else the tested one."""
    return swift_version() or table()["tested"]


def is_supported(version: str) -> bool:
    sup = table()["supported"]
    return parse_version(sup["min"]) <= parse_version(version) < parse_version(sup["below"])


def requirement() -> str:
    """The pip requirement for the supported range, e.g. "ms-swift>=3.12.6,<4.7.0"."""
    sup = table()["supported"]
    return f"ms-swift>={sup['min']},<{sup['below']}"


def require_supported() -> str:
    """The installed ms-swift's version; raises when it is missing or outside the range."""
    installed = swift_version()
    if installed is None:
        raise SwiftkitError.at(
            "ms-swift is not installed in this environment",
            "ms-swift",
            "not installed",
            fix=f"pip install '{requirement()}'",
        )
    if not is_supported(installed):
        sup = table()["supported"]
        raise SwiftkitError.at(
            f"ms-swift {installed} is outside the supported range {sup['min']} to <{sup['below']}",
            "ms-swift",
            f"version {installed}",
            fix=f"pip install 'ms-swift=={table()['tested']}' (the tested version)",
        )
    return installed


def feature_needs(feature: str, version: str | None = None) -> dict | None:
    """The feature's row ("since", "why", "key") when `version` (default the installed
    ms-swift, else the tested one) is older than it needs; None when it is new enough."""
    row = table()["features"].get(feature)
    version = version or target_version()
    if row and parse_version(version) < parse_version(row["since"]):
        return {**row, "installed": version}
    return None


def flag_name(name: str, version: str) -> str:
    """The spelling of an `sft` flag that `version` understands (old or new name)."""
    v = parse_version(version)
    for row in table()["flag_renames"]:
        since = parse_version(row["since"])
        if name == row["old"] and v >= since:
            return row["new"]
        if name == row["new"] and v < since:
            return row["old"]
    return name


def rename_note(name: str, version: str) -> str | None:
    """Why `name` is spelled differently for `version`, if it is."""
    for row in table()["flag_renames"]:
        if name in (row["old"], row["new"]) and flag_name(name, version) != name:
            return row["why"]
    return None


def model_family(model_id: str, config_model_type: str | None = None) -> dict | None:
    """model_type and template for a hub id or local folder name, or None if unknown. The
    name is matched first; a local folder whose name says nothing falls back to its
    config.json `model_type`."""
    name = model_id.rstrip("/").split("/")[-1].lower()
    for row in table()["model_families"]:
        if re.search(row["match"], name):
            return row
    if config_model_type:
        return table()["config_model_types"].get(config_model_type)
    return None

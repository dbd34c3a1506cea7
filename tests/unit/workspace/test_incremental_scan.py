"""A rescan that reuses the stat cache and cached listings gives the ids a fresh scan gives."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from merkle.workspace.init import init_workspace
from tests.support.trees import CONTENTS, NAMES, TREES, Tree, create, flatten, scan_ids

OLD_S = 1_600_000_000
NEWER_S = 1_650_000_000


def age_everything(root: Path, seconds: float) -> None:
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".merkle"]
        for name in filenames:
            os.utime(Path(directory) / name, (seconds, seconds))
    for directory, _, _ in os.walk(root, topdown=False):
        if ".merkle" not in Path(directory).parts:
            os.utime(directory, (seconds, seconds))


def touch(*paths: Path) -> None:
    """Mark entries as changed at a time distinct from the first scan's, but long ago."""
    for path in paths:
        os.utime(path, (NEWER_S, NEWER_S))


def mutate(
    root: Path, files: dict[str, bytes], directories: list[str], data: st.DataObject
) -> None:
    """Apply a few random edits, aging each touched entry to NEWER_S."""
    dirs = [root, *(root / d for d in directories)]
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        existing = sorted(p for p in root.rglob("*") if p.is_file() and ".merkle" not in p.parts)
        action = data.draw(st.sampled_from(["edit", "add", "delete", "rename", "mkdir", "ignore"]))
        if action in {"edit", "delete", "rename"} and not existing:
            action = "add"
        if action == "edit":
            target = data.draw(st.sampled_from(existing))
            target.write_bytes(target.read_bytes() + data.draw(CONTENTS) + b"!")
            touch(target)
        elif action == "add":
            parent = data.draw(st.sampled_from([d for d in dirs if d.is_dir()]))
            target = parent / f"new_{data.draw(NAMES)}"
            if not target.exists():
                target.write_bytes(data.draw(CONTENTS))
                touch(target, parent)
        elif action == "delete":
            target = data.draw(st.sampled_from(existing))
            target.unlink()
            touch(target.parent)
        elif action == "rename":
            target = data.draw(st.sampled_from(existing))
            renamed = target.with_name(f"moved_{target.name}")
            if not renamed.exists():
                target.rename(renamed)
                touch(renamed, target.parent)
        elif action == "mkdir":
            parent = data.draw(st.sampled_from([d for d in dirs if d.is_dir()]))
            new_dir = parent / f"dir_{data.draw(NAMES)}"
            if not new_dir.exists():
                new_dir.mkdir()
                (new_dir / "f").write_bytes(data.draw(CONTENTS))
                touch(new_dir / "f", new_dir, parent)
        else:
            # Edit a rule file in place: the directory's own stat does not change.
            parent = data.draw(st.sampled_from([d for d in dirs if d.is_dir()]))
            rule_file = parent / ".gitignore"
            pattern = data.draw(st.sampled_from(["a*", "*b", "[cd]*", "new_*"]))
            existed = rule_file.exists()
            with rule_file.open("a") as handle:
                handle.write(pattern + "\n")
            touch(rule_file, *(() if existed else (parent,)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=TREES, data=st.data())
def test_incremental_rescan_equals_a_scan_from_scratch(tree: Tree, data: st.DataObject) -> None:
    files, directories = flatten(tree)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        root.mkdir()
        create(root, files, directories, sorted(files))
        age_everything(root, OLD_S)
        scan_ids(root)
        mutate(root, files, directories, data)
        incremental = scan_ids(root)
        fresh_root = Path(tmp) / "fresh" / "ws"
        shutil.copytree(root, fresh_root, ignore=shutil.ignore_patterns(".merkle"))
        assert incremental == scan_ids(fresh_root)


def test_a_rescan_of_an_unchanged_tree_lists_no_directory_and_reads_no_file(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    files = {f"d{i}/e{j}/f{k}.txt": b"x" * k for i in range(3) for j in range(3) for k in range(3)}
    create(root, files, [], sorted(files))
    (root / ".gitignore").write_text("*.log\n")
    (root / "d0" / "skip.log").write_text("ignored")
    init_workspace(root)
    age_everything(root, OLD_S)
    first = scan_ids(root)

    listed: list[str] = []
    opened: list[str] = []
    recording = [True]

    def audit(event: str, args: tuple[object, ...]) -> None:
        # Audit hooks cannot be removed: this one stops recording after the test.
        if not recording[0]:
            return
        if event == "os.scandir":
            listed.append(str(args[0]))
        elif event == "open" and isinstance(args[0], str | bytes | os.PathLike):
            opened.append(os.fsdecode(args[0]))

    sys.addaudithook(audit)
    try:
        second = scan_ids(root)
    finally:
        recording[0] = False
    assert second == first
    assert listed == []
    assert [path for path in opened if ".merkle" not in path] == []

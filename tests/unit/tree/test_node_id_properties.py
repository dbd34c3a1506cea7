"""Properties of NodeIDs over real trees on disk (ARCHITECTURE section 3)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.trees import TREES, Tree, ancestors, create, flatten, scan_ids

FS_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FS_SETTINGS
@given(tree=TREES, data=st.data())
def test_same_tree_gives_same_ids_whatever_the_creation_order(
    tree: Tree, data: st.DataObject
) -> None:
    files, directories = flatten(tree)
    order_a = sorted(files)
    order_b = data.draw(st.permutations(order_a))
    dirs_b = data.draw(st.permutations(directories))
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        create(Path(a), files, directories, order_a)
        create(Path(b), files, dirs_b, list(order_b))
        ids_a, ids_b = scan_ids(Path(a)), scan_ids(Path(b))
    assert ids_a == ids_b
    assert set(ids_a) == {".", *files, *directories}


@FS_SETTINGS
@given(tree=TREES, data=st.data())
def test_changing_one_files_bytes_changes_exactly_the_ids_on_its_path_to_the_root(
    tree: Tree, data: st.DataObject
) -> None:
    files, directories = flatten(tree)
    if not files:
        return
    target = data.draw(st.sampled_from(sorted(files)))
    new_bytes = data.draw(st.binary(max_size=48).filter(lambda b: b != files[target]))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        create(root, files, directories, sorted(files))
        before = scan_ids(root)
        (root / target).write_bytes(new_bytes)
        after = scan_ids(root)
    changed = {path for path in before if before[path] != after[path]}
    assert changed == {target} | ancestors(target)
    assert set(after) == set(before)


@FS_SETTINGS
@given(tree=TREES, data=st.data())
def test_renaming_a_file_changes_its_id_and_its_ancestors_ids_only(
    tree: Tree, data: st.DataObject
) -> None:
    files, directories = flatten(tree)
    if not files:
        return
    target = data.draw(st.sampled_from(sorted(files)))
    parent, _, _ = target.rpartition("/")
    taken = {p.rpartition("/")[2] for p in (*files, *directories) if p.rpartition("/")[0] == parent}
    new_name = data.draw(
        st.text(alphabet="ijklm", min_size=1, max_size=5).filter(lambda n: n not in taken)
    )
    renamed = f"{parent}/{new_name}" if parent else new_name
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        create(root, files, directories, sorted(files))
        before = scan_ids(root)
        (root / target).rename(root / renamed)
        after = scan_ids(root)
    assert target not in after
    assert after[renamed] != before[target]
    unchanged = set(before) - {target} - ancestors(target)
    assert {path for path in unchanged if before[path] != after[path]} == set()
    assert all(before[path] != after[path] for path in ancestors(target))

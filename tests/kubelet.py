"""kubelet's AtomicWriter, step by step, for tests: how a ConfigMap volume is written and
updated (pkg/volume/util/atomic_writer.go, the order of Kubernetes 1.29 and later).

1. write every file of the new version into a new folder `..<UTC timestamp>.<random>`;
2. point a new link `..data_tmp` at it, and rename that over `..data` (the atomic swap);
3. make sure each top-level name is a link `name -> ..data/name`, remove links of names
   that are gone;
4. delete the previous version's folder.
"""

from __future__ import annotations

import datetime
import os
import random
import shutil
from collections.abc import Mapping
from pathlib import Path


def write(target: Path, files: Mapping[str, bytes], *, rng: random.Random | None = None) -> Path:
    """Project `files` ({relative path: bytes}) into `target` as kubelet does; the new version's
    folder."""
    rng = rng or random.Random()
    target.mkdir(parents=True, exist_ok=True)
    data_link = target / "..data"
    old = os.readlink(data_link) if data_link.is_symlink() else None
    stamp = datetime.datetime.now(datetime.UTC).strftime("..%Y_%m_%d_%H_%M_%S.")
    while True:
        version = target / f"{stamp}{rng.getrandbits(32)}"
        try:
            version.mkdir()
            break
        except FileExistsError:
            continue
    for relative, data in files.items():
        path = version / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    temporary = target / "..data_tmp"
    temporary.symlink_to(version.name)
    temporary.rename(data_link)  # the swap: one rename
    tops = {relative.split("/", 1)[0] for relative in files}
    for name in tops:
        link = target / name
        if not link.is_symlink() and not link.exists():
            link.symlink_to(Path("..data") / name)
    for entry in target.iterdir():
        if not entry.name.startswith("..") and entry.name not in tops and entry.is_symlink():
            entry.unlink()
    if old is not None:
        shutil.rmtree(target / old)
    return version


def tree_files(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative path (what a ConfigMap with `items` holds)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}

"""What agent graphs cost `validate`: a tree of N agents where every agent reaches every
other (each hands off to the next two, in a ring), against the same tree without handoffs,
measured side by side in one run. Not part of the test suite.

    python bench/graphs.py                 # N = 50, 100, 200, 400, 800
    python bench/graphs.py 100 1000

Each profile's graph holds all N agents, so a naive check would cost O(N) per profile and
O(N^2) per validate; the agents of a cycle share one closure, its problems and its
dependencies (`Loader.check_many`), so the ring should stay within a small factor of the flat
tree at every N (the factor is the second composition of each profile, as a graph node).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from realtime_profiles import Loader


def make(root: Path, n: int, handoffs: bool) -> None:
    if root.exists():
        shutil.rmtree(root)
    (root / "agents").mkdir(parents=True)
    (root / "env").mkdir()
    (root / "env" / "dev.yaml").write_text("{}\n")
    (root / "base.yaml").write_text("run_config:\n  model_settings:\n    voice: marin\n")
    for i in range(n):
        text = (f"agent:\n  name: Agent {i}\n  instructions: You are agent {i}.\n"
                f"  tools: [tool_{i}]\n")
        if handoffs:
            text += f"  handoffs: [a{(i + 1) % n}, a{(i + 2) % n}]\n"
        (root / "agents" / f"a{i}.yaml").write_text(text)


def validate_all(root: Path) -> float:
    """What `realtime-profiles validate` does: a new Loader, every agent checked."""
    start = time.perf_counter()
    loader = Loader(root, environ={"OPENAI_API_KEY": "k"})
    results = loader.check_many([(agent, "dev", {}) for agent in loader.agents()])
    elapsed = time.perf_counter() - start
    assert all(r.ok for r in results)
    return elapsed


def main(sizes: list[int]) -> None:
    base = Path(tempfile.mkdtemp(prefix="rp-graphs-"))
    try:
        for n in sizes:
            make(base / "flat", n, handoffs=False)
            make(base / "ring", n, handoffs=True)
            flat = min(validate_all(base / "flat") for _ in range(3))
            ring = min(validate_all(base / "ring") for _ in range(3))
            print(f"N={n:5d}  no handoffs {flat * 1000:8.1f} ms ({flat / n * 1000:.2f} ms per "
                  f"profile)   every agent reaches all {ring * 1000:8.1f} ms "
                  f"({ring / n * 1000:.2f} ms per profile)   ratio {ring / flat:.2f}")
    finally:
        shutil.rmtree(base)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [50, 100, 200, 400, 800])

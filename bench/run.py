"""realtime-profiles against Hydra, plain OmegaConf and a hand-written floor, in one run.

    python bench/run.py                  # full run (a few minutes): table + bench/results/*.json
    python bench/run.py --quick          # smaller trees, fewer repetitions (under a minute)
    python bench/run.py --write-readme   # also put the table into bench/README.md

Needs the bench extra: pip install -e '.[bench]' && pip install --no-deps hydra-core==1.3.8
(Hydra 1.3 declares omegaconf<2.4; it runs on the omegaconf 2.4 we pin, see bench/README.md).

Every timing is taken on trees written by generate.py, after asserting that all four
implementations emit identical validated documents for the compared combinations. Not part of
the test suite: nothing here is asserted as wall-clock time in tests.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
import impls  # noqa: E402

BENCH_ENV = {
    "OPENAI_API_KEY": "sk-bench-not-a-real-key-0000000000",
    "GIT_SHA": "0123abc",
    "USER": "bench",
}
FULL_SIZES = ((10, 3), (200, 4), (1000, 4))


def cold_env() -> dict[str, str]:
    """The environment of a timed subprocess: the bench's variables, and bytecode caching
    on (a user's install has its .pyc files; with PYTHONDONTWRITEBYTECODE inherited from a
    developer's shell, every cold run would compile the package again and nothing else)."""
    env = {**os.environ, **BENCH_ENV}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env

QUICK_SIZES = ((10, 3), (100, 4))
TARGET_SIZE = (200, 4)
MEMORY_SIZE = (1000, 4)
PROFILE_CACHE = 512  # realtime_profiles.api.PROFILE_CACHE_SIZE: memory grows until it is full


# -- measuring ----------------------------------------------------------------------------------

def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def repeat(fn: Callable[[], Any], *, budget: float, minimum: int, maximum: int) -> list[float]:
    """Run `fn` until `budget` seconds are spent (at least `minimum`, at most `maximum`
    times) after one warm-up call; the per-call times in seconds."""
    fn()
    samples: list[float] = []
    spent = 0.0
    gc_was = gc.isenabled()
    gc.disable()
    try:
        while len(samples) < maximum and (len(samples) < minimum or spent < budget):
            sample = timed(fn)
            samples.append(sample)
            spent += sample
    finally:
        if gc_was:
            gc.enable()
    return samples


def _p(samples: list[float], percent: int) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))]


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def sample_combos(combos: list[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    """`count` combinations spread evenly over all of them (every k-th), deterministic."""
    if count >= len(combos):
        return list(combos)
    step = len(combos) / count
    return [combos[int(i * step)] for i in range(count)]


# -- machine ------------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    from importlib import metadata

    for name in ("realtime-profiles", "omegaconf", "hydra-core", "jsonschema", "fastjsonschema",
                 "PyYAML"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        import yaml

        versions["libyaml"] = bool(getattr(yaml, "__with_libyaml__", False))
    except ImportError:
        pass
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--",
                            "realtime_profiles"], capture_output=True, text=True,
                           check=False).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": f"{platform.system()} {platform.release()}",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" (+ uncommitted changes)" if dirty else ""),
        "versions": versions,
    }


# -- the steps ----------------------------------------------------------------------------------

class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick = args.quick
        self.work = Path(tempfile.mkdtemp(prefix="rp-bench-"))
        self.trees: dict[str, generate.Tree] = {}
        self.confs: dict[str, Path] = {}
        self.results: dict[str, Any] = {"quick": self.quick}
        self.log_start = time.perf_counter()

    def log(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.log_start:6.1f}s] {message}", file=sys.stderr,
              flush=True)

    def sizes(self) -> tuple[tuple[int, int], ...]:
        if self.args.sizes:
            return tuple(tuple(int(x) for x in s.split("x")) for s in self.args.sizes.split(","))  # type: ignore[misc]
        return QUICK_SIZES if self.quick else FULL_SIZES

    def make_trees(self) -> None:
        for n, m in self.sizes():
            label = f"{n}x{m}"
            tree = generate.generate(self.work / label, n, m)
            self.trees[label] = tree
            self.confs[label] = generate.hydra_layout(tree, self.work / f"{label}-hydra")
        self.results["trees"] = {
            label: {"agents": len(t.agents), "envs": len(t.envs), "combinations":
                    len(t.combinations), "agent_env_files": len(t.agent_envs), "files": t.files,
                    "bytes": t.bytes}
            for label, t in self.trees.items()}
        self.log("trees: " + ", ".join(f"{k} ({v['files']} files)"
                                       for k, v in self.results["trees"].items()))

    def implementations(self, label: str) -> dict[str, Any]:
        tree = self.trees[label]
        return {"a": impls.Ours(tree.root), "b": impls.Hydra(tree.root, self.confs[label]),
                "c": impls.PlainOmegaConf(tree.root), "d": impls.Floor(tree.root)}

    # 1. the same validated dicts ------------------------------------------------------------
    def equality(self) -> None:
        compared: dict[str, int] = {}
        for index, (label, tree) in enumerate(self.trees.items()):
            combos = tree.combinations
            if index > 0:  # a sample of the larger trees: spread, plus agent@env files
                extra = list(tree.agent_envs[:8])
                combos = sample_combos(combos, 12 if self.quick else 24) + extra
            found = self.implementations(label)
            try:
                for agent, env in combos:
                    reference = found["a"].load(agent, env)
                    assert reference == found["a"].load_fresh(agent, env)
                    for key in "bcd":
                        other = found[key].load(agent, env)
                        if not impls.strict_equal(reference, other):
                            raise AssertionError(
                                f"{found[key].name} differs from realtime-profiles on "
                                f"{agent}@{env} in {label}:\n  ours:   {json.dumps(reference)}"
                                f"\n  theirs: {json.dumps(other)}")
                # validate-all agrees too: no implementation finds a problem in the tree
                assert found["a"].validate_all(combos) == 0
                assert found["c"].validate_all(combos) == 0
                assert found["d"].validate_all(combos) == 0
            finally:
                found["b"].close()
            compared[label] = len(combos)
        self.results["equality"] = {"compared": compared, "identical": True}
        self.log("equality: identical documents for " + ", ".join(
            f"{n} combinations of {k}" for k, n in compared.items()))

    # 2. warm load of one profile ------------------------------------------------------------
    def warm_load(self) -> None:
        label = self._target_label()
        tree = self.trees[label]
        agent, env = tree.agent_envs[0]  # the most layers: base, env, agent, agent@env
        found = self.implementations(label)
        budget = 0.4 if self.quick else 1.5
        runs = {
            "a": (found["a"].load, 200, 20000),
            "a_fresh": (found["a"].load_fresh, 20, 400),
            "b": (found["b"].load, 10, 60 if not self.quick else 15),
            "c": (found["c"].load, 20, 600),
            "d": (found["d"].load, 200, 20000),
        }
        out: dict[str, Any] = {"tree": label, "profile": f"{agent}@{env}"}
        try:
            for key, (fn, minimum, maximum) in runs.items():
                samples = repeat(lambda fn=fn: fn(agent, env), budget=budget, minimum=minimum,
                                 maximum=maximum)
                out[key] = {"median_us": statistics.median(samples) * 1e6,
                            "p95_us": p95(samples) * 1e6, "runs": len(samples)}
        finally:
            found["b"].close()
        self.results["warm_load"] = out
        self.log(f"warm load of {agent}@{env}: (a) {out['a']['median_us']:.0f} us, "
                 f"(d) {out['d']['median_us']:.0f} us")

    def _target_label(self) -> str:
        wanted = f"{TARGET_SIZE[0]}x{TARGET_SIZE[1]}"
        return wanted if wanted in self.trees else list(self.trees)[-1]

    # 3. validate-all per tree size ----------------------------------------------------------
    def validate_all(self) -> None:
        out: dict[str, Any] = {}
        for index, (label, tree) in enumerate(self.trees.items()):
            combos = tree.combinations
            n = len(combos)
            found = self.implementations(label)
            reps = 2 if n >= 4000 else (3 if n >= 400 else 7)
            entry: dict[str, Any] = {"combinations": n}
            try:
                # (a) fresh Loader per run: what one `realtime-profiles validate` does
                samples = [timed(lambda f=found, c=combos: f["a"].validate_all(c))
                           for _ in range(reps)]
                entry["a"] = self._entry(samples, n, n)
                # (a) warm: the same Loader again (its LRU holds 512 profiles)
                found["a"].validate_all(combos, fresh=False)
                samples = [timed(lambda f=found, c=combos: f["a"].validate_all(c, fresh=False))
                           for _ in range(reps)]
                entry["a_warm"] = self._entry(samples, n, n)
                # (d) the floor, parsed files cached within the run like (a)
                samples = [timed(lambda f=found, c=combos: f["d"].validate_all(c))
                           for _ in range(reps)]
                entry["d"] = self._entry(samples, n, n)
                # (c) plain OmegaConf
                c_combos = combos if n <= self.args.omegaconf_limit else sample_combos(
                    combos, self.args.omegaconf_limit)
                samples = [timed(lambda f=found, c=c_combos: f["c"].validate_all(c))
                           for _ in range(1 if len(c_combos) >= 800 else 2)]
                entry["c"] = self._entry(samples, len(c_combos), n)
                # (b) Hydra: all combinations of the smallest tree, a spread sample elsewhere
                limit = n if (index == 0 or self.args.hydra_full) else self.args.hydra_sample
                b_combos = sample_combos(combos, limit)
                samples = [timed(lambda f=found, c=b_combos: f["b"].validate_all(c))]
                entry["b"] = self._entry(samples, len(b_combos), n)
            finally:
                found["b"].close()
            out[label] = entry
            self.log(f"validate-all {label}: (a) {entry['a']['per_combination_us']:.0f} us, "
                     f"(b) {entry['b']['per_combination_us']:.0f} us, "
                     f"(c) {entry['c']['per_combination_us']:.0f} us, "
                     f"(d) {entry['d']['per_combination_us']:.0f} us per combination")
        self.results["validate_all"] = out

    @staticmethod
    def _entry(samples: list[float], measured: int, total: int) -> dict[str, Any]:
        best = statistics.median(samples)
        per = best / measured
        return {"measured_combinations": measured, "runs": len(samples),
                "seconds": per * total, "per_combination_us": per * 1e6,
                "extrapolated": measured < total}

    # 3b. the per-call path -------------------------------------------------------------------
    def per_call(self) -> None:
        """`Loader.load(agent, env, facets=..., bucket=call_id, call_overrides={2 keys})` from
        a warm Loader, a new bucket and new values each call, against the floor: a copy of the
        composed dict, the two values set, fastjsonschema on the document."""
        import fastjsonschema

        from realtime_profiles import Loader

        label = self._target_label()
        tree = generate.generate(self.work / f"{label}-per-call",
                                 *(int(x) for x in label.split("x")))
        generate.add_per_call(tree)
        agent, env = tree.agent_envs[0]
        loader = Loader(tree.root)
        voices = ["alloy", "ash", "coral", "sage", "verse", "marin", "cedar"]

        def call(i: int) -> Any:
            return loader.load(agent, env, facets={"transport": "sip"}, bucket=f"call-{i}",
                               call_overrides={
                                   "model_settings.voice": voices[i % len(voices)],
                                   "model_settings.turn_detection.silence_duration_ms":
                                       100 + i % 1900})

        composed = loader.load(agent, env, facets={"transport": "sip", "variant": "control"})
        document = composed.document()
        validate = fastjsonschema.compile(impls.schema())

        def floor(i: int) -> Any:
            doc = impls._copy(document)
            settings = doc["run_config"]["model_settings"]
            settings["voice"] = voices[i % len(voices)]
            settings["turn_detection"]["silence_duration_ms"] = 100 + i % 1900
            return validate(doc)

        from realtime_profiles import Bundle, build_bundle

        build_bundle(Loader(tree.root, local=False), self.work / f"{label}-per-call-bundle")
        bundle = Bundle(self.work / f"{label}-per-call-bundle")
        rechecking = Loader(tree.root, recheck=1.0)

        def with_recheck(i: int) -> Any:
            return rechecking.load(agent, env, facets={"transport": "sip"}, bucket=f"call-{i}",
                                   call_overrides={
                                       "model_settings.voice": voices[i % len(voices)],
                                       "model_settings.turn_detection.silence_duration_ms":
                                           100 + i % 1900})

        def from_bundle(i: int) -> Any:
            return bundle.load(agent, env, facets={"transport": "sip"}, bucket=f"call-{i}",
                               call_overrides={
                                   "model_settings.voice": voices[i % len(voices)],
                                   "model_settings.turn_detection.silence_duration_ms":
                                       100 + i % 1900})

        paths = {"a": call, "a_recheck": with_recheck, "bundle": from_bundle, "d": floor}
        for i in range(200):  # warm every path, and check the per-call result is what it says
            for name, path in paths.items():
                result = path(i)
                if name != "d":
                    assert result.run_config["model_settings"]["voice"] == \
                        voices[i % len(voices)]
                    assert result.document() == call(i).document()
        runs = 2000 if self.quick else 20000
        samples: dict[str, list[float]] = {name: [] for name in paths}
        for i in range(runs):  # interleaved, so every path sees the same machine
            for name, path in paths.items():
                start = time.perf_counter()
                path(i)
                samples[name].append(time.perf_counter() - start)
        out: dict[str, Any] = {"tree": label, "profile": f"{agent}@{env}", "runs": runs}
        for name, values in samples.items():
            out[name] = {"p50_us": statistics.median(values) * 1e6,
                         "p99_us": _p(values, 99) * 1e6}
        floor_p50 = out["d"]["p50_us"]
        for name in ("a", "a_recheck", "bundle"):
            out[name]["ratio_p50"] = out[name]["p50_us"] / floor_p50
        out["ratio_p50"] = out["a"]["ratio_p50"]
        self.results["per_call"] = out
        self.log(f"per call {agent}@{env}: p50 (a) {out['a']['p50_us']:.0f} us, (a, recheck "
                 f"1 s) {out['a_recheck']['p50_us']:.0f} us, bundle "
                 f"{out['bundle']['p50_us']:.0f} us, (d) {floor_p50:.0f} us")

    # 3c. bundles ----------------------------------------------------------------------------
    def bundles(self) -> None:
        """Build time and size of the target tree's bundle, and a worker's cold start: load
        one combination from it, against reading that combination's JSON file."""
        from realtime_profiles import Loader, build_bundle

        label = self._target_label()
        tree = self.trees[label]
        folder = self.work / f"{label}-bundle"
        start = time.perf_counter()
        build_bundle(Loader(tree.root, local=False), folder)
        seconds = time.perf_counter() - start
        files = list(folder.iterdir())
        manifest = json.loads((folder / "manifest.json").read_text())
        entry = next(c for c in manifest["combinations"]
                     if (c["agent"], c["env"]) == tree.agent_envs[0])
        python = sys.executable
        commands = {
            "bundle_load": [python, "-c", "import sys\nfrom realtime_profiles import Bundle\n"
                            "Bundle(sys.argv[1]).load(sys.argv[2], sys.argv[3])",
                            str(folder), entry["agent"], entry["env"]],
            "json_load": [python, "-c", "import json, sys\njson.load(open(sys.argv[1]))",
                          str(folder / entry["file"])],
        }
        env = cold_env()
        for command in commands.values():
            subprocess.run(command, cwd=REPO, env=env, capture_output=True, check=True)
        runs = 9 if self.quick else 31
        samples: dict[str, list[float]] = {k: [] for k in commands}
        for _ in range(runs):
            for key, command in commands.items():
                begin = time.perf_counter()
                subprocess.run(command, cwd=REPO, env=env, capture_output=True, check=True)
                samples[key].append(time.perf_counter() - begin)
        out = {"tree": label, "combinations": len(manifest["combinations"]),
               "build_seconds": seconds, "files": len(files),
               "bytes": sum(p.stat().st_size for p in files),
               "cold": {k: {"median_ms": statistics.median(s) * 1e3, "runs": len(s)}
                        for k, s in samples.items()}}
        out["cold_ratio"] = (out["cold"]["bundle_load"]["median_ms"]
                             / out["cold"]["json_load"]["median_ms"])
        self.results["bundles"] = out
        self.log(f"bundle {label}: built in {seconds:.1f} s, {out['bytes']} bytes; cold load "
                 f"{out['cold']['bundle_load']['median_ms']:.0f} ms vs json.load "
                 f"{out['cold']['json_load']['median_ms']:.0f} ms")

    # 4. cold processes ----------------------------------------------------------------------
    def cold(self) -> None:
        python = sys.executable
        cli = shutil.which("realtime-profiles", path=str(Path(python).parent)) or ""
        small = self.trees[next(iter(self.trees))].root
        commands = {
            "validate_shipped": [cli, "--root", str(REPO / "profiles"), "validate"],
            "validate_small": [cli, "--root", str(small), "validate"],
            "import_trio": [python, "-c", "import omegaconf, jsonschema, yaml"],
            "import_omegaconf": [python, "-c", "import omegaconf"],
            "python_pass": [python, "-c", "pass"],
        }
        if not cli:
            raise SystemExit("realtime-profiles is not installed next to this python "
                             "(pip install -e .)")
        env = cold_env()
        for command in commands.values():  # warm the page cache and .pyc files
            subprocess.run(command, cwd=REPO, env=env, capture_output=True, check=True)
        runs = 7 if self.quick else 21
        samples: dict[str, list[float]] = {k: [] for k in commands}
        for _ in range(runs):  # interleaved, so drift hits all alike
            for key, command in commands.items():
                start = time.perf_counter()
                subprocess.run(command, cwd=REPO, env=env, capture_output=True, check=True)
                samples[key].append(time.perf_counter() - start)
        self.results["cold"] = {
            key: {"command": " ".join(Path(c).name if i == 0 else c
                                      for i, c in enumerate(commands[key])),
                  "median_ms": statistics.median(s) * 1e3, "p95_ms": p95(s) * 1e3,
                  "min_ms": min(s) * 1e3, "runs": len(s)}
            for key, s in samples.items()}
        shown = self.results["cold"]
        self.log(f"cold: validate {shown['validate_shipped']['median_ms']:.0f} ms, imports "
                 f"{shown['import_trio']['median_ms']:.0f} ms")

    # 5. peak memory -------------------------------------------------------------------------
    def memory(self) -> None:
        out: dict[str, Any] = {}
        wanted = f"{MEMORY_SIZE[0]}x{MEMORY_SIZE[1]}"
        label = wanted if wanted in self.trees else list(self.trees)[-1]
        probes: list[tuple[str, str, int]] = [("a", lbl, 0) for lbl in self.trees]
        probes += [("d", label, 0), ("c", label, self.args.omegaconf_limit),
                   ("b", label, self.args.hydra_memory_sample)]
        for key, lbl, limit in probes:
            tree = self.trees[lbl]
            command = [sys.executable, str(Path(__file__).resolve()), "--probe-memory", key,
                       str(tree.root), str(self.confs[lbl]), str(limit)]
            env = cold_env()
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"memory probe {key} {lbl} failed:\n{done.stderr}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            result["tree"] = lbl
            out[f"{key}@{lbl}"] = result
        self.results["memory"] = out
        self.log("memory: " + ", ".join(f"{k} +{v['growth_mb']:.1f} MB"
                                        for k, v in out.items()))

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


def probe_memory(key: str, root: str, conf: str, limit: int) -> None:
    """In a fresh process: RSS after imports and setup, then the peak during validate-all."""
    for name, value in BENCH_ENV.items():
        os.environ[name] = value
    warnings.simplefilter("ignore")
    from realtime_profiles import Loader

    tree = Loader(root).tree()
    combos = [(a, e) for a in tree.agents for e in tree.envs]
    total = len(combos)
    if limit:
        combos = sample_combos(combos, limit)
    path = Path(root)
    impl: Any = {"a": lambda: impls.Ours(path), "b": lambda: impls.Hydra(path, Path(conf)),
                 "c": lambda: impls.PlainOmegaConf(path), "d": lambda: impls.Floor(path)}[key]()
    # one combination first, so every import and compiled validator is in the baseline
    impl.validate_all(combos[:1]) if key != "a" else impl.validate_all(combos[:1], fresh=True)
    gc.collect()
    baseline = _status("VmRSS")
    reset = _reset_peak()
    start = time.perf_counter()
    invalid = impl.validate_all(combos)
    seconds = time.perf_counter() - start
    peak = _status("VmHWM") if reset else _maxrss()
    print(json.dumps({"impl": key, "combinations": len(combos), "invalid": invalid,
                      "baseline_mb": baseline / 1024, "peak_mb": peak / 1024,
                      "growth_mb": (peak - baseline) / 1024,
                      "per_combination_kb": (peak - baseline) / len(combos),
                      "peak_resets": reset, "seconds": seconds,
                      "sampled": len(combos) < total}))


def _status(field: str) -> int:
    """A /proc/self/status value in KiB (Linux), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return _maxrss()


def _maxrss() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak is this run's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# -- reporting ----------------------------------------------------------------------------------

def _us(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:,.1f} ms"
    if value >= 1000:
        return f"{value / 1000:.2f} ms"
    return f"{value:.0f} µs"


def _s(value: float) -> str:
    return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.0f} ms"


def _ratio(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}x"
    return f"{value:.1f}x" if value >= 10 else f"{value:.2f}x"


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines: list[str] = []
    add = lines.append
    add(f"realtime-profiles bench — {m['date']}, commit {m['commit']}")
    add(f"machine: {m['cpu']}, {m['cores']} cores, {m['system']}, "
        f"{m['implementation']} {m['python']}")
    v = m["versions"]
    add(f"versions: realtime-profiles {v['realtime-profiles']}, omegaconf {v['omegaconf']}, "
        f"hydra-core {v['hydra-core']}, jsonschema {v['jsonschema']}, fastjsonschema "
        f"{v['fastjsonschema']}, PyYAML {v['PyYAML']} (libyaml: {v.get('libyaml')})")
    trees = results["trees"]
    add("trees: " + "; ".join(f"{k}: {t['combinations']} combinations, {t['files']} files, "
                              f"{t['agent_env_files']} agent@env" for k, t in trees.items()))
    eq = results["equality"]["compared"]
    add("same validated documents from (a)-(d), asserted first on " + ", ".join(
        f"{n} combinations of {k}" for k, n in eq.items()))
    add("")
    add("(a) realtime-profiles  (b) Hydra compose + jsonschema  (c) OmegaConf load/merge/"
        "to_container + jsonschema  (d) floor: CSafeLoader + dict merge + regex interpolation"
        " + fastjsonschema")

    w = results["warm_load"]
    add("")
    add(f"Warm load of one profile ({w['profile']}, {w['tree']} tree, 4 layers + a prompt)")
    add(f"  {'':44s} {'median':>10s} {'p95':>10s} {'vs (b)':>9s} {'vs (d)':>8s}")
    rows = [("a", "(a) Loader.load, cached (stat-checked)"),
            ("a_fresh", "(a) load_profile (new Loader each call)"),
            ("b", "(b) Hydra compose"), ("c", "(c) OmegaConf"), ("d", "(d) floor (no cache)")]
    for key, name in rows:
        r = w[key]
        add(f"  {name:44s} {_us(r['median_us']):>10s} {_us(r['p95_us']):>10s} "
            f"{_ratio(r['median_us'] / w['b']['median_us']):>9s} "
            f"{_ratio(r['median_us'] / w['d']['median_us']):>8s}")

    va = results["validate_all"]
    add("")
    add("Validate-all: every agent x env (total, and per combination)")
    add(f"  {'tree':8s} {'(a) fresh':>19s} {'(a) warm':>19s} {'(b) Hydra':>21s} "
        f"{'(c) OmegaConf':>21s} {'(d) floor':>19s} {'(b)/(a)':>8s} {'(a)/(d)':>8s}")
    first = None
    for label, e in va.items():
        def cell(key: str, e: dict[str, Any] = e) -> str:
            r = e[key]
            mark = "~" if r["extrapolated"] else " "
            return f"{mark}{_s(r['seconds'])} {_us(r['per_combination_us']):>8s}"
        add(f"  {label:8s} {cell('a'):>19s} {cell('a_warm'):>19s} {cell('b'):>21s} "
            f"{cell('c'):>21s} {cell('d'):>19s} "
            f"{_ratio(e['b']['per_combination_us'] / e['a']['per_combination_us']):>8s} "
            f"{_ratio(e['a']['per_combination_us'] / e['d']['per_combination_us']):>8s}")
        first = first or e
    assert first is not None
    growth = " → ".join(f"{e['a']['per_combination_us'] / first['a']['per_combination_us']:.2f}"
                        for e in va.values())
    growth_d = " → ".join(
        f"{e['d']['per_combination_us'] / first['d']['per_combination_us']:.2f}"
        for e in va.values())
    add(f"  growth per combination as the tree grows ({' → '.join(va)}): (a) {growth}; "
        f"(d) {growth_d}")
    sampled = [f"{k}: (b) {e['b']['measured_combinations']}, (c) "
               f"{e['c']['measured_combinations']}" for k, e in va.items()
               if e["b"]["extrapolated"] or e["c"]["extrapolated"]]
    if sampled:
        add("  ~ = per-combination time of an evenly spread sample x all combinations "
            "(sampled: " + "; ".join(sampled) + ")")
    add("  (a) fresh = a new Loader per run, as `realtime-profiles validate`; (a) warm = the "
        "same Loader again (LRU of 512 profiles, files stat-checked)")

    pc = results.get("per_call")
    if pc:
        add("")
        add(f"Per call ({pc['profile']}, {pc['tree']} tree with facets and a contract; "
            f"{pc['runs']} calls interleaved, a new bucket and values each)")
        rows = [("a", "(a) Loader.load(facets, bucket, 2 call overrides)"),
                ("a_recheck", "(a) the same, Loader(recheck=1.0)"),
                ("bundle", "Bundle.load, the same arguments"),
                ("d", "(d) copy + 2 sets + fastjsonschema")]
        for key, name in rows:
            ratio = f"{pc[key]['ratio_p50']:.2f}x" if key != "d" else ""
            add(f"  {name:52s} p50 {_us(pc[key]['p50_us']):>9s}  p99 "
                f"{_us(pc[key]['p99_us']):>9s}  {ratio}")
    bu = results.get("bundles")
    if bu:
        add("")
        add(f"Bundle of the {bu['tree']} tree: {bu['combinations']} combinations, built in "
            f"{bu['build_seconds']:.1f} s, {bu['files']} files, {bu['bytes'] / 1e6:.1f} MB")
        add(f"  cold process: Bundle(D).load(A, E) {bu['cold']['bundle_load']['median_ms']:.0f} "
            f"ms, json.load of that combination's file "
            f"{bu['cold']['json_load']['median_ms']:.0f} ms: {bu['cold_ratio']:.2f}x")

    c = results["cold"]
    add("")
    add("Cold process (median of interleaved runs; wall clock incl. interpreter start)")
    base = c["import_trio"]["median_ms"]
    for key, name in (("validate_shipped", "realtime-profiles validate (the shipped tree)"),
                      ("validate_small", "realtime-profiles validate (10x3 tree, 30)"),
                      ("import_trio", 'python -c "import omegaconf, jsonschema, yaml"'),
                      ("import_omegaconf", 'python -c "import omegaconf"'),
                      ("python_pass", 'python -c pass')):
        r = c[key]
        add(f"  {name:48s} {r['median_ms']:7.0f} ms  (p95 {r['p95_ms']:4.0f} ms)  "
            f"{_ratio(r['median_ms'] / base):>6s} the import line")

    mem = results["memory"]
    add("")
    add("Peak memory during validate-all (RSS growth over the process after imports and one "
        "load)")
    for key, r in mem.items():
        impl, label = key.split("@")
        names = {"a": "(a) realtime-profiles", "b": "(b) Hydra", "c": "(c) OmegaConf",
                 "d": "(d) floor"}
        note = f" (an even sample of {r['combinations']})" if r["sampled"] else ""
        add(f"  {names[impl]:24s} {label:8s} {r['combinations']:5d} combinations{note:26s} "
            f"peak {r['peak_mb']:6.1f} MB  growth {r['growth_mb']:5.1f} MB  "
            f"{r['per_combination_kb']:6.2f} KB/combination")

    add("")
    add("Targets")
    for line in targets(results):
        add("  " + line)
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> list[str]:
    out = []
    va = results["validate_all"]
    label = f"{TARGET_SIZE[0]}x{TARGET_SIZE[1]}"
    if label not in va:
        label = list(va)[-1]
    e = va[label]
    vs_b = e["b"]["per_combination_us"] / e["a"]["per_combination_us"]
    vs_d = e["a"]["per_combination_us"] / e["d"]["per_combination_us"]
    out.append(f"[{'ok' if vs_b >= 10 else 'MISS'}] validate-all {label}: (a) is {vs_b:.1f}x "
               "faster than Hydra (target ≥ 10x)")
    out.append(f"[{'ok' if vs_d <= 2 else 'MISS'}] validate-all {label}: (a) takes {vs_d:.2f}x "
               "the floor (target ≤ 2x)")
    pc = results.get("per_call")
    if pc:
        out.append(f"[{'ok' if pc['ratio_p50'] <= 2 else 'MISS'}] per call: load with facets, "
                   f"a bucket and 2 call overrides takes {pc['ratio_p50']:.2f}x the floor at p50 "
                   f"(target ≤ 2x; {pc['a_recheck']['ratio_p50']:.2f}x with recheck=1.0)")
        ratio = pc["bundle"]["ratio_p50"]
        out.append(f"[{'ok' if ratio <= 1.5 else 'MISS'}] per call from a bundle: {ratio:.2f}x "
                   "the floor at p50 (target ≤ 1.5x)")
    bu = results.get("bundles")
    if bu:
        out.append(f"[{'ok' if bu['cold_ratio'] <= 2 else 'MISS'}] cold Bundle(D).load: "
                   f"{bu['cold_ratio']:.2f}x json.load of the same file (target ≤ 2x)")
    w = results["warm_load"]
    ratio = w["a"]["median_us"] / w["d"]["median_us"]
    out.append(f"[{'ok' if ratio <= 3 else 'MISS'}] warm repeated load: (a) takes {ratio:.2f}x "
               "the floor (target ≤ 3x; (a) caches by file stats, (d) redoes everything)")
    c = results["cold"]
    ratio = c["validate_shipped"]["median_ms"] / c["import_trio"]["median_ms"]
    out.append(f"[{'ok' if ratio <= 2 else 'MISS'}] cold `realtime-profiles validate`: "
               f"{ratio:.2f}x `python -c \"import omegaconf, jsonschema, yaml\"` (target ≤ 2x)")
    mem = {k: v for k, v in results["memory"].items() if k.startswith("a@")}
    if len(mem) >= 2:
        entries = sorted(mem.values(), key=lambda r: r["combinations"])
        small, big = entries[-2], entries[-1]
        combos = big["combinations"] / small["combinations"]
        grew = big["growth_mb"] / max(small["growth_mb"], 0.1)
        text = (f"memory: {combos:.0f}x the combinations ({small['tree']} → {big['tree']}) "
                f"grow the peak {grew:.2f}x ({small['growth_mb']:.1f} → "
                f"{big['growth_mb']:.1f} MB; target: flat)")
        if small["combinations"] < PROFILE_CACHE:
            out.append(f"[--] {text}: not judged, the smaller tree does not fill the "
                       f"{PROFILE_CACHE}-profile cache (run without --quick)")
        else:
            out.append(f"[{'ok' if grew <= 1.5 else 'MISS'}] {text}")
    return out


def write_readme(table: str) -> None:
    path = HERE / "README.md"
    text = path.read_text(encoding="utf-8")
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"{path}: no {begin} ... {end} block to replace")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n```text\n{table}\n```\n{end}{tail}", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x3 and 100x4, fewer runs")
    parser.add_argument("--sizes", help="e.g. 10x3,200x4,1000x4 (the default)")
    parser.add_argument("--hydra-full", action="store_true",
                        help="validate every combination with Hydra (~0.1 s each)")
    parser.add_argument("--hydra-sample", type=int, default=200,
                        help="combinations Hydra validates on trees after the first")
    parser.add_argument("--hydra-memory-sample", type=int, default=200)
    parser.add_argument("--omegaconf-limit", type=int, default=800,
                        help="combinations OmegaConf validates per tree (~14 ms each)")
    parser.add_argument("--write-readme", action="store_true",
                        help="replace the results block of bench/README.md")
    parser.add_argument("--output", type=Path, help="JSON file (default bench/results/...)")
    parser.add_argument("--probe-memory", nargs=4, metavar=("IMPL", "ROOT", "CONF", "LIMIT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.probe_memory:
        key, root, conf, limit = args.probe_memory
        probe_memory(key, root, conf, int(limit))
        return 0
    if args.quick:
        args.hydra_sample = min(args.hydra_sample, 40)
        args.hydra_memory_sample = min(args.hydra_memory_sample, 40)
        args.omegaconf_limit = min(args.omegaconf_limit, 400)
    os.environ.update(BENCH_ENV)
    started = time.perf_counter()
    bench = Bench(args)
    try:
        bench.results["machine"] = machine()
        bench.make_trees()
        bench.equality()
        bench.warm_load()
        bench.validate_all()
        bench.per_call()
        bench.bundles()
        bench.cold()
        bench.memory()
    finally:
        bench.close()
    results = bench.results
    results["wall_seconds"] = time.perf_counter() - started
    table = render(results)
    print(table)
    print(f"\n(whole run: {results['wall_seconds']:.0f} s)")
    out = args.output or HERE / "results" / (
        ("quick-" if args.quick else "") + datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        + ".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    results["table"] = table
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    (out.parent / "latest.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"results: {out}")
    if args.write_readme:
        write_readme(table)
        print(f"table written to {HERE / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

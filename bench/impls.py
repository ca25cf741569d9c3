"""The four implementations compared by run.py, each producing the emitted document
`{agent, run_config, model_config, start_messages, client_messages}` (empty sections left out,
`start_messages` strings expanded to user messages) for one agent in one environment.

(a) realtime-profiles: `Loader.load` / `load_profile`, and `Loader.check` for validate-all.
(b) Hydra's compose API over the tree laid out as config groups (generate.hydra_layout),
    `OmegaConf.to_container(resolve=True)`, jsonschema.
(c) Plain OmegaConf: `OmegaConf.load` per file, `OmegaConf.merge`, `to_container`, jsonschema.
(d) The floor: libyaml's CSafeLoader, a ten-line dict merge, a regex interpolation that knows
    `${path}`, `${oc.env:...}` and `${file:...}`, fastjsonschema. No marks, no error messages,
    no cycle detection, no secrets: roughly the least work that produces the same dicts.

(b)-(d) validate with a validator compiled once per process, like (a). For (b) and (c) the
`file` resolver is registered in OmegaConf's global table and reads the prompt on each use,
as (a) does; `${profile.agent}`/`${profile.env}` are supplied as a `profile` node (an override
for Hydra, one more merged mapping for OmegaConf), the way (a) adds it after folding.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

SECTIONS = ("agent", "run_config", "model_config", "start_messages", "client_messages")


def emit(tree: dict[str, Any]) -> dict[str, Any]:
    """The emitted document from a resolved tree (what Profile.document() returns)."""
    out: dict[str, Any] = {}
    for name in SECTIONS:
        value = tree.get(name)
        if not value:
            continue
        if name == "start_messages":
            value = [{"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": m}]}
                     if isinstance(m, str) else m for m in value]
        out[name] = value
    return out


def schema() -> dict[str, Any]:
    """A private deep copy: fastjsonschema rewrites every `$ref` of the schema it is given in
    place (to absolute URIs), which must not reach the schema realtime-profiles uses."""
    import copy

    from realtime_profiles._validate import packaged_schema

    return copy.deepcopy(dict(packaged_schema()))


def read_prompt(root: Path, relative: str) -> str:
    text = (root / relative).read_text(encoding="utf-8")
    return text[:-1] if text.endswith("\n") else text


def layer_paths(root: Path, agent: str, env: str) -> list[Path]:
    candidates = (root / "base.yaml", root / "env" / f"{env}.yaml",
                  root / "agents" / f"{agent}.yaml", root / "agents" / agent / f"{env}.yaml")
    return [p for p in candidates if p.is_file()]


# -- (a) realtime-profiles ------------------------------------------------------------------

def unstamped(document: dict[str, Any]) -> dict[str, Any]:
    """Our document without the fingerprint stamps only realtime-profiles writes, so it can
    be compared with what the other implementations emit (they stamp nothing)."""
    from realtime_profiles._fingerprint import unstamp

    unstamp(document)
    return document


class Ours:
    name = "realtime-profiles"

    def __init__(self, root: Path) -> None:
        from realtime_profiles import Loader

        self.root = root
        self.loader = Loader(root)

    def load(self, agent: str, env: str) -> dict[str, Any]:
        """Warm: one Loader kept across calls (cache revalidated by file stats)."""
        return unstamped(self.loader.load(agent, env).document())

    def load_fresh(self, agent: str, env: str) -> dict[str, Any]:
        """`load_profile`: a new Loader per call, so nothing is cached between calls."""
        from realtime_profiles import load_profile

        return unstamped(load_profile(agent, env, root=self.root).document())

    def validate_all(self, combos: list[tuple[str, str]], *, fresh: bool = True) -> int:
        """What `realtime-profiles validate` does through the API; returns the invalid count.

        fresh=True: a new Loader (files parsed once in the run, as the CLI does).
        fresh=False: this object's Loader, warm from earlier runs.
        """
        from realtime_profiles import Loader

        loader = Loader(self.root) if fresh else self.loader
        results = loader.check_many((agent, env, {}) for agent, env in combos)
        return sum(1 for result in results if not result.ok or result.problems)


# -- (b) Hydra ------------------------------------------------------------------------------

_FILE_ROOT: list[Path] = []  # the root `${file:...}` reads from, set by (b) and (c) per use


def _register_file_resolver(root: Path) -> None:
    """OmegaConf's resolver table is process-global: register `file` once, point it at root."""
    from omegaconf import OmegaConf

    if not _FILE_ROOT:
        _FILE_ROOT.append(root)
        register = getattr(OmegaConf, "register_resolver", None) or \
            OmegaConf.register_new_resolver
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            register("file", lambda relative: read_prompt(_FILE_ROOT[0], relative),
                     replace=True)
    _FILE_ROOT[0] = root


class _ComposeThenValidate:
    """(b) and (c): compose a document, then jsonschema; the first error is enough here."""

    validator: Any

    def compose(self, agent: str, env: str) -> dict[str, Any]:
        raise NotImplementedError

    def load(self, agent: str, env: str) -> dict[str, Any]:
        doc = self.compose(agent, env)
        errors = list(self.validator.iter_errors(doc))
        if errors:
            raise ValueError(errors[0].message)
        return doc


class Hydra(_ComposeThenValidate):
    name = "Hydra compose"

    def __init__(self, root: Path, conf: Path) -> None:
        from hydra import initialize_config_dir
        from hydra.core.global_hydra import GlobalHydra
        from jsonschema import Draft202012Validator

        warnings.filterwarnings("ignore", module=r"hydra\..*")
        warnings.filterwarnings("ignore", message=r".*register_new_resolver.*")
        warnings.filterwarnings("ignore", category=FutureWarning)
        GlobalHydra.instance().clear()
        self.root = root
        self._context = initialize_config_dir(config_dir=str(conf.resolve()), version_base=None)
        self._context.__enter__()
        _register_file_resolver(root)
        self.validator = Draft202012Validator(schema())

    def close(self) -> None:
        self._context.__exit__(None, None, None)

    def compose(self, agent: str, env: str) -> dict[str, Any]:
        from hydra import compose
        from omegaconf import OmegaConf

        _register_file_resolver(self.root)  # (c) may have re-registered it for its root
        cfg = compose(config_name="config", overrides=[
            f"agent={agent}", f"env={env}", f"+profile.agent={agent}", f"+profile.env={env}"])
        tree = OmegaConf.to_container(cfg, resolve=True)
        assert isinstance(tree, dict)
        return emit(tree)  # type: ignore[arg-type]

    def validate_all(self, combos: list[tuple[str, str]]) -> int:
        invalid = 0
        for agent, env in combos:
            doc = self.compose(agent, env)
            invalid += any(True for _ in self.validator.iter_errors(doc))
        return invalid


# -- (c) plain OmegaConf --------------------------------------------------------------------

class PlainOmegaConf(_ComposeThenValidate):
    name = "OmegaConf"

    def __init__(self, root: Path) -> None:
        from jsonschema import Draft202012Validator

        self.root = root
        self.validator = Draft202012Validator(schema())

    def compose(self, agent: str, env: str, cache: dict[Path, Any] | None = None) -> dict[str,
                                                                                           Any]:
        from omegaconf import OmegaConf

        _register_file_resolver(self.root)
        layers = []
        for path in layer_paths(self.root, agent, env):
            if cache is None:
                layers.append(OmegaConf.load(path))
            else:
                if path not in cache:
                    cache[path] = OmegaConf.load(path)
                layers.append(cache[path])
        cfg = OmegaConf.merge(*layers, {"profile": {"agent": agent, "env": env}})
        tree = OmegaConf.to_container(cfg, resolve=True)
        assert isinstance(tree, dict)
        return emit(tree)  # type: ignore[arg-type]

    def validate_all(self, combos: list[tuple[str, str]]) -> int:
        cache: dict[Path, Any] = {}  # each file loaded once per run
        invalid = 0
        for agent, env in combos:
            doc = self.compose(agent, env, cache)
            invalid += any(True for _ in self.validator.iter_errors(doc))
        return invalid


# -- (d) the floor --------------------------------------------------------------------------

_REF = re.compile(r"\$\{([^${}]*)\}")


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        old = into.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            _merge(old, value)
        else:
            into[key] = _copy(value) if isinstance(value, dict) else value


class _Resolver:
    def __init__(self, tree: dict[str, Any], root: Path) -> None:
        self.tree = tree
        self.root = root

    def expr(self, text: str) -> Any:
        name, colon, args = text.partition(":")
        if colon:
            if name == "oc.env":
                var, comma, default = args.partition(",")
                value = os.environ.get(var)
                return value if value is not None else (default if comma else None)
            if name == "file":
                return read_prompt(self.root, args)
            raise KeyError(name)
        node: Any = self.tree
        for part in text.split("."):
            node = node[part]
        return self.value(node)

    def value(self, node: Any) -> Any:
        if isinstance(node, str):
            if "${" not in node:
                return node
            match = _REF.fullmatch(node)
            if match:
                return self.expr(match.group(1))
            return _REF.sub(lambda m: str(self.expr(m.group(1))), node)
        if isinstance(node, dict):
            return {k: self.value(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.value(v) for v in node]
        return node


class Floor:
    name = "floor"

    def __init__(self, root: Path) -> None:
        import fastjsonschema

        self.root = root
        self.validate: Callable[[Any], Any] = fastjsonschema.compile(schema())

    @staticmethod
    def parse(path: Path) -> dict[str, Any]:
        return yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader) or {}

    def compose(self, agent: str, env: str, cache: dict[Path, Any] | None = None) -> dict[str,
                                                                                           Any]:
        tree: dict[str, Any] = {}
        for path in layer_paths(self.root, agent, env):
            if cache is None:
                layer = self.parse(path)
            else:
                layer = cache.get(path)
                if layer is None:
                    layer = cache[path] = self.parse(path)
            _merge(tree, layer)
        tree["profile"] = {"agent": agent, "env": env}
        resolver = _Resolver(tree, self.root)
        return emit({k: resolver.value(tree[k]) for k in SECTIONS if k in tree})

    def load(self, agent: str, env: str) -> dict[str, Any]:
        doc = self.compose(agent, env)
        self.validate(doc)
        return doc

    def validate_all(self, combos: list[tuple[str, str]]) -> int:
        import fastjsonschema

        cache: dict[Path, Any] = {}
        invalid = 0
        for agent, env in combos:
            try:
                self.validate(self.compose(agent, env, cache))
            except fastjsonschema.JsonSchemaException:
                invalid += 1
        return invalid


def strict_equal(a: Any, b: Any) -> bool:
    """Equal values, types and key order (1 != 1.0 != True here)."""
    return json.dumps(a) == json.dumps(b) and _types(a) == _types(b)


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return [(k, _types(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__

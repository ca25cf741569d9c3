"""Agent graphs: the agents a profile's agent can hand off to, and the rules of such a graph.

A profile's `agent.handoffs` names other profiles' agents (`handoffs: [faq]` is the agent of
`agents/faq.yaml`, in the same environment). The session's graph is every agent reachable from
the profile's own, cycles allowed (triage -> faq -> triage). The loader loads the profiles;
this module judges them, as pure functions of their emitted documents and the tree's agent
names (`member_findings`: each agent's own problems; `start_findings`: the session's first
agent's), so the core still never imports the SDK. Its problems are unlocated and name the agent
whose document holds the key (`Finding.owner`): the loader locates each in that profile.

What it knows of the SDK (openai-agents 0.24, cited where used): the tool name a handoff
registers (`Handoff.default_tool_name`), that duplicate tool names stop the session
(`validate_realtime_tool_names`), and that `initial_model_settings` apply to the first
`session.update` only (`RealtimeSession._get_updated_model_settings_from_agent`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from ._lints import AGENT_OWNED, MODEL, RUN
from ._paths import MISSING, PathKey, get, render_path, under
from ._secrets import MASK
from .errors import Problem, Severity, did_you_mean

HANDOFFS: Final[PathKey] = ("agent", "handoffs")
TOOLS: Final[PathKey] = ("agent", "tools")

# realtime_handoff()'s keyword options a profile may set next to `agent`
# (`RealtimeHandoff` in schema.json: the parameters that are data).
HANDOFF_OPTIONS: Final = ("tool_name_override", "tool_description_override", "is_enabled")


def handoff_tool_name(agent_name: str) -> str:
    """The tool a handoff to an agent named `agent_name` registers: the SDK's
    `Handoff.default_tool_name` (`transform_string_function_style(f"transfer_to_{name}")`:
    each whitespace and then every other character but ASCII letters, digits and `_` becomes
    `_`, then lower case). Kept equal to the SDK's by a property test."""
    spaced = re.sub(r"\s", "_", f"transfer_to_{agent_name}")
    return re.sub(r"[^a-zA-Z0-9_]", "_", spaced).lower()


def display_name(agent: str, document: Mapping[str, Any]) -> str:
    """The RealtimeAgent's name: `agent.name`, else the profile's agent name."""
    name = get(document, ("agent", "name"))
    return name if isinstance(name, str) and name else agent


def handoff_items(document: Mapping[str, Any]) -> list[tuple[PathKey, Any]]:
    """Each item of `agent.handoffs` with its path."""
    items = get(document, HANDOFFS)
    if not isinstance(items, list):
        return []
    return [((*HANDOFFS, index), item) for index, item in enumerate(items)]


def target_of(item: Any) -> tuple[PathKey, str] | None:
    """(path inside the item, agent name) when the item names another profile's agent."""
    if isinstance(item, str) and item:
        return (), item
    if isinstance(item, dict) and isinstance(item.get("agent"), str) and item["agent"]:
        return ("agent",), item["agent"]
    return None


def targets(document: Mapping[str, Any]) -> list[tuple[PathKey, str]]:
    """(path of the name, agent name) for every handoff to another profile's agent."""
    found: list[tuple[PathKey, str]] = []
    for path, item in handoff_items(document):
        target = target_of(item)
        if target is not None:
            found.append(((*path, *target[0]), target[1]))
    return found


def takes_part(document: Mapping[str, Any]) -> bool:
    """Whether a session started with this profile can hand off at all."""
    return any(isinstance(get(document, (*where, "handoffs")), list)
               and get(document, (*where, "handoffs"))
               for where in (("agent",), RUN, MODEL))


class Finding(NamedTuple):
    """A graph problem, owned by the profile whose document holds `problem.key`."""

    owner: str
    problem: Problem


@dataclass(frozen=True, eq=False)
class Node:
    """What the graph rules know of one profile: its emitted document (as far as it
    composed), whether it validates on its own, and the agents it names (read once).
    Compared by identity: a loader hands out the same Node while the profile's files are
    unchanged, so it can key caches."""

    agent: str
    document: Mapping[str, Any]
    ok: bool
    hidden: tuple[PathKey, ...] = ()
    """The paths of `document` masked wherever they are shown (secrets, and what is derived
    from what they read): a message quotes no value at or below them."""
    names: tuple[str, ...] = field(init=False)
    # its secret texts (secrets and what they read): scrubbed from the wire of a profile
    # handing off to it
    texts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(name for _path, name in
                                                targets(self.document)))

    def hides(self, path: PathKey) -> bool:
        """Whether the value at `path` is masked (so never quoted)."""
        return any(under(path, top) for top in self.hidden)

    def shown_name(self) -> str:
        """The agent's name as a message may show it: `agent.name`, or the profile's agent
        name when that is masked (a profile's agent name never is)."""
        return self.agent if self.hides(("agent", "name")) \
            else display_name(self.agent, self.document)


@dataclass(frozen=True, eq=False)
class Closure:
    """Every node reachable from a node, itself included, by agent name. The nodes of one
    cycle share one Closure (they reach the same agents), so a tree whose agents all hand off
    to each other builds it once, not once per agent."""

    nodes: dict[str, Node]


def closure(root: Node, successors: Callable[[Node], list[Node]],
            memo: dict[Node, Closure]) -> Closure:
    """The closure of `root`, computed for every node on the way (Tarjan's strongly
    connected components, iteratively: a chain of a thousand handoffs is no recursion)."""
    if root in memo:
        return memo[root]
    index: dict[Node, int] = {}
    low: dict[Node, int] = {}
    stack: list[Node] = []
    on_stack: set[Node] = set()
    edges: dict[Node, list[Node]] = {}
    work: list[tuple[Node, int]] = [(root, 0)]
    while work:
        node, position = work.pop()
        if position == 0:
            index[node] = low[node] = len(index)
            stack.append(node)
            on_stack.add(node)
            edges[node] = successors(node)
        following = edges[node]
        if position < len(following):
            work.append((node, position + 1))
            child = following[position]
            if child in memo:
                continue
            if child not in index:
                work.append((child, 0))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
            continue
        for child in following:  # every child is done: take the lowest link it found
            if child in on_stack:
                low[node] = min(low[node], low[child])
        if low[node] == index[node]:
            _component(node, stack, on_stack, edges, memo)
    return memo[root]


def _component(root: Node, stack: list[Node], on_stack: set[Node],
               edges: Mapping[Node, list[Node]], memo: dict[Node, Closure]) -> None:
    """Pop the component whose root is `root`; its members share one Closure: themselves
    and the closures of every component they hand off to (all finished before this one)."""
    members: list[Node] = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        members.append(member)
        if member is root:
            break
    reach: dict[str, Node] = {m.agent: m for m in reversed(members)}
    for member in members:
        for child in edges[member]:
            if child in memo:
                reach.update(memo[child].nodes)
    shared = Closure(reach)
    for member in members:
        memo[member] = shared


def parents_of(start: str, nodes: Mapping[str, Node]) -> dict[str, str]:
    """Each node's parent on a shortest handoff path from `start` (for messages)."""
    parents: dict[str, str] = {}
    queue, seen = [start], {start}
    while queue:
        current = queue.pop(0)
        for name in nodes[current].names:
            if name in nodes and name not in seen:
                seen.add(name)
                parents[name] = current
                queue.append(name)
    return parents


def way_back(start: str, nodes: Mapping[str, Node]) -> list[str]:
    """The shortest handoff path from `start` back to itself (`[start, ..., start]`), or []."""
    parents = parents_of(start, nodes)
    best: list[str] = []
    for name, node in nodes.items():
        if start not in node.names or (name != start and name not in parents):
            continue
        path = [name]
        while path[-1] != start:
            path.append(parents[path[-1]])
        candidate = [*reversed(path), start]
        if not best or len(candidate) < len(best):
            best = candidate
    return best


def member_findings(nodes: Mapping[str, Node], *, env: str | None, agents: Sequence[str],
                    cache: dict[Any, list[Problem]] | None = None,
                    transient: Node | None = None) -> Iterator[Finding]:
    """Each node's own problems. They depend only on the node and the nodes it names, so
    `cache` keeps them across graphs, keyed by those nodes' identities — except where the
    `transient` node (one request's own composition) takes part."""
    for name, node in nodes.items():
        named = tuple(nodes.get(target) for target in node.names)
        key = None if transient is not None and (node is transient or transient in named) \
            else (node, named)
        found = cache.get(key) if cache is not None and key is not None else None
        if found is None:
            found = node_problems(node, nodes, env, agents)
            if cache is not None and key is not None:
                cache[key] = found
        for problem in found:
            yield Finding(name, problem)


def start_findings(start: str, nodes: Mapping[str, Node],
                   lint_severity: Severity = "warning") -> Iterator[Finding]:
    """What only the session's first agent has: the first session.update's tool names and
    the agent-owned settings of its `initial_model_settings`."""
    starting = nodes[start]
    first_names = _starting_tool_names(starting, nodes)
    if first_names:
        own = {p.key for p in _duplicates(list(_tool_names(starting, nodes)))}
        for problem in _duplicates(first_names):
            if problem.key not in own:
                yield Finding(start, problem)
    for problem in _initial_agent_settings(start, nodes, lint_severity):
        yield Finding(start, problem)


def node_problems(node: Node, nodes: Mapping[str, Node], env: str | None,
                  agents: Sequence[str]) -> list[Problem]:
    """One agent's own problems: its handoffs and its tool names."""
    return [*_handoff_problems(node, nodes, env, agents),
            *_duplicates(list(_tool_names(node, nodes)))]


def _handoff_problems(node: Node, nodes: Mapping[str, Node], env: str | None,
                      agents: Sequence[str]) -> Iterator[Problem]:
    for path, item in handoff_items(node.document):
        if isinstance(item, dict):
            yield from _mapping_problems(path, item)
        target = target_of(item)
        if target is None:
            continue
        where, name = (*path, *target[0]), target[1]
        # a masked name is refused where it is written (`secret-name`); never quoted here
        hidden = node.hides(where)
        quoted = MASK if hidden else repr(name)
        if name not in nodes:
            close = None if hidden else did_you_mean(name, agents)
            known = f"did you mean '{close}'? Handoffs name" if close else \
                "agents of this tree: " + (", ".join(agents) or "none") + "; handoffs name"
            yield Problem(where, "graph/unknown-agent",
                          f"hands off to {quoted}, which is not an agent of this tree", None,
                          f"{known} another profile's agent (agents/<name>.yaml), or "
                          "{handoff: <tool name>} for a registered Handoff")
            continue
        target_node = nodes[name]
        if not target_node.ok:
            label = MASK if hidden else name
            shown = f"{label}@{env}" if env is not None else label
            yield Problem(where, "graph/invalid-target",
                          f"hands off to {quoted}, whose profile {shown} does not validate",
                          None, f"see realtime-profiles validate {label}"
                          + (f" --env {env}" if env is not None else ""))
            continue
        lost = [key for key in AGENT_OWNED
                if get(target_node.document, (*MODEL, key)) is not MISSING
                and get(target_node.document, ("agent", key)) is MISSING]
        if lost:
            listed = " and ".join(lost) if len(lost) < 3 else \
                ", ".join(lost[:-1]) + f" and {lost[-1]}"
            moved = ", ".join(f"agent.{key}" for key in lost)
            yield Problem(where, "graph/target-settings",
                          f"hands off to {quoted}, which keeps its {listed} in "
                          f"model_config.initial_model_settings: those apply only when a "
                          f"session starts with {quoted}, so after this handoff it has none",
                          None, f"move {'it' if len(lost) == 1 else 'them'} to {moved} in "
                          f"{MASK if hidden else name}'s profile")


def _mapping_problems(path: PathKey, item: Mapping[str, Any]) -> Iterator[Problem]:
    """A handoff mapping names exactly one of `agent` and `handoff`; a registered Handoff
    carries its own options."""
    has_agent, has_handoff = "agent" in item, "handoff" in item
    if has_agent == has_handoff:
        yield Problem(path, "graph/handoff-shape",
                      "names both agent and handoff" if has_agent
                      else "names neither agent nor handoff", None,
                      "write {agent: <profile agent>, ...} or {handoff: <registered tool "
                      "name>}")
    elif has_handoff:
        for option in HANDOFF_OPTIONS:
            if option in item:
                yield Problem((*path, option), "graph/handoff-shape",
                              "cannot be set on a registered Handoff", None,
                              "set it where the Handoff is built with realtime_handoff, or "
                              "hand off to a profile's agent: {agent: <name>, ...}")


class ToolName(NamedTuple):
    """A tool name the model sees, where it comes from, and whether it is masked (made from
    a masked value: a message never quotes it)."""

    path: PathKey
    name: str
    hidden: bool


def _tool_names(node: Node, nodes: Mapping[str, Node]) -> Iterator[ToolName]:
    """The tool names the model sees for this agent: its tools (registered under their tool
    names) and its enabled handoffs."""
    tools = get(node.document, TOOLS)
    if isinstance(tools, list):
        for index, tool in enumerate(tools):
            if isinstance(tool, str):
                yield ToolName((*TOOLS, index), tool, node.hides((*TOOLS, index)))
    for path, item in handoff_items(node.document):
        if isinstance(item, dict) and item.get("is_enabled") is False:
            continue  # the SDK leaves disabled handoffs out before it checks names
        if isinstance(item, dict) and isinstance(item.get("handoff"), str):
            yield ToolName((*path, "handoff"), item["handoff"],
                           node.hides((*path, "handoff")))
            continue
        override = item.get("tool_name_override") if isinstance(item, dict) else None
        target = target_of(item)
        if isinstance(override, str) and override:
            yield ToolName((*path, "tool_name_override"), override,
                           node.hides((*path, "tool_name_override")))
        elif target is not None and target[1] in nodes:
            where, other = (*path, *target[0]), nodes[target[1]]
            yield ToolName(where, handoff_tool_name(display_name(other.agent, other.document)),
                           node.hides(where) or other.hides(("agent", "name")))


def _starting_tool_names(node: Node, nodes: Mapping[str, Node]) -> list[ToolName]:
    """The tool names of the first session.update when `initial_model_settings` sets tools or
    handoffs: they replace the agent's (registered names are tool names)."""
    starting = [(where, get(node.document, (*MODEL, where)))
                for where in ("tools", "handoffs")]
    if all(value is MISSING for _where, value in starting):
        return []
    found: list[ToolName] = []
    own = list(_tool_names(node, nodes))
    for where, value in starting:
        if isinstance(value, list):
            found.extend(ToolName((*MODEL, where, index), name,
                                  node.hides((*MODEL, where, index)))
                         for index, name in enumerate(value) if isinstance(name, str))
        else:  # not set there: the agent's own
            found.extend(tool for tool in own if tool.path[1] == where)
    return found


def _duplicates(names: list[ToolName]) -> Iterator[Problem]:
    """The SDK refuses a session whose current agent shows two tools under one name
    (`validate_realtime_tool_names`, agents/realtime/_tool_validation.py: UserError): the
    agent's own tools and handoffs, and, for the session's first agent, the first
    session.update's (`_starting_tool_names`). A name made from a masked value is `***`."""
    first: dict[str, ToolName] = {}
    for tool in names:
        earlier = first.get(tool.name)
        if earlier is not None:
            shown = MASK if tool.hidden or earlier.hidden else repr(tool.name)
            yield Problem(tool.path, "graph/duplicate-tool-name",
                          f"registers the tool name {shown}, as {render_path(earlier.path)} "
                          "does: the SDK refuses an agent with two tools of one name when it "
                          "becomes current (UserError: Duplicate Realtime tool name)",
                          None, "rename one: the target's agent.name, or tool_name_override")
        else:
            first[tool.name] = tool


def _initial_agent_settings(start: str, nodes: Mapping[str, Node],
                            severity: Severity) -> Iterator[Problem]:
    """`model_config.initial_model_settings.{instructions, tools, handoffs}` apply to the
    first session.update only: on every handoff and `update_agent` the SDK rebuilds them from
    the agent (session.py, `_get_updated_model_settings_from_agent` with starting_settings
    None). The prompt stays in the base settings and is replaced only by an agent's own."""
    document = nodes[start].document
    settings = get(document, MODEL)
    if not isinstance(settings, Mapping) or not any(key in settings for key in AGENT_OWNED):
        return
    back = way_back(start, nodes)
    part = takes_part(document)
    agent_name = nodes[start].shown_name()
    for key in AGENT_OWNED:
        if key not in settings:
            continue
        own = get(document, ("agent", key)) is not MISSING
        if key == "prompt" and not own:
            continue  # kept in the base settings: the agent has no prompt to replace it
        path = (*MODEL, key)
        fix = f"move it to agent.{key}"
        if back:
            yield Problem(path, "lint/lost-after-handoff",
                          f"is lost after the first handoff back to {agent_name!r} "
                          f"({' -> '.join(back)}): initial_model_settings apply to the first "
                          f"session.update only, then the SDK sends the agent's own {key}",
                          None, fix, "error")
        elif part:
            yield Problem(path, "lint/lost-after-handoff",
                          "is lost after the first handoff back to this agent (or "
                          "update_agent): initial_model_settings apply to the first "
                          f"session.update only, then the SDK sends the agent's own {key}",
                          None, fix, severity)
        elif own:
            yield Problem(path, "lint/lost-after-handoff",
                          f"replaces agent.{key} in the first session.update only; after "
                          f"update_agent the SDK sends agent.{key}", None,
                          f"keep one: agent.{key}", severity)


__all__ = ["Closure", "Finding", "Node", "closure", "display_name", "handoff_tool_name",
           "member_findings", "start_findings", "targets"]

"""Agent graphs in profiles, as the core loader sees them (no SDK): the `agent:` section in
every layer and input channel, the graph a profile reaches through handoffs, and its rules —
unknown agents, broken targets, duplicate tool names, and agent-owned settings that
`initial_model_settings` would lose after a handoff back."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import Tree
from hypothesis import given
from hypothesis import strategies as st

from realtime_profiles import Loader, ProfileValidationError
from realtime_profiles._graph import handoff_tool_name
from realtime_profiles.cli import main

ENV = {"OPENAI_API_KEY": "k"}

GRAPH = {
    "env/dev.yaml": "{}\n",
    "agents/triage.yaml": """
        agent:
          name: Triage Agent
          instructions: You are the triage agent.
          tools: [get_weather]
          handoffs: [faq, seats]
        """,
    "agents/faq.yaml": """
        agent:
          name: FAQ Agent
          handoff_description: Answers airline questions.
          instructions: You are the FAQ agent.
          tools: [faq_lookup_tool]
          handoffs: [triage]
        """,
    "agents/seats.yaml": """
        agent:
          name: Seat Booking Agent
          instructions: You are the seat agent.
          tools: [update_seat]
          handoffs: [triage]
        """,
}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def rendered(problems: object) -> list[str]:
    return [p.render() for p in problems]  # type: ignore[attr-defined]


def test_the_agent_section_is_emitted_with_its_graph(tree: Tree) -> None:
    root = tree(GRAPH)
    profile = Loader(root, environ=ENV).load("triage", "dev")
    assert profile.agent == "triage"
    assert profile.agent_config == {"name": "Triage Agent",
                                    "instructions": "You are the triage agent.",
                                    "tools": ["get_weather"], "handoffs": ["faq", "seats"]}
    assert profile.document()["agent"] == profile.agent_config
    assert sorted(profile.graph) == ["faq", "seats"]
    assert profile.graph["faq"].config["handoff_description"] == "Answers airline questions."
    assert profile.graph["seats"].env == "dev"
    assert profile.graph["faq"].explain("agent.tools").writes[-1].mark.line == 5


def test_a_section_without_name_is_the_profiles_agent(tree: Tree) -> None:
    root = tree({"agents/faq.yaml": "agent:\n  instructions: Answer.\n"})
    assert Loader(root, environ=ENV).load("faq").agent_config["name"] == "faq"
    plain = tree({"agents/plain.yaml": "run_config: {}\n"})
    assert Loader(plain, environ=ENV).load("plain").agent_config == {}


def test_every_layer_and_channel_writes_the_agent_section(tree: Tree,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    root = tree({
        "base.yaml": "agent:\n  mcp_config: {convert_schemas_to_strict: true}\n",
        "env/dev.yaml": "agent:\n  tools: [base_tool]\n",
        "agents/a.yaml": "agent:\n  instructions: ${file:prompts/a.md}\n  tools+: [a_tool]\n",
        "agents/a/dev.yaml": "agent:\n  tools+: [dev_tool]\n",
        "local.yaml": "agent:\n  handoff_description: from local\n",
        "prompts/a.md": "From the prompt file.\n",
    })
    environ = {**ENV, "REALTIME_PROFILES__AGENT__NAME": "Agent A"}
    profile = Loader(root, environ=environ).load("a", "dev", ["agent.tools+=[cli_tool]"])
    assert profile.agent_config == {
        "mcp_config": {"convert_schemas_to_strict": True},
        "tools": ["base_tool", "a_tool", "dev_tool", "cli_tool"],
        "instructions": "From the prompt file.", "handoff_description": "from local",
        "name": "Agent A"}
    explained = Loader(root, environ=environ).explain("a", "dev", "agent.name")
    assert "environment variable REALTIME_PROFILES__AGENT__NAME" in explained.render()


def test_an_unknown_agent_is_a_located_error_with_did_you_mean(tree: Tree) -> None:
    root = tree({**GRAPH, "agents/triage.yaml": """
        agent:
          handoffs: [faq, seatz]
        """})
    with pytest.raises(ProfileValidationError) as info:
        Loader(root, environ=ENV).load("triage", "dev")
    assert rendered(info.value.problems) == [
        "profiles/agents/triage.yaml:2:19: agent.handoffs[1]: hands off to 'seatz', which is "
        "not an agent of this tree (did you mean 'seats'? Handoffs name another profile's "
        "agent (agents/<name>.yaml), or {handoff: <tool name>} for a registered Handoff)"]
    code, out, err = run("validate")
    assert code == 1
    # faq and seats hand off to triage: their graphs are broken too, and say so
    assert "agent.handoffs[1]: hands off to 'seatz'" in err
    assert err.rstrip().endswith("[faq@dev, seats@dev, triage@dev]")
    assert out == "3 profiles checked: 0 valid, 3 invalid; 1 error, 0 warnings\n"


def test_an_unknown_agent_without_a_close_name_lists_the_agents(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "agent:\n  handoffs: [{agent: zzz}]\n",
                 "agents/b.yaml": "{}\n"})
    problems = Loader(root, environ=ENV).check("a").problems
    assert rendered(problems) == [
        "profiles/agents/a.yaml:2:15: agent.handoffs[0].agent: hands off to 'zzz', which is "
        "not an agent of this tree (agents of this tree: a, b; handoffs name another "
        "profile's agent (agents/<name>.yaml), or {handoff: <tool name>} for a registered "
        "Handoff)"]


def test_a_target_that_does_not_validate_breaks_the_graph(tree: Tree) -> None:
    tree({**GRAPH, "agents/seats.yaml": """
        agent:
          name: Seat Booking Agent
          hooks: my_hooks
        """})
    code, _, err = run("validate", "--env", "dev")
    assert code == 1
    assert ("profiles/agents/seats.yaml:3:3: agent.hooks: is code, not data: agent hooks are "
            "objects (and the realtime session does not call them in openai-agents 0.24) (set "
            "hooks on the agent in Python: profile.realtime_agent(registry).hooks = ...) "
            "[seats@dev]") in err
    assert ("profiles/agents/triage.yaml:5:19: agent.handoffs[1]: hands off to 'seats', "
            "whose profile seats@dev does not validate (see realtime-profiles validate seats "
            "--env dev) [faq@dev, triage@dev]") in err


def test_handing_off_to_a_profile_that_keeps_its_settings_in_initial_model_settings(
        tree: Tree) -> None:
    root = tree({**GRAPH, "agents/faq.yaml": """
        agent:
          handoffs: [triage]
        model_config:
          initial_model_settings:
            instructions: You are the FAQ agent.
            tools: [faq_lookup_tool]
        """})
    problems = Loader(root, environ=ENV).check("triage", "dev").problems
    assert rendered(problems) == [
        "profiles/agents/triage.yaml:5:14: agent.handoffs[0]: hands off to 'faq', which keeps "
        "its instructions and tools in model_config.initial_model_settings: those apply only "
        "when a session starts with 'faq', so after this handoff it has none (move them to "
        "agent.instructions, agent.tools in faq's profile)"]


def test_initial_agent_settings_in_a_graph_that_hands_back_are_an_error(tree: Tree) -> None:
    root = tree({**GRAPH, "agents/triage.yaml": """
        agent:
          name: Triage Agent
          handoffs: [faq, seats]
        model_config:
          initial_model_settings:
            instructions: You are the triage agent.
            tools: [get_weather]
            voice: marin
        """})
    problems = Loader(root, environ=ENV).check("triage", "dev").problems
    lost = [p for p in problems if p.code == "lint/lost-after-handoff"]
    assert rendered(lost) == [
        f"profiles/agents/triage.yaml:{line}:5: model_config.initial_model_settings.{key}: is "
        "lost after the first handoff back to 'Triage Agent' (triage -> faq -> triage): "
        "initial_model_settings apply to the first session.update only, then the SDK sends "
        f"the agent's own {key} (move it to agent.{key})"
        for line, key in ((6, "instructions"), (7, "tools"))]
    assert all(p.severity == "error" for p in lost)
    # ...and FAQ and seats, handing back, reach a triage agent without them
    assert [(p.code, p.mark.render() if p.mark else None) for p in problems
            if p not in lost] == [("graph/target-settings", "profiles/agents/faq.yaml:6:14"),
                                  ("graph/target-settings", "profiles/agents/seats.yaml:5:14")]


def test_initial_agent_settings_warn_when_the_agent_only_hands_off(tree: Tree) -> None:
    root = tree({
        "agents/front.yaml": """
            agent:
              handoffs: [{handoff: transfer_to_billing}]
            model_config:
              initial_model_settings:
                instructions: Route callers.
            """,
        "agents/solo.yaml": """
            agent:
              instructions: From the agent.
            model_config:
              initial_model_settings:
                instructions: From the model config.
                prompt: {id: pmpt_1}
            """,
        "agents/plain.yaml": """
            model_config:
              initial_model_settings:
                instructions: The one-agent pattern, still fine.
                prompt: {id: pmpt_1}
            """})
    loader = Loader(root, environ=ENV)
    front = loader.check("front").problems
    assert rendered(front) == [
        "profiles/agents/front.yaml:5:5: warning: model_config.initial_model_settings."
        "instructions: is lost after the first handoff back to this agent (or update_agent): "
        "initial_model_settings apply to the first session.update only, then the SDK sends "
        "the agent's own instructions (move it to agent.instructions)"]
    assert rendered(loader.check("solo").problems) == [
        "profiles/agents/solo.yaml:5:5: warning: model_config.initial_model_settings."
        "instructions: replaces agent.instructions in the first session.update only; after "
        "update_agent the SDK sends agent.instructions (keep one: agent.instructions)"]
    assert loader.check("plain").problems == ()
    assert [p.severity for p in loader.check("front", strict=True).problems] == ["error"]
    assert Loader(root, environ=ENV, checks=()).check("front").problems == ()


def test_duplicate_tool_names_are_refused_as_the_sdk_would(tree: Tree) -> None:
    root = tree({**GRAPH, "agents/seats.yaml": "agent:\n  name: faq agent\n",
                 "agents/triage.yaml": """
        agent:
          tools: [transfer_to_faq_agent_2]
          handoffs:
            - faq
            - seats
            - {agent: seats, is_enabled: false}
            - {agent: seats, tool_name_override: transfer_to_faq_agent_2}
        """})
    problems = Loader(root, environ=ENV).check("triage", "dev").problems
    assert rendered(problems) == [
        "profiles/agents/triage.yaml:5:7: agent.handoffs[1]: registers the tool name "
        "'transfer_to_faq_agent', as agent.handoffs[0] does: the SDK refuses an agent with "
        "two tools of one name when it becomes current (UserError: Duplicate Realtime tool "
        "name) (rename one: the target's agent.name, or tool_name_override)",
        "profiles/agents/triage.yaml:7:22: agent.handoffs[3].tool_name_override: registers "
        "the tool name 'transfer_to_faq_agent_2', as agent.tools[0] does: the SDK refuses an "
        "agent with two tools of one name when it becomes current (UserError: Duplicate "
        "Realtime tool name) (rename one: the target's agent.name, or tool_name_override)"]


def test_a_handoff_mapping_names_one_target(tree: Tree) -> None:
    root = tree({"agents/a.yaml": """
        agent:
          handoffs:
            - {}
            - {agent: a, handoff: transfer_to_x}
            - {handoff: transfer_to_y, tool_name_override: y}
        """})
    problems = Loader(root, environ=ENV).check("a").problems
    assert [(p.path, p.message) for p in problems] == [
        ("agent.handoffs[0]", "names neither agent nor handoff"),
        ("agent.handoffs[1]", "names both agent and handoff"),
        ("agent.handoffs[2].tool_name_override", "cannot be set on a registered Handoff"),
    ]


def test_overrides_apply_to_the_profile_they_are_given_for(tree: Tree) -> None:
    root = tree(GRAPH)
    profile = Loader(root, environ=ENV).load("triage", "dev",
                                             ["agent.instructions=Overridden."])
    assert profile.agent_config["instructions"] == "Overridden."
    assert profile.graph["faq"].config["instructions"] == "You are the FAQ agent."


def test_an_edited_target_is_seen_by_a_cached_graph(tree: Tree) -> None:
    root = tree(GRAPH)
    loader = Loader(root, environ=ENV)
    assert loader.load("triage", "dev").graph["faq"].config["tools"] == ["faq_lookup_tool"]
    faq = Path(root / "agents" / "faq.yaml")
    faq.write_text(faq.read_text().replace("faq_lookup_tool", "faq_search"))
    assert loader.load("triage", "dev").graph["faq"].config["tools"] == ["faq_search"]
    faq.write_text("agent:\n  handoffs: [nobody]\n")
    assert not loader.check("triage", "dev").ok


def test_the_graph_a_caller_gets_is_its_own_copy(tree: Tree) -> None:
    root = tree(GRAPH)
    loader = Loader(root, environ=ENV)
    first = loader.load("triage", "dev")
    first.graph["faq"].config["tools"].append("mutated")
    first.agent_config["tools"].append("mutated")
    again = loader.load("triage", "dev")
    assert again.graph["faq"].config["tools"] == ["faq_lookup_tool"]
    assert again.agent_config["tools"] == ["get_weather"]


def test_cycles_load_each_profile_once(tree: Tree) -> None:
    root = tree({f"agents/a{i}.yaml":
                 f"agent:\n  handoffs: [a{(i + 1) % 30}, a{(i + 2) % 30}]\n"
                 for i in range(30)})
    profile = Loader(root, environ=ENV).load("a0")
    assert sorted(profile.graph) == sorted(f"a{i}" for i in range(1, 30))


@pytest.mark.parametrize("name", ["FAQ Agent", "Seat  Booking\tAgent", "Café-Bar 2", "a.b/c",
                                  "ÄÖÜ", "x_Y_9"])
def test_handoff_tool_names_are_the_sdks(name: str) -> None:
    from agents.handoffs import Handoff
    from agents.realtime import RealtimeAgent

    assert handoff_tool_name(name) == Handoff.default_tool_name(RealtimeAgent(name=name))


def test_show_and_explain_speak_agent_keys(tree: Tree) -> None:
    tree(GRAPH)
    code, out, _ = run("show", "triage", "--env", "dev", "agent.tools+=[extra]")
    assert code == 0
    assert out.startswith("agent:\n  name: Triage Agent\n")
    assert "  - extra\n" in out
    code, out, _ = run("explain", "faq", "agent.handoff_description", "--env", "dev")
    assert code == 0
    assert out == ('agent.handoff_description = "Answers airline questions."\n'
                   '  1. profiles/agents/faq.yaml:3:3 (agent): "Answers airline questions."\n')


def test_duplicate_tool_names_of_the_first_session_update_too(tree: Tree) -> None:
    root = tree({"agents/a.yaml": """
        agent:
          tools: [lookup]
          handoffs: [{handoff: lookup}]
        model_config:
          initial_model_settings:
            tools: [escalate, other, escalate]
        """})
    problems = Loader(root, environ=ENV, checks=()).check("a").problems
    assert [(p.path, p.message.split(":")[0]) for p in problems] == [
        ("agent.handoffs[0].handoff", "registers the tool name 'lookup', as agent.tools[0] does"),
        ("model_config.initial_model_settings.tools[2]",
         "registers the tool name 'escalate', as "
         "model_config.initial_model_settings.tools[0] does")]


@given(edges=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=30),
       roots=st.lists(st.integers(0, 9), min_size=1, max_size=4))
def test_closures_are_what_each_node_reaches(edges: list[tuple[int, int]],
                                             roots: list[int]) -> None:
    """Tarjan's components against a plain search, on random graphs (cycles, self-loops,
    repeated edges), with the memo shared across roots as a validate run shares it."""
    from realtime_profiles._graph import Node, closure

    nodes = {i: Node(f"a{i}", {"agent": {"handoffs": [f"a{j}" for a, j in edges if a == i]}},
                     True) for i in range(10)}
    by_name = {n.agent: n for n in nodes.values()}
    memo: dict[Node, object] = {}
    for root in roots:
        reach = closure(nodes[root], lambda n: [by_name[m] for m in n.names], memo)  # type: ignore[arg-type]
        seen, todo = {root}, [root]
        while todo:
            current = todo.pop()
            for a, b in edges:
                if a == current and b not in seen:
                    seen.add(b)
                    todo.append(b)
        assert set(reach.nodes) == {f"a{i}" for i in seen}
        assert all(reach.nodes[name] is by_name[name] for name in reach.nodes)


def test_check_many_says_what_check_says(tree: Tree) -> None:
    root = tree({**GRAPH, "agents/lone.yaml": "agent:\n  handoffs: [faq, nobody]\n",
                 "agents/triage.yaml": GRAPH["agents/triage.yaml"] + """
        model_config:
          initial_model_settings:
            instructions: lost after a hand-back
        """})
    combos = [(a, "dev") for a in ("faq", "lone", "seats", "triage")]
    together = Loader(root, environ=ENV).check_many([(a, e, {}) for a, e in combos])
    alone = [Loader(root, environ=ENV).check(a, e) for a, e in combos]
    assert [r.problems for r in together] == [r.problems for r in alone]
    assert [sorted(r.profile.graph) if r.profile else None for r in together] == \
        [sorted(r.profile.graph) if r.profile else None for r in alone]
    assert [r.ok for r in together] == [True, False, True, False]


def test_a_graph_of_many_agents_hands_each_its_own_view(tree: Tree) -> None:
    root = tree({f"agents/a{i}.yaml": f"agent:\n  handoffs: [a{(i + 1) % 5}]\n"
                 for i in range(5)})
    results = Loader(root, environ=ENV).check_many([(f"a{i}", None, {}) for i in range(5)])
    for i, result in enumerate(results):
        assert result.profile is not None
        assert sorted(result.profile.graph) == sorted(f"a{j}" for j in range(5) if j != i)
        assert f"a{i}" not in result.profile.graph
        assert len(result.profile.graph) == 4


def test_explain_says_where_a_default_agent_name_comes_from(tree: Tree) -> None:
    root = tree({"agents/faq.yaml": "agent:\n  instructions: Answer.\n"})
    explained = Loader(root, environ=ENV).explain("faq", None, "agent.name")
    assert explained.render() == (
        'agent.name = "faq"\n'
        "  1. profiles/agents/faq.yaml:1:1 (agent): merged into\n"
        "  (no layer names the agent: the profile's agent name)")

"""Facets: groups of option files, chosen per load (request, bucket, default), checked as a
matrix by validate; weighted groups bucket deterministically."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from realtime_profiles import Loader, ProfileValidationError, UsageError
from realtime_profiles._facets import bucket_option
from realtime_profiles.cli import main
from tests.conftest import Tree

TREE = {
    "base.yaml": """
        facets:
          transport: {default: web}
          locale: {default: en}
        run_config:
          model_settings:
            voice: marin
            input_audio_format: pcm16
        """,
    "env/dev.yaml": "{}\n",
    "env/prod.yaml": "{}\n",
    "agents/web.yaml": "facets: {transport: {allowed: [web]}}\n",
    "agents/phone.yaml": "run_config: {model_settings: {input_audio_format: pcm16}}\n",
    "facets/transport/web.yaml": "{}\n",
    "facets/transport/sip.yaml": """
        run_config:
          model_settings:
            input_audio_format: g711_ulaw
            output_audio_format: g711_ulaw
        """,
    "facets/locale/en.yaml": "run_config: {model_settings: {input_audio_transcription: "
                             "{model: gpt-4o-mini-transcribe, language: en}}}\n",
    "facets/locale/fr.yaml": "run_config: {model_settings: {input_audio_transcription: "
                             "{model: gpt-4o-mini-transcribe, language: fr}, voice: cedar}}\n",
}


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--root", "profiles", *args], out, err)
    return code, out.getvalue(), err.getvalue()


def test_defaults_apply_when_no_facet_is_given(tree: Tree) -> None:
    profile = Loader(tree(TREE), environ={}).load("phone", "dev")
    assert profile.facets == {"locale": "en", "transport": "web"}
    assert profile.run_config["model_settings"]["input_audio_format"] == "pcm16"


def test_a_facet_wins_over_the_agents_general_settings(tree: Tree) -> None:
    profile = Loader(tree(TREE), environ={}).load("phone", "dev", facets={"transport": "sip"})
    settings = profile.run_config["model_settings"]
    assert (settings["input_audio_format"], settings["output_audio_format"]) == (
        "g711_ulaw", "g711_ulaw")
    assert profile.facets == {"locale": "en", "transport": "sip"}


def test_an_agent_refines_a_facet_option_for_itself(tree: Tree) -> None:
    root = tree({**TREE, "agents/phone/facets/locale/fr.yaml":
                 "run_config: {model_settings: {voice: sage}}\n"})
    loader = Loader(root, environ={})
    assert loader.load("phone", "dev", facets={"locale": "fr"}).run_config[
        "model_settings"]["voice"] == "sage"
    assert loader.load("web", "dev", facets={"locale": "fr"}).run_config[
        "model_settings"]["voice"] == "cedar"


@pytest.mark.parametrize(("facets", "message"), [
    pytest.param({"transprt": "sip"}, "unknown facet group 'transprt' (did you mean "
                 "'transport'?)", id="unknown-group"),
    pytest.param({"transport": "sp"}, "unknown option 'sp' of facet group 'transport' (did "
                 "you mean 'sip'?)", id="unknown-option"),
    pytest.param({"transport": "sip"}, "facet transport=sip is not allowed for this agent "
                 "(allowed: web)", id="not-allowed"),
])
def test_a_facet_the_tree_cannot_give_is_a_usage_error(tree: Tree, facets: dict[str, str],
                                                      message: str) -> None:
    with pytest.raises(UsageError) as caught:
        Loader(tree(TREE), environ={}).load("web", "dev", facets=facets)
    assert caught.value.message == message


def test_the_cli_takes_facets_and_refuses_unknown_ones(tree: Tree) -> None:
    tree(TREE)
    code, out, _ = run("show", "phone", "--env", "dev", "--facet", "transport=sip",
                       "--format", "json")
    assert code == 0
    assert json.loads(out)["run_config"]["model_settings"]["input_audio_format"] == "g711_ulaw"
    code, _, err = run("show", "phone", "--env", "dev", "--facet", "transprt=sip")
    assert code == 2 and "did you mean 'transport'?" in err
    code, _, err = run("validate", "--facet", "locale=de")
    assert code == 2 and "unknown option 'de' of facet group 'locale'" in err
    code, out, _ = run("explain", "phone", "model_settings.output_audio_format", "--env",
                       "dev", "--facet", "transport=sip")
    assert code == 0
    assert "profiles/facets/transport/sip.yaml:4:5 (facet)" in out


def test_validate_checks_every_combination_with_a_line_per_dimension(tree: Tree) -> None:
    tree(TREE)
    code, out, err = run("validate")
    assert code == 0, err
    # phone: 2 transports x 2 locales; web: 1 x 2; each in 2 environments
    assert out.splitlines() == [
        "agents: phone, web",
        "environments: dev, prod",
        "facet locale: en (6), fr (6)",
        "facet transport: sip (4), web (8)",
        "12 profiles checked: 12 valid, 0 invalid; 0 errors, 0 warnings",
    ]
    code, out, _ = run("validate", "--format", "json")
    payload = json.loads(out)
    labels = [p["label"] for p in payload["profiles"]]
    assert "phone@prod[locale=fr,transport=sip]" in labels and len(labels) == 12
    assert all(len(p["fingerprint"]) == 32 for p in payload["profiles"])
    # the fingerprint names the emitted configuration: the same document under the same
    # facets (web and phone, dev and prod emit the same here) has the same fingerprint
    by_facets = {}
    for p in payload["profiles"]:
        by_facets.setdefault(p["label"].split("[")[1], set()).add(p["fingerprint"])
    assert all(len(f) == 1 for f in by_facets.values())
    assert len({f for fs in by_facets.values() for f in fs}) == 4


def test_an_invalid_option_is_reported_once_with_every_combination_it_affects(
        tree: Tree) -> None:
    tree({**TREE, "facets/locale/fr.yaml": "run_config: {model_settings: {speed: 9}}\n"})
    code, _, err = run("validate", "phone", "--env", "prod")
    assert code == 1
    assert err.splitlines() == [
        "profiles/facets/locale/fr.yaml:1:31: run_config.model_settings.speed: 9 is greater "
        "than the maximum of 1.5 [phone@prod[locale=fr,transport=sip], "
        "phone@prod[locale=fr,transport=web]]"]


def test_a_matrix_over_the_limit_is_refused_with_its_size_or_sampled(tree: Tree) -> None:
    tree(TREE)
    code, _, err = run("validate", "--max-combinations", "5")
    assert code == 2
    assert "the matrix has 12 combinations, over --max-combinations 5" in err
    code, out, _ = run("validate", "--max-combinations", "5", "--sample", "5")
    assert code == 0
    assert out.splitlines()[-1] == ("5 profiles checked (an even sample of 12): 5 valid, "
                                    "0 invalid; 0 errors, 0 warnings")
    _, again, _ = run("validate", "--max-combinations", "5", "--sample", "5", "--format", "json")
    assert [p["label"] for p in json.loads(again)["profiles"]] == \
        [p["label"] for p in json.loads(run("validate", "--sample", "5", "--format",
                                            "json")[1])["profiles"]]


def test_a_sample_holds_every_agent_environment_and_option_it_can() -> None:
    """A sample first takes the cells that bring a value it lacks: with room for it, every
    agent, environment and facet option is checked at least once."""
    from realtime_profiles._matrix import Combination, sample

    cells = [Combination(agent, env, (("locale", locale), ("transport", transport)))
             for agent in ("a", "b", "c", "d") for env in ("dev", "prod", "staging")
             for locale in ("en", "fr") for transport in ("sip", "web")]
    chosen = sample(cells, 4)
    assert len(chosen) == 4 and chosen == [c for c in cells if c in chosen]
    assert {c.agent for c in chosen} == {"a", "b", "c", "d"}
    assert {c.env for c in chosen} == {"dev", "prod", "staging"}
    assert {f for c in chosen for f in c.facets} == {("locale", "en"), ("locale", "fr"),
                                                     ("transport", "sip"), ("transport", "web")}
    assert sample(cells, 4) == chosen  # the same cells on every run


@pytest.mark.parametrize(("files", "expected"), [
    pytest.param({"base.yaml": "facets: {transport: {default: tcp}}\n"},
                 "profiles/base.yaml:1:22: facets.transport.default: 'tcp' is not an option of "
                 "facet group 'transport' (files in facets/transport/: sip, web) (add "
                 "facets/transport/tcp.yaml, or use one of the options)", id="unknown-default"),
    pytest.param({"base.yaml": "facets: {transport: {}}\n"},
                 "profiles/base.yaml:1:10: facets.transport.default: facet group 'transport' "
                 "has no default "
                 "option (declare it in base.yaml: facets: {transport: {default: sip}})",
                 id="no-default"),
    pytest.param({"base.yaml": "facets: {transport: {default: web, weight: {web: 1}}}\n"},
                 "profiles/base.yaml:1:36: facets.transport.weight: unknown key (did you mean "
                 "'weights'?)", id="misspelled-field"),
    pytest.param({"base.yaml": "facets: {transport: {default: web}, lang: {default: en}}\n"},
                 "profiles/base.yaml:1:44: facets.lang: there is no facet group 'lang' (no "
                 "folder facets/lang/) (groups: transport)", id="unknown-group"),
    pytest.param({"base.yaml": "facets: {transport: {default: web}}\n",
                  "agents/a/dev.yaml": "facets: {transport: {default: sip}}\n"},
                 "profiles/agents/a/dev.yaml:1:1: facets: facets are declared in base.yaml, "
                 "env/<env>.yaml or agents/<agent>.yaml, not in a agent@env layer (move this "
                 "section to one of those files)", id="declared-too-late"),
    pytest.param({"base.yaml": "facets: {transport: {default: web, weights: {web: -1}}}\n"},
                 "profiles/base.yaml:1:36: facets.transport.weights: the weight of 'web' must "
                 "be an integer >= 0, got -1 (weights are relative: 90 and 10 split 90/10)",
                 id="negative-weight"),
])
def test_declaration_mistakes_are_located(tree: Tree, files: dict[str, str],
                                          expected: str) -> None:
    root = tree({"env/dev.yaml": "{}\n", "agents/a.yaml": "{}\n",
                 "facets/transport/web.yaml": "{}\n", "facets/transport/sip.yaml": "{}\n",
                 **files})
    result = Loader(root, environ={}, checks=()).check("a", "dev")
    assert [p.render() for p in result.problems] == [expected]


# -- weighted variants ---------------------------------------------------------------------

WEIGHTS = (("control", 90), ("new_voice", 10))


def test_a_bucket_always_gets_the_same_option() -> None:
    # pinned: a change of hash, encoding or formula moves callers between variants
    chosen = [bucket_option("variant", WEIGHTS, f"call-{i}") for i in range(100)]
    assert [i for i, option in enumerate(chosen) if option == "new_voice"] == [
        21, 29, 37, 42, 46, 57, 58, 70, 72, 88, 95]


def test_bucketing_is_the_same_in_other_processes_and_hash_seeds() -> None:
    probe = ("from realtime_profiles._facets import bucket_option\n"
             "print(''.join(bucket_option('variant', (('control', 90), ('new_voice', 10)), "
             "f'+1555{i:04d}')[0] for i in range(300)))")
    outputs = set()
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outputs.add(subprocess.run([sys.executable, "-c", probe], capture_output=True,
                                   text=True, env=env, check=True).stdout)
    here = "".join(bucket_option("variant", WEIGHTS, f"+1555{i:04d}")[0] for i in range(300))
    assert outputs == {here + "\n"}


def test_shares_follow_the_weights_over_ten_thousand_buckets() -> None:
    for weights in (WEIGHTS, (("a", 50), ("b", 30), ("c", 20)), (("x", 1), ("y", 1))):
        counts = Counter(bucket_option("g", weights, f"bucket-{i}") for i in range(10_000))
        total = sum(w for _, w in weights)
        for option, weight in weights:
            assert abs(counts[option] / 10_000 - weight / total) <= 0.015, (option, counts)


@pytest.mark.parametrize(("weight", "share"), [(30, 30 / 110), (10, 10 / 90), (0, 0.0)])
def test_a_weight_change_moves_only_the_buckets_it_must(weight: int, share: float) -> None:
    buckets = [f"caller-{i}" for i in range(10_000)]
    before = {b: bucket_option("g", (("a", 50), ("b", 30), ("c", 20)), b) for b in buckets}
    after = {b: bucket_option("g", (("a", 50), ("b", 30), ("c", weight)), b) for b in buckets}
    moved = [b for b in buckets if before[b] != after[b]]
    # only c's weight changed: a bucket moves only to c (c grew) or only from c (c shrank),
    # and just as many move as c's share changed by (no a <-> b shuffling)
    if weight > 20:
        assert all(after[b] == "c" for b in moved)
    else:
        assert all(before[b] == "c" for b in moved)
    assert abs(len(moved) / 10_000 - abs(share - 0.2)) <= 0.015


def test_loading_with_a_bucket_picks_the_weighted_option(tree: Tree) -> None:
    root = tree({**TREE,
                 "base.yaml": TREE["base.yaml"].replace(
                     "locale: {default: en}", "locale: {default: en}\n"
                     "          variant: {default: control, weights: {control: 90, "
                     "new_voice: 10}}"),
                 "facets/variant/control.yaml": "{}\n",
                 "facets/variant/new_voice.yaml": "run_config: {model_settings: {voice: ash}}\n"})
    loader = Loader(root, environ={})
    for i in range(40):
        bucket = f"call-{i}"
        profile = loader.load("phone", "dev", bucket=bucket)
        assert profile.facets["variant"] == bucket_option("variant", (("control", 90),
                                                                      ("new_voice", 10)), bucket)
        voice = profile.run_config["model_settings"]["voice"]
        assert voice == ("ash" if profile.facets["variant"] == "new_voice" else "marin")
    # an explicit choice wins over the bucket; no bucket: the default
    assert loader.load("phone", "dev", facets={"variant": "new_voice"},
                       bucket="call-0").facets["variant"] == "new_voice"
    assert loader.load("phone", "dev").facets["variant"] == "control"


def test_a_facet_file_with_an_error_fails_the_load(tree: Tree) -> None:
    root = tree({**TREE, "facets/transport/sip.yaml": "run_config: {model_settings: "
                                                     "{input_audio_format: ulaw}}\n"})
    with pytest.raises(ProfileValidationError, match=r"phone@dev\[locale=en,transport=sip\]"):
        Loader(root, environ={}).load("phone", "dev", facets={"transport": "sip"})


def test_a_tree_without_facets_has_none(tree: Tree) -> None:
    root = tree({"agents/a.yaml": "{}\n"})
    assert Loader(root, environ={}).load("a").facets == {}
    assert Path(root / "facets").exists() is False

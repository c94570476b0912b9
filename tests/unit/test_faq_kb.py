"""The knowledge base as shipped, and the checker's ability to catch each kind of problem."""
import shutil
from pathlib import Path

import pytest
import yaml

from bot.faq import compiler
from bot.faq.checker import check, near_pairs
from bot.faq.kb import load_kb, load_spec


def test_shipped_knowledge_base_passes_the_checker(kb, root):
    problems = check(kb, root / "faq", root / "data/nlu/faq.yml", heldout=[root / "tests/heldout"],
                     nlu_dir=root / "data/nlu")
    assert problems == []


def test_every_topic_of_the_shared_list_is_answered(kb, root):
    spec = load_spec(root / "faq")
    assert len(spec) == 78
    assert {t["id"] for t in spec} == set(kb.by_id())


def test_vendored_spec_matches_shared_copy(root):
    shared = root.parent / "shared" / "faq_topics.yml"
    if not shared.exists():
        pytest.skip("no shared/ beside this checkout")
    assert (root / "faq/spec/faq_topics.yml").read_bytes() == shared.read_bytes()


def test_compiled_file_has_every_intent_and_response(kb):
    data = yaml.safe_load(compiler.compile_kb(kb))
    intents = {block["intent"] for block in data["nlu"]}
    assert intents == {f"faq/{t.id}" for t in kb.topics}
    for topic in kb.topics:
        assert data["responses"][topic.response][0]["text"] == topic.answer
    assert compiler.compile_kb(kb) == compiler.compile_kb(kb)


@pytest.fixture
def sandbox(tmp_path, root):
    """A writable copy of faq/ and the generated file, to break on purpose."""
    shutil.copytree(root / "faq", tmp_path / "faq")
    generated = tmp_path / "faq.yml"
    compiler.write(load_kb(tmp_path / "faq"), generated)
    return tmp_path


def _edit(path: Path, fn):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _problems(sandbox, rebuild=True, heldout=()):
    kb = load_kb(sandbox / "faq")
    if rebuild:
        compiler.write(kb, sandbox / "faq.yml")
    return check(kb, sandbox / "faq", sandbox / "faq.yml", heldout=heldout)


def test_clean_copy_has_no_problems(sandbox):
    assert _problems(sandbox) == []


def test_missing_topic(sandbox):
    _edit(sandbox / "faq/contact.yml", lambda d: d["topics"].pop())
    assert any("topic missing" in p for p in _problems(sandbox))


def test_unknown_topic(sandbox):
    def add(d):
        d["topics"].append({**d["topics"][0], "id": "made_up_topic"})
    _edit(sandbox / "faq/contact.yml", add)
    assert any("unknown topic id" in p for p in _problems(sandbox))


def test_answer_missing_must_mention(sandbox):
    def strip(d):
        d["topics"][0]["answer"] = d["topics"][0]["answer"].replace("4000-955-988", "热线")
    _edit(sandbox / "faq/contact.yml", strip)
    assert any("lacks must_mention '4000-955-988'" in p for p in _problems(sandbox))


def test_too_few_examples(sandbox):
    _edit(sandbox / "faq/contact.yml", lambda d: d["topics"][0].update(examples=d["topics"][0]["examples"][:5]))
    assert any("need 12" in p for p in _problems(sandbox))


def test_near_identical_example_under_two_topics(sandbox):
    def copy(d):
        d["topics"][1]["examples"].append(d["topics"][0]["examples"][0] + "？")
    _edit(sandbox / "faq/contact.yml", copy)
    assert any("near-identical examples under two labels" in p for p in _problems(sandbox))


def test_stale_generated_file(sandbox):
    _edit(sandbox / "faq/contact.yml", lambda d: d["topics"][0]["examples"].append("热线到底是几号来着"))
    assert any("stale" in p for p in _problems(sandbox, rebuild=False))


def test_held_out_leak(sandbox, tmp_path):
    kb = load_kb(sandbox / "faq")
    leak = tmp_path / "heldout.yml"
    leak.write_text(yaml.safe_dump([{"text": kb.topics[0].examples[0], "expect": kb.topics[0].id}],
                                   allow_unicode=True), encoding="utf-8")
    assert any("leaks from training" in p for p in _problems(sandbox, heldout=[leak]))


def test_near_pairs_threshold():
    items = [("a", "个人备案需要准备哪些材料"), ("b", "个人备案需要准备哪些材料呢"), ("c", "管局审核要多久")]
    pairs = near_pairs(items)
    assert [(x[0], y[0]) for x, y in pairs] == [("a", "b")]

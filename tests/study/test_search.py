"""The Optuna search: seeded ask-and-tell in batches, independent of how the batches are run."""

from __future__ import annotations

from spinsyn.study import load_spec
from spinsyn.study.search import run_search

from .conftest import quick_toml

AXES = 'device.read_noise = {low = 0.001, high = 0.1, log = true}\nnetwork.epochs = [1, 2, 3]\n' \
       'export.tile = [[64, 64], [128, 128]]'


def _spec(tmp_path, batch: int):
    p = quick_toml(tmp_path, AXES, rule='[rule]\nsource = "published"\n', name=f"b{batch}.toml")
    p.write_text(p.read_text().replace('name = "quick"', f'mode = "optuna"\nsamples = 6\nseed = 7\nbatch = {batch}\n'
                                       'objectives = ["accuracy:max", "devices_per_synapse:min"]'))
    return load_spec(p)


def _fake_batches(spec):
    """Run the search with a made-up objective; returns every batch of trials it asked for."""
    batches = []

    def run_batch(trials):
        batches.append(trials)
        return {t.index: {"status": "failed" if t.index == 1 else "ok", "devices_per_synapse": 1.0,
                          "accuracy": 1.0 - abs(t.axes["device.read_noise"] - 0.01)} for t in trials}

    run_search(spec, run_batch)
    return batches


def test_search_is_seeded_batched_and_inside_the_axes(tmp_path):
    spec = _spec(tmp_path, 2)
    a, b = _fake_batches(spec), _fake_batches(spec)
    assert [len(x) for x in a] == [2, 2, 2]
    trials = [t for batch in a for t in batch]
    assert [t.index for t in trials] == list(range(6))
    assert [t.axes for t in trials] == [t.axes for batch in b for t in batch]  # same seed, same trials
    for t in trials:
        assert 0.001 <= t.axes["device.read_noise"] <= 0.1 and t.axes["network.epochs"] in (1, 2, 3)
        assert t.axes["export.tile"] in ((64, 64), (128, 128)) and t.settings["network.epochs"] == \
            t.axes["network.epochs"] and t.settings["rule.source"] == "published"
    assert len({t.axes["device.read_noise"] for t in trials}) == 6

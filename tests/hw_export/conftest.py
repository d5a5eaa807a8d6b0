"""Shared fixtures: tiny snn runs (trained through the CLI, a few seconds each, cached per session)."""

from pathlib import Path

import pytest


def train_tiny(out: Path, synapse: str, *extra: str) -> Path:
    from spinsyn.cli import main

    rc = main(["train", "--synapse", synapse, "--neurons", "6", "--n-train", "20", "--n-test", "10",
               "--n-assign", "20", "--out", str(out), "--quiet", *extra])
    assert rc == 0
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """``tiny_run("dw:16")`` -> run directory trained with that synapse (one per spec per session)."""
    cache: dict[str, Path] = {}
    root = tmp_path_factory.mktemp("runs")

    def get(synapse: str) -> Path:
        if synapse not in cache:
            cache[synapse] = train_tiny(root / synapse.replace(":", "_"), synapse)
        return cache[synapse]

    return get


@pytest.fixture(scope="session")
def train():
    """``train(out, synapse, *extra_cli_args)`` -> a freshly trained tiny run directory."""
    return train_tiny

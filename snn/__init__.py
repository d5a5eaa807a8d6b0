"""spinsyn.snn: hardware-aware Diehl & Cook (2015) spiking network, trained with the bi-sigmoid trace rule
or PostPre STDP on ideal, quantized, compound-MTJ or domain-wall synapses (numba CPU and torch engines).

Public API: :func:`train`, :func:`load_run`, :func:`evaluate`, :class:`TrainConfig`, :class:`TrainedNetwork`,
:class:`NetworkParams`, rule and synapse registries (:data:`RULES`, :data:`SYNAPSES`, :func:`parse_synapse`).
"""

from .network import TrainConfig, TrainedNetwork, evaluate, load_run, train
from .params import ExcParams, InhParams, NetworkParams
from .rules import RULES, BiSigmoidTrace, PostPre, make_rule
from .synapses import SYNAPSES, Compound, DomainWall, Ideal, Quantized, parse_synapse

__all__ = [
    "RULES",
    "SYNAPSES",
    "BiSigmoidTrace",
    "Compound",
    "DomainWall",
    "ExcParams",
    "Ideal",
    "InhParams",
    "NetworkParams",
    "PostPre",
    "Quantized",
    "TrainConfig",
    "TrainedNetwork",
    "evaluate",
    "load_run",
    "make_rule",
    "parse_synapse",
    "train",
]

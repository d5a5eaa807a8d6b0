"""spinsyn.snn: hardware-aware Diehl & Cook (2015) spiking network, trained with the bi-sigmoid trace rule
or PostPre STDP on ideal, quantized, compound-MTJ or domain-wall synapses (numba CPU and torch engines).

Public API: :func:`make_config`, :func:`train`, :class:`Trainer`, :func:`load_run`, :func:`evaluate`,
:func:`with_read_noise`, :func:`read_checkpoint`, :class:`TrainConfig`, :class:`TrainedNetwork`,
:class:`NetworkParams`, rule and synapse registries (:data:`RULES`, :data:`SYNAPSES`, :func:`make_rule`,
:func:`make_synapse`). Synapse specs and devices: ``spinsyn.devices.SynapseSpec`` / ``synapse_device``.
"""

from typing import TYPE_CHECKING

from spinsyn.lazyimport import lazy_package

if TYPE_CHECKING:  # loaded on first use (spinsyn.lazyimport.lazy_package): 'import spinsyn.<stage>.cli' stays light
    from .adc import AdcModel
    from .bindsnet_file import UnsafePickleError, read_bindsnet_file
    from .bindsnet_import import import_bindsnet, load_bindsnet
    from .checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, checkpoint_path, read_checkpoint
    from .config import TrainConfig, make_config, validate_config
    from .network import TrainedNetwork, evaluate, load_run, with_read_noise
    from .nir_graph import export_nir, nir_graph
    from .params import ExcParams, InhParams, NetworkParams
    from .rules import RULES, BiSigmoidTrace, CompiledRule, PostPre, SweepTrace, make_rule
    from .synapses import SYNAPSES, Compound, DomainWall, Ideal, Quantized, make_synapse, synapse_from_record
    from .trainer import Trainer, train

__getattr__, __dir__ = lazy_package(__name__)

__all__ = [
    "AdcModel",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "RULES",
    "SYNAPSES",
    "BiSigmoidTrace",
    "CompiledRule",
    "Compound",
    "DomainWall",
    "ExcParams",
    "Ideal",
    "InhParams",
    "NetworkParams",
    "PostPre",
    "Quantized",
    "SweepTrace",
    "TrainConfig",
    "TrainedNetwork",
    "Trainer",
    "UnsafePickleError",
    "evaluate",
    "export_nir",
    "import_bindsnet",
    "load_bindsnet",
    "nir_graph",
    "read_bindsnet_file",
    "load_run",
    "make_config",
    "make_rule",
    "make_synapse",
    "checkpoint_path",
    "read_checkpoint",
    "synapse_from_record",
    "train",
    "validate_config",
    "with_read_noise",
]

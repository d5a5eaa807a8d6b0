"""Convolutional STDP network with a reward-modulated (R-STDP) decision layer (Mozafari et al. 2019; issue 27)."""

from .coding import dog_bank, dog_filter, dog_kernel, encode_images, intensity_to_latency
from .config import ConvConfig
from .layers import (
    ConvPotentials,
    conv_step,
    k_winners,
    pad_times,
    pointwise_inhibition,
    pool_times,
    potential_binary,
    receptive_field,
    stdp_dw,
    winner_binary,
)
from .network import (
    ConvNetwork,
    EpochHook,
    decide,
    decide_all,
    decision_weights,
    encode,
    evaluate_conv,
    init_network,
    load_conv,
    predict_conv,
    propagate,
    save_conv,
    train_conv,
)
from .updates import LayerWeights, apply_update

__all__ = [
    "ConvConfig", "ConvNetwork", "ConvPotentials", "EpochHook", "LayerWeights", "apply_update", "conv_step", "decide",
    "decide_all", "decision_weights", "potential_binary", "winner_binary",
    "dog_bank", "dog_filter", "dog_kernel", "encode", "encode_images", "evaluate_conv", "init_network",
    "intensity_to_latency", "k_winners", "load_conv", "pad_times", "pointwise_inhibition", "pool_times",
    "predict_conv", "propagate", "receptive_field", "save_conv", "stdp_dw", "train_conv",
]

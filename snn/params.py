"""Network parameters of Diehl & Cook (2015) as in BindsNET's ``DiehlAndCook2015`` (units in field names).

Sources: P. U. Diehl, M. Cook, "Unsupervised learning of digit recognition using spike-timing-dependent
plasticity", Front. Comput. Neurosci. 9:99 (2015); BindsNET 0.3.4 ``bindsnet/models/models.py``
(``DiehlAndCook2015``) and ``examples/mnist/eth_mnist.py`` (intensity 128, 250 ms per image, dt 1 ms).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .lc import LocalGeometry

N_INPUT = 784


@dataclass(frozen=True)
class ExcParams:
    """Excitatory adaptive-threshold LIF (BindsNET ``DiehlAndCookNodes``).

    Per step: ``v = rest + (v - rest)·exp(-dt/tau)``; ``theta *= exp(-dt/tau_theta)`` (learning only);
    ``v += I`` unless refractory; spike if ``v >= thresh + theta``; then ``v = reset``, refractory,
    ``theta += theta_plus`` (learning only). At most one neuron emits a spike per step ("one_spike").
    """

    v_rest_mV: float = -65.0
    v_reset_mV: float = -60.0
    v_thresh_mV: float = -52.0
    refrac_ms: float = 5.0
    tau_ms: float = 100.0
    theta_plus_mV: float = 0.05
    tau_theta_ms: float = 1e7


@dataclass(frozen=True)
class InhParams:
    """Inhibitory LIF (BindsNET ``LIFNodes`` in ``DiehlAndCook2015``)."""

    v_rest_mV: float = -60.0
    v_reset_mV: float = -45.0
    v_thresh_mV: float = -40.0
    refrac_ms: float = 2.0
    tau_ms: float = 10.0


@dataclass(frozen=True)
class NetworkParams:
    """Whole network: sizes, input coding, fixed connections, weight bounds and normalisation."""

    n_neurons: int = 100
    intensity_Hz: float = 128.0  # rate of a white pixel (pixel/255 · intensity)
    time_ms: float = 250.0  # presentation per image
    dt_ms: float = 1.0
    w_exc_inh_mV: float = 22.5  # exc -> inh, one-to-one
    w_inh_exc_mV: float = 120.0  # inh -> exc, all-to-all but self (sign: inhibitory)
    w_init_max: float = 0.3  # w ~ w_init_max · U(0, 1)
    norm: float | None = 78.4  # per-neuron sum of input weights after each update; None = off
    exc: ExcParams = field(default_factory=ExcParams)
    inh: InhParams = field(default_factory=InhParams)
    #: locally connected network (``--network lc``, :mod:`spinsyn.snn.lc`): input mask and per-location inhibition;
    #: None = Diehl & Cook (dense input, all-to-all inhibition)
    lc: LocalGeometry | None = None

    @property
    def steps(self) -> int:
        return int(round(self.time_ms / self.dt_ms))

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["lc"] is None:  # Diehl & Cook configs store the same JSON as before the LC network existed
            del d["lc"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> NetworkParams:
        d = dict(d)
        d["exc"] = ExcParams(**d.get("exc", {}))
        d["inh"] = InhParams(**d.get("inh", {}))
        if d.get("lc") is not None:
            d["lc"] = LocalGeometry(**d["lc"])
        return cls(**d)

    def packed(self) -> np.ndarray:
        """Float64 vector of per-step constants used by the numba and torch kernels (see ``P_*``)."""
        e, i, dt = self.exc, self.inh, self.dt_ms
        return np.array(
            [
                e.v_rest_mV, e.v_reset_mV, e.v_thresh_mV, round(e.refrac_ms / dt), math.exp(-dt / e.tau_ms),
                e.theta_plus_mV, math.exp(-dt / e.tau_theta_ms),
                i.v_rest_mV, i.v_reset_mV, i.v_thresh_mV, round(i.refrac_ms / dt), math.exp(-dt / i.tau_ms),
                self.w_exc_inh_mV, self.w_inh_exc_mV,
            ],
            dtype=np.float64,
        )


# indices into NetworkParams.packed()
(P_E_REST, P_E_RESET, P_E_THRESH, P_E_REFRAC, P_E_DECAY, P_THETA_PLUS, P_THETA_DECAY,
 P_I_REST, P_I_RESET, P_I_THRESH, P_I_REFRAC, P_I_DECAY, P_W_EI, P_W_IE) = range(14)

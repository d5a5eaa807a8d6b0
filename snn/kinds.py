"""Integer codes the numba and torch kernels branch on, named once here (numba reads module-level ints as
compile-time constants). Synapse kinds of the pipeline are ``spinsyn.devices.KIND_*`` strings; each snn synapse
strategy maps its kind to one of the update schemes below (:attr:`spinsyn.snn.synapses.Synapse.kind`)."""

#: learning rules (``CompiledRule.kind``)
RULE_TRACE = 0  # trace rule: f(Δt) table at post spikes (bi-sigmoid fit or device sweep)
RULE_POSTPRE = 1  # BindsNET PostPre: exponential pre/post traces

#: synapse update schemes (``Synapse.kind``)
SYN_CONTINUOUS = 0  # ideal: the weight is stored as a float
SYN_LEVELS = 1  # quantized:L, dw:L: one of L equally spaced levels
SYN_COMPOUND = 2  # compound:N: k of N binary MTJs in P
SYN_GRADED = 3  # graded:P: ΔW as pulses along the device's LTP/LTD curves (devices/graded.py)
#: schemes whose weight is stored as a float in [0, 1] (no levels, no per-synapse cell conductances)
SYN_FLOAT_KINDS = (SYN_CONTINUOUS, SYN_GRADED)

"""spinsyn: spintronic synapse co-simulation, from SPICE device sweeps to chip programming files.

Stages (each a subpackage, each talking to the next only through a documented file):
``spinsyn.devices`` -> sweep HDF5 -> ``spinsyn.fitting`` -> rule JSON -> ``spinsyn.snn`` -> checkpoint
-> ``spinsyn.hw_export`` -> chip files. This core package holds the CLI, file conventions, the ngspice
wrapper, the MNIST loader and the end-to-end pipeline.
"""

__version__ = "0.1.0"

"""spinsyn.fitting: learning-rule fits of device data (sweep HDF5 or CSV) -> ``spinsyn-rule`` JSON.

Public API: :class:`Rule`, :func:`load_rule` (the one reader of rule JSON), :func:`save_rule`,
:func:`published_rule`, the family registry :data:`FAMILIES`; :func:`fit_file` (what ``spinsyn fit`` does:
sweep/CSV file -> rule JSON + figure), :func:`fit`, :func:`read_input` (sweep HDF5 via
``spinsyn.devices.read_sweep``, or CSV) and :class:`FitData`/:class:`FitResult`.
"""

from typing import TYPE_CHECKING

from spinsyn.lazyimport import lazy_package

if TYPE_CHECKING:  # loaded on first use (spinsyn.lazyimport.lazy_package): 'import spinsyn.<stage>.cli' stays light
    from .fit import FitResult, describe_fit, fit, fit_file
    from .inputs import FitData, read_input
    from .rules import (
        FAMILIES,
        PUBLISHED_PARAMS,
        Family,
        ParamInfo,
        Rule,
        get_family,
        load_rule,
        published_rule,
        register_family,
        save_rule,
    )

__getattr__, __dir__ = lazy_package(__name__)

__all__ = [
    "FitData", "FitResult", "describe_fit", "fit", "fit_file", "read_input",
    "FAMILIES", "PUBLISHED_PARAMS", "Family", "ParamInfo", "Rule", "get_family", "load_rule",
    "published_rule", "register_family", "save_rule",
]

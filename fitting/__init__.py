"""spinsyn.fitting: learning-rule fits of device data (sweep HDF5 or CSV) -> ``spinsyn-rule`` JSON.

Public API: :class:`Rule`, :func:`load_rule`, :func:`save_rule`, :func:`published_rule`, the family
registry :data:`FAMILIES`; fitting and calibration functions are added by ``fit``/``calibrate``.
"""

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

__all__ = [
    "FAMILIES", "PUBLISHED_PARAMS", "Family", "ParamInfo", "Rule", "get_family", "load_rule",
    "published_rule", "register_family", "save_rule",
]

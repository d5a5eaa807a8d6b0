"""spinsyn.fitting"""

"""spinsyn.snn"""

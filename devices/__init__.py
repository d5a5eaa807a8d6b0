"""spinsyn.devices"""

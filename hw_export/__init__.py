"""spinsyn.hw_export"""

"""Test stand-in reproducing BindsNET 0.3.x class paths (not BindsNET)."""

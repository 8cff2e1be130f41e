"""Rendering: what swiftkit runs, as ms-swift command lines (nothing here runs anything)."""

"""The contract between repo-sign and tufpip: how a Python package index is laid out as TUF targets.

``targetpaths`` names every target (project pages, distributions, their
core metadata) and parses distribution file names; ``dependencies`` is the
rule every signed file obeys (no dependency names a direct URL). Both tools
import this package; it imports neither of them, only ``packaging``.
"""

"""tfwidget: watch and analyse TrueFoundry Agent Harness turns live in Jupyter."""

__version__ = "0.1.0"

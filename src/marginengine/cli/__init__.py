"""The command-line face: ``marginengine simulate | health | replay``."""

"""The headless core of Model Inspector.

Everything here works without Qt: loading a model, its module tree, Identity
edits with undo, probed runs, meta-device shapes, torchinfo summaries and the
JSON report. The GUI and the command line are two faces of this package.
"""

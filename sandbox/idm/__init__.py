"""The sandbox IDM-compatible server: ``python -m sandbox.idm`` (see server.py and sandbox/README.md)."""

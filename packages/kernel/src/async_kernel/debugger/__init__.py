"""The Jupyter debugger protocol (``debug_request``) over debugpy."""

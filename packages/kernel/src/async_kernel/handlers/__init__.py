"""Request handlers, one module per family; each gets narrow collaborators, never the kernel."""

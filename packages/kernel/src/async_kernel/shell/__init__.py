"""The IPython shell that runs cells, its output streams, stdin, history and subshell state."""

#!/usr/bin/env bash
# Kernel settings written into a spec, tried in a throwaway prefix.
set -euo pipefail
PREFIX=$(mktemp -d)

async-kernel --version
async-kernel install --prefix "$PREFIX" --name tuned --profile work --quiet=false \
    --InteractiveShell.ast_node_interactivity=all
cat "$PREFIX/share/jupyter/kernels/tuned/kernel.json"
async-kernel --help-all | grep -A2 -- "--InteractiveShellApp.exec_lines="

rm -r "$PREFIX"

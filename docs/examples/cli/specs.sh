#!/usr/bin/env bash
# The spec commands, tried in a throwaway prefix: nothing outside it changes.
set -euo pipefail
PREFIX=$(mktemp -d)

async-kernel install --prefix "$PREFIX"                        # "async", asyncio
async-kernel install --prefix "$PREFIX" --name async-trio --backend trio
async-kernel install --prefix "$PREFIX" --name big --display-name "Python 3 (big)" \
    --env OMP_NUM_THREADS=4
async-kernel -a short-form --interface.backend=trio --prefix "$PREFIX"  # the short form
async-kernel list --prefix "$PREFIX"
cat "$PREFIX/share/jupyter/kernels/big/kernel.json"
async-kernel uninstall --prefix "$PREFIX" --name big

rm -r "$PREFIX"

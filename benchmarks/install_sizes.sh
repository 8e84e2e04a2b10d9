#!/usr/bin/env bash
# Installed size of each edgeir install: a fresh venv per extra (from this checkout), then
# du of its site-packages, pip and setuptools included (the "empty" row shows their share).
# Usage: bash benchmarks/install_sizes.sh [EXTRA ...]   (default: the device installs)
set -euo pipefail
cd "$(dirname "$0")/.."
extras=("$@")
(( ${#extras[@]} )) || extras=(empty base ort ov trt images "ort,ov")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '| install | site-packages (MB) |\n|---|---|\n'
for extra in "${extras[@]}"; do
    venv="$work/${extra//,/-}"
    python3 -m venv "$venv"
    case $extra in
        empty) ;;
        base) "$venv/bin/pip" install -q . ;;
        *) "$venv/bin/pip" install -q ".[$extra]" ;;
    esac
    printf '| %s | %s |\n' "$extra" "$(du -sm "$venv"/lib/python3*/site-packages | cut -f1)"
done

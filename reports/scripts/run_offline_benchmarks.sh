#!/usr/bin/env bash
# Every benchmark that runs offline, at this machine's budget, one after the other (they share the 2 cores).
# Each writes its report to reports/benchmarks/<name>-small/. Rerunning continues a killed benchmark.
#   bash reports/scripts/run_offline_benchmarks.sh [ganbench executable] [reports folder]
set -euo pipefail
GANBENCH=${1:-ganbench}
OUT=${2:-reports/benchmarks}
for name in ring8_pacgan grid25_pacgan stacked_digits digits_losses; do
  start=$(date +%s)
  "$GANBENCH" reproduce "$name" --budget small --out "$OUT/$name-small"
  echo "$name: $(( $(date +%s) - start )) s wall" | tee -a "$OUT/wall_times.txt"
done

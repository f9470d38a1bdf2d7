#!/bin/sh
# Peak memory of replaying a generated 10-million-row trace in the Azure LLM 2023 format.
#
#   benches/scripts/trace-memory.sh [ROWS]
#
# Writes the trace (about 480 MB) and a scenario into a temporary folder, runs
# `capsim run` on it under /usr/bin/time -v, prints the maximum resident set size and removes the
# folder. Build first: cargo build --release.
set -eu
rows=${1:-10000000}
root=$(cd "$(dirname "$0")/../.." && pwd)
capsim="$root/target/release/capsim"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# 1,000 requests per second from 2023-11-16 00:00:00, with a jitter below a millisecond.
awk -v n="$rows" 'BEGIN {
  print "TIMESTAMP,ContextTokens,GeneratedTokens";
  for (i = 0; i < n; i++) {
    us = i * 1000 + (i * 7919) % 1000;
    s = int(us / 1000000); f = us % 1000000;
    d = 16 + int(s / 86400); s = s % 86400;
    printf "2023-11-%02d %02d:%02d:%02d.%06d0,%d,%d\n", d, int(s / 3600), int(s / 60) % 60, s % 60, f, 200 + i % 3000, 1 + i % 200;
  }
}' > "$dir/trace.csv"
secs=$(( rows / 1000 + 60 ))
cat > "$dir/s.toml" <<TOML
name = "trace-memory"
[simulation]
horizon = "${secs}s"
sample_interval = "1m"
[service]
name = "m"
replicas = 8
dispatch = "shared"
[service.service_time]
distribution = "deterministic"
base = "2ms"
[traffic]
kind = "trace"
path = "trace.csv"
format = "azure-llm-2023"
TOML
ls -l "$dir/trace.csv"
/usr/bin/time -v "$capsim" run "$dir/s.toml" --out "$dir/out" 2> "$dir/time.txt"
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$dir/time.txt"
grep -E '"arrived"' "$dir/out/summary.json" | head -1

#!/bin/bash
# Whole-process benchmarks that mirror what users run (issue #20): for each run, the wall-clock
# time, the load average just before it, the peak resident memory (/usr/bin/time -v) and the
# instructions per simulated request (valgrind --tool=cachegrind on a shorter version of the same
# run, less a tiny version's fixed cost: reading the scenario and trace, building the world and
# writing the outputs). Prints one Markdown table.
#
#   benches/scripts/fleet-bench.sh [--no-cachegrind] [--criterion] [RUN...]
#
# RUN is any of llm64 llm400 azure70b fleet (default: all four):
#   llm64     benches/scenarios/llm-2m.toml: 2 M requests, 64 vLLM replicas
#   llm400    the same 2 M requests on 400 replicas (--set service.replicas=400)
#   azure70b  benches/scenarios/azure-conv-70b.toml on the Azure conversation trace 2023 repeated
#             100 times (a copy an hour, written to a temporary folder): about 1.9 M requests
#   fleet     benches/scenarios/fleet.toml: 1,000 replicas of four models, HPAs and the Cluster
#             Autoscaler, one simulated hour
# --criterion also runs `cargo bench --bench llm` (10 M requests, criterion's median) under
# /usr/bin/time -v. --no-cachegrind skips the instruction counts (much faster).
# Build first: cargo build --release (or set CAPSIM to a capsim binary). Needs /usr/bin/time
# and, for the counts, valgrind.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
capsim=${CAPSIM:-$root/target/release/capsim}
sc="$root/benches/scenarios"
conv="$root/scenarios/traces/azure-llm-inference-2023/AzureLLMInferenceTrace_conv.csv"
cachegrind=1
criterion=0
runs=()
for a in "$@"; do
  case "$a" in
    --no-cachegrind) cachegrind=0 ;;
    --criterion) criterion=1 ;;
    llm64 | llm400 | azure70b | fleet) runs+=("$a") ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done
[ ${#runs[@]} -eq 0 ] && runs=(llm64 llm400 azure70b fleet)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# The conversation trace repeated N times, copy k shifted by k hours (the trace spans 58 minutes).
repeat_trace() {
  awk -F, -v n="$1" 'NR == 1 { print; next } { t[NR] = $1; r[NR] = $2 "," $3; m = NR }
    END {
      for (k = 0; k < n; k++) for (i = 2; i <= m; i++) {
        split(t[i], dt, " "); split(dt[2], hms, ":");
        h = (substr(dt[1], 9, 2) - 16) * 24 + hms[1] + k;
        printf "2023-11-%02d %02d:%s:%s,%s\n", 16 + int(h / 24), h % 24, hms[2], hms[3], r[i];
      }
    }' "$conv"
}

# Arguments of each run: full, short (for cachegrind) and tiny (its fixed cost).
args() {
  case "$1/$2" in
    llm64/full) echo "$sc/llm-2m.toml" ;;
    llm64/short) echo "$sc/llm-2m.toml --horizon 300s" ;;
    llm64/tiny) echo "$sc/llm-2m.toml --horizon 1s" ;;
    llm400/full) echo "$sc/llm-2m.toml --set service.replicas=400" ;;
    llm400/short) echo "$sc/llm-2m.toml --set service.replicas=400 --horizon 300s" ;;
    llm400/tiny) echo "$sc/llm-2m.toml --set service.replicas=400 --horizon 1s" ;;
    azure70b/full) echo "$sc/azure-conv-70b.toml --set traffic.path=\"$dir/conv-100.csv\" --horizon 100h" ;;
    azure70b/short) echo "$sc/azure-conv-70b.toml --set traffic.path=\"$dir/conv-6.csv\" --horizon 6h" ;;
    azure70b/tiny) echo "$sc/azure-conv-70b.toml --set traffic.path=\"$dir/conv-1.csv\" --horizon 1h" ;;
    fleet/full) echo "$sc/fleet.toml" ;;
    fleet/short) echo "$sc/fleet.toml --horizon 3m" ;;
    fleet/tiny) echo "$sc/fleet.toml --horizon 10s" ;;
  esac
}

arrived() { grep -m1 '"arrived"' "$1/summary.json" | tr -dc 0-9; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# Total instructions of one run under cachegrind, then its requests.
instructions() {
  # shellcheck disable=SC2046
  eval valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    "$capsim" run $(args "$1" "$2") --out "$dir/cg" 2> "$dir/cg.txt" > /dev/null
  grep -E "I +refs:" "$dir/cg.txt" | sed -E 's/.*refs: *//' | tr -dc 0-9
  echo " $(arrived "$dir/cg")"
}

for r in "${runs[@]}"; do
  if [ "$r" = azure70b ] && [ ! -f "$dir/conv-100.csv" ]; then
    repeat_trace 100 > "$dir/conv-100.csv"
    repeat_trace 6 > "$dir/conv-6.csv"
    repeat_trace 1 > "$dir/conv-1.csv"
  fi
done

rows=()
if [ "$criterion" = 1 ]; then
  (cd "$root" && cargo bench --bench llm --no-run > /dev/null 2>&1)
  la=$(loadavg)
  (cd "$root" && /usr/bin/time -v cargo bench --bench llm -- --warm-up-time 1 --sample-size 10 \
    > "$dir/crit.txt" 2> "$dir/crit-time.txt")
  med=$(grep -A1 "vllm_64_h100_llama8b_10M_requests" "$dir/crit.txt" | grep -m1 "time:" | awk '{print $4, $5}')
  thr=$(grep -m1 "thrpt:" "$dir/crit.txt" | awk '{print $4, $5}')
  rss=$(grep "Maximum resident" "$dir/crit-time.txt" | tr -dc 0-9)
  rows+=("| \`llm\` (criterion, 10 M requests, 64 replicas) | 10,000,000 | $med (median) | $thr | $la | $((rss / 1024)) MB (cargo and the bench) | see llm64 |")
fi

for r in "${runs[@]}"; do
  la=$(loadavg)
  # shellcheck disable=SC2046
  eval /usr/bin/time -v "$capsim" run $(args "$r" full) --out "$dir/$r" 2> "$dir/$r-time.txt" > /dev/null
  n=$(arrived "$dir/$r")
  wall=$(grep "Elapsed (wall clock)" "$dir/$r-time.txt" | awk '{print $NF}')
  secs=$(echo "$wall" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
  rss=$(grep "Maximum resident" "$dir/$r-time.txt" | tr -dc 0-9)
  # shellcheck disable=SC2046
  eval /usr/bin/time -v "$capsim" run $(args "$r" short) --out "$dir/$r-short" 2> "$dir/$r-short-time.txt" > /dev/null
  ns=$(arrived "$dir/$r-short")
  rss_short=$(grep "Maximum resident" "$dir/$r-short-time.txt" | tr -dc 0-9)
  ipr="-"
  if [ "$cachegrind" = 1 ]; then
    read -r is qs <<< "$(instructions "$r" short)"
    read -r it qt <<< "$(instructions "$r" tiny)"
    ipr=$(( (is - it) / (qs - qt) ))
  fi
  rate=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.2f M/s", n / s / 1e6 }')
  rows+=("| $r | $n | ${secs} s | $rate | $la | $((rss / 1024)) MB ($((rss_short / 1024)) MB at $ns requests) | $ipr |")
done

echo "| run | simulated requests | wall-clock | requests per wall-second | load average (1, 5, 15 min) before | peak RSS | instructions per request |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"

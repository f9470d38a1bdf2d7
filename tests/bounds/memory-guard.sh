#!/usr/bin/env bash
# The memory guard: the worst input shapes, each run by capsim under a virtual-memory limit and a
# timeout. Each must exit 2 with one `error:` line (refused as bad input), never abort, hang or
# be killed; a legitimate run must finish within the same budget.
# Usage: tests/bounds/memory-guard.sh path/to/capsim
set -uo pipefail
capsim=$(realpath "$1")
root=$(pwd)
mem_kb=${MEMORY_GUARD_KB:-2000000}
secs=${MEMORY_GUARD_SECONDS:-60}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"

base='[simulation]
horizon = "10m"
[service]
replicas = 4
dispatch = "router"
[service.service_time]
distribution = "deterministic"
base = "5ms"
[traffic]
kind = "poisson"
rate = 10.0'

# shape NAME FROM TO: the base scenario with FROM replaced by TO.
shape() { printf '%s\n' "${base/"$2"/"$3"}" > "$1.toml"; }
shape replicas 'replicas = 4' 'replicas = 4000000000'
shape batch '[service.service_time]' $'[service.triton]\nmax_batch_size = 4000000000\n[service.service_time]'
shape century 'horizon = "10m"' 'horizon = "36500d"'
shape rows 'horizon = "10m"' $'horizon = "10m"\nsample_interval = "1ns"'
shape rate 'rate = 10.0' 'rate = 1e9'
shape sojourn $'kind = "poisson"\nrate = 10.0' $'kind = "mmpp"\nstate = [{ rate = 5.0, mean_sojourn = "1ns" }, { rate = 9.0, mean_sojourn = "1m" }]'
shape scale '[service.service_time]' $'[[service.scale]]\nat = "1m"\nreplicas = 2000000000\n[service.service_time]'
printf '%s\n' 'hpa = { minReplicas = 1, maxReplicas = 2000000000, metrics = [{ type = "Pods", pods = { metric = { name = "queue_length" }, target = { type = "AverageValue", averageValue = "1" } } }] }' > hpa.toml
printf '%s\n' "$base" >> hpa.toml
shape notrace $'kind = "poisson"\nrate = 10.0' $'kind = "trace"\nformat = "csv"\npath = "long.csv"'
head -c 50000000 /dev/zero | tr '\0' '7' > long.csv
shape qps $'kind = "poisson"\nrate = 10.0' $'kind = "trace"\nformat = "alibaba-genai-qps"\npath = "qps.csv"\nbucket = "1s"'
printf 'timestamp_anon,value,container_ip,request_type\n0,1,a,x\n1000000000000000,1,a,x\n' > qps.csv
# A billion laughs: nine levels of aliases, each ten times the last.
{
  echo 'apiVersion: apps/v1'
  echo 'kind: Deployment'
  echo 'metadata: {name: x}'
  echo 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'
  for i in 1 2 3 4 5 6 7 8 9; do
    p=$((i - 1))
    echo "a$i: &a$i [*a$p,*a$p,*a$p,*a$p,*a$p,*a$p,*a$p,*a$p,*a$p,*a$p]"
  done
} > laughs.yaml
printf '%s\n' "$base" > laughs.toml

fail=0
check() { # check NAME ARGS...: exit 2 with one error line
  local name=$1
  shift
  ( ulimit -v "$mem_kb"; timeout "$secs" "$capsim" "$@" --out "out-$name" ) > "$name.out" 2> "$name.err"
  local rc=$?
  if [ "$rc" -ne 2 ] || ! grep -q '^error: ' "$name.err" || [ -e "out-$name" ]; then
    echo "memory guard: $name: exit $rc (expected 2, an error line and no output folder)"
    cat "$name.err"
    fail=1
  else
    echo "memory guard: $name: refused: $(head -c 160 "$name.err")"
  fi
}
for s in replicas batch century rows rate sojourn scale hpa notrace qps; do
  check "$s" run "$s.toml"
done
check laughs run laughs.toml laughs.yaml

# Arrivals far above what the replicas serve, no max_queue_size: each replica's queue stops at
# its hard limit (later arrivals dropped as queue_full), so the run finishes in bounded memory.
flood=${base/'rate = 10.0'/'rate = 1e6'}
printf '%s\n' "${flood/'horizon = "10m"'/'horizon = "15s"'}" > flood.toml
( ulimit -v "$mem_kb"; timeout "$secs" "$capsim" run flood.toml --out flood ) > flood.out 2> flood.err
rc=$?
if [ "$rc" -ne 0 ] || ! grep -q '"queue_full"' flood/summary.json; then
  echo "memory guard: flood: exit $rc (expected 0 and queue_full drops within the budget)"
  cat flood.err
  fail=1
else
  echo "memory guard: flood: finished, excess dropped as queue_full"
fi

# 10,000 replicas with a 65,536-entry batch_times table: every replica shares one table (a copy
# each took 5 GB).
bt=${base/'replicas = 4'/'replicas = 10000'}
bt=${bt/'[service.service_time]'/$'[service.triton]\nmax_batch_size = 65536\n[service.service_time]'}
printf '%s\n' "${bt/'base = "5ms"'/'batch_times = { 1 = "10ms", 65536 = "1s" }'}" > batchtimes.toml
( ulimit -v "$mem_kb"; timeout "$secs" "$capsim" run batchtimes.toml --out batchtimes ) > batchtimes.out 2> batchtimes.err
rc=$?
if [ "$rc" -ne 0 ]; then
  echo "memory guard: batchtimes: exit $rc (expected 0 within the budget)"
  cat batchtimes.err
  fail=1
else
  echo "memory guard: batchtimes: finished"
fi

# A legitimate run within the same budget.
( ulimit -v "$mem_kb"; timeout "$secs" "$capsim" run "$root/scenarios/quickstart.toml" --out ok ) > ok.out 2> ok.err
rc=$?
if [ "$rc" -ne 0 ]; then
  echo "memory guard: quickstart: exit $rc within the budget"
  cat ok.err
  fail=1
else
  echo "memory guard: quickstart: finished"
fi
exit $fail

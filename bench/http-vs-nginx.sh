#!/usr/bin/env bash
# Benchmark (not a test): hyperpod-local's HTTP path against nginx serving the same bytes as a static response.
#
#   bench/http-vs-nginx.sh [SECONDS_PER_RUN] [ROUNDS]       (defaults: 5 s, 3 rounds)
#
# Two endpoints: GET /_hyperpod/health, and a SageMaker.DescribeCluster POST of a settled 2-group, 4-node cluster.
# Each round runs `wrk -t1 -c8` against nginx and then hyperpod-local, interleaved so machine noise hits both;
# the table reports the median requests/s of each and the ratio. Both servers use one thread (nginx: one worker,
# access_log off; hyperpod-local: its single event loop, --log-level error so no per-request log line).
# Loopback only. Needs wrk and nginx (installed from Debian's packages when missing and running as root).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-5}
ROUNDS=${2:-3}

need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
if ! need wrk || ! need nginx; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null
  else
    echo "bench: needs wrk and nginx (apt-get install wrk nginx-light)" >&2; exit 1
  fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

swift build -c release --product hyperpod-local >/dev/null
BIN=${HYPERPOD_LOCAL_BIN:-.build/release/hyperpod-local}
WORK=$(mktemp -d)
cleanup() { kill "$HP_PID" 2>/dev/null || true; [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

"$BIN" serve --port 0 --in-memory --log-level error --clock manual >"$WORK/hp.out" 2>"$WORK/hp.err" &
HP_PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/hp.out" 2>/dev/null && break; sleep 0.05; done
HP_PORT=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$WORK/hp.out" | head -1)

# A settled 2-group, 4-node cluster to describe.
curl -s -X POST "http://127.0.0.1:$HP_PORT/" -H 'X-Amz-Target: SageMaker.CreateCluster' -d '{"ClusterName":"bench",
  "InstanceGroups":[{"InstanceGroupName":"a","InstanceType":"ml.c5.xlarge","InstanceCount":2,"ExecutionRole":"arn:aws:iam::111122223333:role/r",
  "LifeCycleConfig":{"SourceS3Uri":"s3://b/x","OnCreate":"on.sh"}},{"InstanceGroupName":"b","InstanceType":"ml.g5.xlarge","InstanceCount":2,
  "ExecutionRole":"arn:aws:iam::111122223333:role/r","LifeCycleConfig":{"SourceS3Uri":"s3://b/x","OnCreate":"on.sh"}}]}' >/dev/null
curl -s -X POST "http://127.0.0.1:$HP_PORT/_hyperpod/settle" -d '{}' >/dev/null

# The exact bodies hyperpod-local sends, for nginx to serve.
HEALTH_BODY=$(curl -s "http://127.0.0.1:$HP_PORT/_hyperpod/health")
DESCRIBE_BODY=$(curl -s -X POST "http://127.0.0.1:$HP_PORT/" -H 'X-Amz-Target: SageMaker.DescribeCluster' \
  -H 'Content-Type: application/x-amz-json-1.1' -d '{"ClusterName":"bench"}')
DESCRIBE_STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$HP_PORT/" \
  -H 'X-Amz-Target: SageMaker.DescribeCluster' -d '{"ClusterName":"bench"}')
NG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
esc() { printf '%s' "$1" | sed "s/'/\\\\'/g"; }
cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK;
  server {
    listen 127.0.0.1:$NG_PORT;
    location = /_hyperpod/health {
      default_type application/json;
      add_header x-amzn-RequestId 3b8c4a6e-0c2d-4d5e-9f10-123456789abc;
      return 200 '$(esc "$HEALTH_BODY")';
    }
    location = / {
      default_type application/x-amz-json-1.1;
      add_header x-amzn-RequestId 3b8c4a6e-0c2d-4d5e-9f10-123456789abc always;
      return $DESCRIBE_STATUS '$(esc "$DESCRIBE_BODY")';
    }
  }
}
CONF
"$NGINX" -c "$WORK/nginx.conf"
for _ in $(seq 100); do curl -s "http://127.0.0.1:$NG_PORT/_hyperpod/health" >/dev/null && break; sleep 0.05; done

cat >"$WORK/describe.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"ClusterName":"bench"}'
wrk.headers["X-Amz-Target"] = "SageMaker.DescribeCluster"
wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
LUA

rps() {  # url [script] → requests/s
  local out
  if [ -n "${2:-}" ]; then out=$(wrk -t1 -c8 -d"${SECONDS_PER_RUN}s" -s "$2" "$1"); else out=$(wrk -t1 -c8 -d"${SECONDS_PER_RUN}s" "$1"); fi
  if printf '%s' "$out" | grep -q "Socket errors"; then printf '%s\n' "$out" >&2; fi
  printf '%s' "$out" | awk '/Requests\/sec/ {print int($2)}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "wrk -t1 -c8 -d${SECONDS_PER_RUN}s, ${ROUNDS} interleaved rounds, median requests/s"
printf '%-34s %12s %16s %8s\n' "endpoint" "nginx" "hyperpod-local" "ratio"
for endpoint in health describe; do
  ng=(); hp=()
  for _ in $(seq "$ROUNDS"); do
    if [ $endpoint = health ]; then
      ng+=("$(rps "http://127.0.0.1:$NG_PORT/_hyperpod/health")")
      hp+=("$(rps "http://127.0.0.1:$HP_PORT/_hyperpod/health")")
    else
      ng+=("$(rps "http://127.0.0.1:$NG_PORT/" "$WORK/describe.lua")")
      hp+=("$(rps "http://127.0.0.1:$HP_PORT/" "$WORK/describe.lua")")
    fi
  done
  n=$(printf '%s\n' "${ng[@]}" | median); h=$(printf '%s\n' "${hp[@]}" | median)
  label=$([ $endpoint = health ] && echo "GET /_hyperpod/health" || echo "DescribeCluster 2 groups/4 nodes ($DESCRIBE_STATUS)")
  printf '%-34s %12s %16s %8s\n' "$label" "$n" "$h" "$(awk -v a="$h" -v b="$n" 'BEGIN {printf "%.2f", a/b}')"
done

#!/usr/bin/env bash
# Runs go-nsq v1.1.0's own test suite against this package's broker and embedded lookupd, started as
# go-nsq's test.sh starts nsqd and nsqlookupd: lookupd on 127.0.0.1:4160/4161, the broker on
# 127.0.0.1:4150/4151 with go-nsq's test certificate, key and CA (so its TLS cases negotiate TLS).
# The suite needs those fixed ports. Prints go test's output, then "N passed, N failed".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ -f dist/cli/bin.js ] || npm run build --silent
module=$(cd oracle && go mod download -json github.com/nsqio/go-nsq@v1.1.0 | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
work=$(mktemp -d)
cp -R "$module"/. "$work"
chmod -R u+w "$work"
logs=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
node dist/cli/bin.js lookupd --tcp-address=127.0.0.1:4160 --http-address=127.0.0.1:4161 >"$logs/lookupd.log" 2>&1 &
pids+=($!)
(cd "$work" && exec node "$root/dist/cli/bin.js" broker --lookupd-tcp-address=127.0.0.1:4160 \
  --tcp-address=127.0.0.1:4150 --http-address=127.0.0.1:4151 \
  --tls-cert=./test/server.pem --tls-key=./test/server.key --tls-root-ca-file=./test/ca.pem) >"$logs/broker.log" 2>&1 &
pids+=($!)
# Both answer /ping once they listen (node rather than curl: one tool fewer on a clean machine).
node -e '
const ping = (port) => fetch(`http://127.0.0.1:${port}/ping`).then((r) => r.ok, () => false);
(async () => {
  for (let i = 0; i < 200; i++) {
    if ((await ping(4151)) && (await ping(4161))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.error("broker or lookupd did not start");
  process.exit(1);
})();
'
status=0
(cd "$work" && GOFLAGS=-mod=mod go test -v -timeout 60s .) >"$logs/go-test.log" 2>&1 || status=$?
cat "$logs/go-test.log"
passed=$(grep -c -- '^--- PASS' "$logs/go-test.log" || true)
failed=$(grep -c -- '^--- FAIL' "$logs/go-test.log" || true)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
  echo "go test failed without a failing case; broker log:" >&2
  cat "$logs/broker.log" >&2
fi
echo "${passed} passed, ${failed} failed"
exit "$status"

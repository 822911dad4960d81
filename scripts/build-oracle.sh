#!/usr/bin/env bash
# Builds the real nsqlookupd and nsqd (the test oracle) from oracle/go.mod into .oracle-bin/.
# Prints the two export lines for NSQLOOKUPD_BIN and NSQD_BIN.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.oracle-bin"
mkdir -p "$out"
cd "$root/oracle"
go build -o "$out/" github.com/nsqio/nsq/apps/nsqlookupd github.com/nsqio/nsq/apps/nsqd
echo "export NSQLOOKUPD_BIN=$out/nsqlookupd"
echo "export NSQD_BIN=$out/nsqd"

#!/usr/bin/env bash
# Builds the real nsqlookupd, nsqd and nsqadmin (the test oracle) from oracle/go.mod into .oracle-bin/.
# Prints the export lines for NSQLOOKUPD_BIN, NSQD_BIN and NSQADMIN_BIN.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.oracle-bin"
mkdir -p "$out"
cd "$root/oracle"
go build -o "$out/" github.com/nsqio/nsq/apps/nsqlookupd github.com/nsqio/nsq/apps/nsqd github.com/nsqio/nsq/apps/nsqadmin
echo "export NSQLOOKUPD_BIN=$out/nsqlookupd"
echo "export NSQD_BIN=$out/nsqd"
echo "export NSQADMIN_BIN=$out/nsqadmin"

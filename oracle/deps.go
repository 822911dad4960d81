//go:build tools

// Package oracle pins the real NSQ servers that the test suite uses as its oracle. Nothing here is
// shipped: .ci/run and scripts/build-oracle.sh build nsqlookupd and nsqd from this module into
// .oracle-bin/ (ignored by git).
package oracle

import (
	_ "github.com/nsqio/nsq/apps/nsqd"
	_ "github.com/nsqio/nsq/apps/nsqlookupd"
)

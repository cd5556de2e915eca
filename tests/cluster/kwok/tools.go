//go:build tools

// Package tools pins the kwok controller that tests/cluster/build.sh builds from
// this module (its own module graph, separate from the Kubernetes one, because kwok
// is built against newer client libraries). It is never compiled.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
	_ "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	_ "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	_ "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
)

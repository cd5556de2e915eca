//go:build tools

// Package tools pins the programs that tests/cluster/build.sh builds from this
// module: the Kubernetes control plane, kubectl of the same release, and the etcd
// server at the version the release pins. It is never compiled.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)

#!/usr/bin/env python3
"""Writes a kustomization of N objects (default 20,000) for bench/renderer/scale.sh.

   scale_tree.py <dir> [objects]

N/4 groups of a Deployment, the ConfigMap and ServiceAccount it refers to, and a Service, in
files of 200 objects, under a kustomization with namespace, namePrefix, labels and
commonAnnotations: so the build renames every object and rewrites every reference, the work
whose cost used to grow with the square of the number of objects.
"""
import os
import sys

out = sys.argv[1]
objects = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
groups = objects // 4
os.makedirs(out, exist_ok=True)
files = []
per_file = 50  # groups per file: 200 objects
for start in range(0, groups, per_file):
    name = f"res-{start // per_file:04d}.yaml"
    files.append(name)
    docs = []
    for i in range(start, min(start + per_file, groups)):
        docs.append(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: app-{i}
  template:
    metadata:
      labels:
        app: app-{i}
    spec:
      serviceAccountName: sa-{i}
      containers:
      - name: main
        image: registry.example.com/app:{i % 7}
        envFrom:
        - configMapRef:
            name: config-{i}
        ports:
        - containerPort: 8080
""")
        docs.append(f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: config-{i}
data:
  key: value-{i}
""")
        docs.append(f"""apiVersion: v1
kind: ServiceAccount
metadata:
  name: sa-{i}
""")
        docs.append(f"""apiVersion: v1
kind: Service
metadata:
  name: svc-{i}
spec:
  selector:
    app: app-{i}
  ports:
  - port: 80
    targetPort: 8080
""")
    with open(os.path.join(out, name), "w") as f:
        f.write("---\n".join(docs))
with open(os.path.join(out, "kustomization.yaml"), "w") as f:
    f.write("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            "namespace: scale\nnamePrefix: p-\nlabels:\n- pairs:\n    team: bench\n"
            "commonAnnotations:\n  owner: bench\nresources:\n")
    for name in files:
        f.write(f"- {name}\n")

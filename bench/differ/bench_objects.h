// A typical Deployment as rendered from Git, and as a Kubernetes API server returns it after a
// server-side apply by "todoke" and a rollout: defaults, managedFields, status. Generated once;
// kept as data for the benchmark.
#ifndef TODOKE_BENCH_DIFFER_BENCH_OBJECTS_H_
#define TODOKE_BENCH_DIFFER_BENCH_OBJECTS_H_

namespace todoke::bench {

inline constexpr char kDesiredDeploymentJson[] = R"json({
 "apiVersion": "apps/v1",
 "kind": "Deployment",
 "metadata": {
  "labels": {
   "app.kubernetes.io/name": "web",
   "app.kubernetes.io/part-of": "shop",
   "app.kubernetes.io/version": "1.4.2"
  },
  "name": "web",
  "namespace": "prod"
 },
 "spec": {
  "replicas": 2,
  "selector": {
   "matchLabels": {
    "app.kubernetes.io/name": "web"
   }
  },
  "template": {
   "metadata": {
    "labels": {
     "app.kubernetes.io/name": "web"
    }
   },
   "spec": {
    "containers": [
     {
      "args": [
       "--listen=:8080",
       "--config=/etc/web/app.yaml"
      ],
      "env": [
       {
        "name": "LOG_LEVEL",
        "value": "info"
       },
       {
        "name": "CACHE_URL",
        "value": "redis://cache.prod.svc:6379/0"
       },
       {
        "name": "POD_IP",
        "valueFrom": {
         "fieldRef": {
          "fieldPath": "status.podIP"
         }
        }
       },
       {
        "name": "DB_PASSWORD",
        "valueFrom": {
         "secretKeyRef": {
          "key": "password",
          "name": "db"
         }
        }
       }
      ],
      "image": "registry.example.com/web:1.4.2",
      "livenessProbe": {
       "httpGet": {
        "path": "/livez",
        "port": "http"
       },
       "initialDelaySeconds": 10
      },
      "name": "web",
      "ports": [
       {
        "containerPort": 8080,
        "name": "http"
       }
      ],
      "readinessProbe": {
       "httpGet": {
        "path": "/healthz",
        "port": "http"
       },
       "periodSeconds": 5
      },
      "resources": {
       "limits": {
        "cpu": "1",
        "memory": "512Mi"
       },
       "requests": {
        "cpu": "250m",
        "memory": "256Mi"
       }
      },
      "volumeMounts": [
       {
        "mountPath": "/etc/web",
        "name": "config"
       },
       {
        "mountPath": "/tmp",
        "name": "tmp"
       }
      ]
     }
    ],
    "serviceAccountName": "web",
    "volumes": [
     {
      "configMap": {
       "name": "web-config"
      },
      "name": "config"
     },
     {
      "emptyDir": {},
      "name": "tmp"
     }
    ]
   }
  }
 }
})json";

inline constexpr char kLiveDeploymentJson[] = R"json({
 "apiVersion": "apps/v1",
 "kind": "Deployment",
 "metadata": {
  "annotations": {
   "deployment.kubernetes.io/revision": "1",
   "todoke.dev/tracking-id": "guestbook:web"
  },
  "creationTimestamp": "2025-05-12T09:14:03Z",
  "generation": 1,
  "labels": {
   "app.kubernetes.io/name": "web",
   "app.kubernetes.io/part-of": "shop",
   "app.kubernetes.io/version": "1.4.2"
  },
  "managedFields": [
   {
    "apiVersion": "apps/v1",
    "fieldsType": "FieldsV1",
    "fieldsV1": {
     "f:metadata": {
      "f:annotations": {
       "f:todoke.dev/tracking-id": {}
      },
      "f:labels": {
       "f:app.kubernetes.io/name": {},
       "f:app.kubernetes.io/part-of": {},
       "f:app.kubernetes.io/version": {}
      }
     },
     "f:spec": {
      "f:replicas": {},
      "f:selector": {},
      "f:template": {
       "f:metadata": {
        "f:labels": {
         "f:app.kubernetes.io/name": {}
        }
       },
       "f:spec": {
        "f:containers": {
         "k:{\"name\":\"web\"}": {
          ".": {},
          "f:args": {},
          "f:env": {
           "k:{\"name\":\"CACHE_URL\"}": {
            ".": {},
            "f:name": {},
            "f:value": {}
           },
           "k:{\"name\":\"DB_PASSWORD\"}": {
            ".": {},
            "f:name": {},
            "f:valueFrom": {
             "f:secretKeyRef": {
              "f:key": {},
              "f:name": {}
             }
            }
           },
           "k:{\"name\":\"LOG_LEVEL\"}": {
            ".": {},
            "f:name": {},
            "f:value": {}
           },
           "k:{\"name\":\"POD_IP\"}": {
            ".": {},
            "f:name": {},
            "f:valueFrom": {
             "f:fieldRef": {
              "f:fieldPath": {}
             }
            }
           }
          },
          "f:image": {},
          "f:livenessProbe": {
           "f:httpGet": {
            "f:path": {},
            "f:port": {}
           },
           "f:initialDelaySeconds": {}
          },
          "f:name": {},
          "f:ports": {
           "k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {
            ".": {},
            "f:containerPort": {},
            "f:name": {}
           }
          },
          "f:readinessProbe": {
           "f:httpGet": {
            "f:path": {},
            "f:port": {}
           },
           "f:periodSeconds": {}
          },
          "f:resources": {
           "f:limits": {
            "f:cpu": {},
            "f:memory": {}
           },
           "f:requests": {
            "f:cpu": {},
            "f:memory": {}
           }
          },
          "f:volumeMounts": {
           "k:{\"mountPath\":\"/etc/web\"}": {
            ".": {},
            "f:mountPath": {},
            "f:name": {}
           },
           "k:{\"mountPath\":\"/tmp\"}": {
            ".": {},
            "f:mountPath": {},
            "f:name": {}
           }
          }
         }
        },
        "f:serviceAccountName": {},
        "f:volumes": {
         "k:{\"name\":\"config\"}": {
          ".": {},
          "f:configMap": {
           "f:name": {}
          },
          "f:name": {}
         },
         "k:{\"name\":\"tmp\"}": {
          ".": {},
          "f:emptyDir": {},
          "f:name": {}
         }
        }
       }
      }
     }
    },
    "manager": "todoke",
    "operation": "Apply",
    "time": "2025-05-12T09:14:03Z"
   },
   {
    "apiVersion": "apps/v1",
    "fieldsType": "FieldsV1",
    "fieldsV1": {
     "f:metadata": {
      "f:annotations": {
       ".": {},
       "f:deployment.kubernetes.io/revision": {}
      }
     },
     "f:status": {
      "f:availableReplicas": {},
      "f:conditions": {
       ".": {},
       "k:{\"type\":\"Available\"}": {
        ".": {},
        "f:lastTransitionTime": {},
        "f:lastUpdateTime": {},
        "f:message": {},
        "f:reason": {},
        "f:status": {},
        "f:type": {}
       },
       "k:{\"type\":\"Progressing\"}": {
        ".": {},
        "f:lastTransitionTime": {},
        "f:lastUpdateTime": {},
        "f:message": {},
        "f:reason": {},
        "f:status": {},
        "f:type": {}
       }
      },
      "f:observedGeneration": {},
      "f:readyReplicas": {},
      "f:replicas": {},
      "f:updatedReplicas": {}
     }
    },
    "manager": "kube-controller-manager",
    "operation": "Update",
    "subresource": "status",
    "time": "2025-05-12T09:14:21Z"
   }
  ],
  "name": "web",
  "namespace": "prod",
  "resourceVersion": "48211",
  "uid": "6f1c2f0e-8a43-4a57-9a55-0f3b2f1d9c00"
 },
 "spec": {
  "progressDeadlineSeconds": 600,
  "replicas": 2,
  "revisionHistoryLimit": 10,
  "selector": {
   "matchLabels": {
    "app.kubernetes.io/name": "web"
   }
  },
  "strategy": {
   "rollingUpdate": {
    "maxSurge": "25%",
    "maxUnavailable": "25%"
   },
   "type": "RollingUpdate"
  },
  "template": {
   "metadata": {
    "creationTimestamp": null,
    "labels": {
     "app.kubernetes.io/name": "web"
    }
   },
   "spec": {
    "containers": [
     {
      "args": [
       "--listen=:8080",
       "--config=/etc/web/app.yaml"
      ],
      "env": [
       {
        "name": "LOG_LEVEL",
        "value": "info"
       },
       {
        "name": "CACHE_URL",
        "value": "redis://cache.prod.svc:6379/0"
       },
       {
        "name": "POD_IP",
        "valueFrom": {
         "fieldRef": {
          "apiVersion": "v1",
          "fieldPath": "status.podIP"
         }
        }
       },
       {
        "name": "DB_PASSWORD",
        "valueFrom": {
         "secretKeyRef": {
          "key": "password",
          "name": "db"
         }
        }
       }
      ],
      "image": "registry.example.com/web:1.4.2",
      "imagePullPolicy": "IfNotPresent",
      "livenessProbe": {
       "failureThreshold": 3,
       "httpGet": {
        "path": "/livez",
        "port": "http",
        "scheme": "HTTP"
       },
       "initialDelaySeconds": 10,
       "periodSeconds": 10,
       "successThreshold": 1,
       "timeoutSeconds": 1
      },
      "name": "web",
      "ports": [
       {
        "containerPort": 8080,
        "name": "http",
        "protocol": "TCP"
       }
      ],
      "readinessProbe": {
       "failureThreshold": 3,
       "httpGet": {
        "path": "/healthz",
        "port": "http",
        "scheme": "HTTP"
       },
       "periodSeconds": 5,
       "successThreshold": 1,
       "timeoutSeconds": 1
      },
      "resources": {
       "limits": {
        "cpu": "1",
        "memory": "512Mi"
       },
       "requests": {
        "cpu": "250m",
        "memory": "256Mi"
       }
      },
      "terminationMessagePath": "/dev/termination-log",
      "terminationMessagePolicy": "File",
      "volumeMounts": [
       {
        "mountPath": "/etc/web",
        "name": "config"
       },
       {
        "mountPath": "/tmp",
        "name": "tmp"
       }
      ]
     }
    ],
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "schedulerName": "default-scheduler",
    "securityContext": {},
    "serviceAccount": "web",
    "serviceAccountName": "web",
    "terminationGracePeriodSeconds": 30,
    "volumes": [
     {
      "configMap": {
       "defaultMode": 420,
       "name": "web-config"
      },
      "name": "config"
     },
     {
      "emptyDir": {},
      "name": "tmp"
     }
    ]
   }
  }
 },
 "status": {
  "availableReplicas": 2,
  "conditions": [
   {
    "lastTransitionTime": "2025-05-12T09:14:21Z",
    "lastUpdateTime": "2025-05-12T09:14:21Z",
    "message": "Deployment has minimum availability.",
    "reason": "MinimumReplicasAvailable",
    "status": "True",
    "type": "Available"
   },
   {
    "lastTransitionTime": "2025-05-12T09:14:03Z",
    "lastUpdateTime": "2025-05-12T09:14:21Z",
    "message": "ReplicaSet \"web-7c5d9b8f6d\" has successfully progressed.",
    "reason": "NewReplicaSetAvailable",
    "status": "True",
    "type": "Progressing"
   }
  ],
  "observedGeneration": 1,
  "readyReplicas": 2,
  "replicas": 2,
  "updatedReplicas": 2
 }
})json";

}  // namespace todoke::bench

#endif  // TODOKE_BENCH_DIFFER_BENCH_OBJECTS_H_

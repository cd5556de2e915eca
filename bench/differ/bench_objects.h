// A typical Deployment as rendered from Git (kDesiredDeploymentJson), and as a Kubernetes API
// server returns it after a server-side apply by "todoke" and a rollout (kLiveDeploymentJson):
// defaults, managedFields, status. The live text is the exact response body of kube-apiserver
// v1.34.4 (tests/cluster, kwok node) to GET .../deployments/web, recorded on 2026-11-27: compact,
// keys in the server's struct order, not sorted.
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

inline constexpr char kLiveDeploymentJson[] =
    R"json({"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","namespace":"prod","uid":"092a50c4-0eb4-4a96-92a9-ec282f888393","resourceVersion":"279","generation":1,"creationTimestamp":"2026-11-27T15:44:08Z","labels":{"app.kubernetes.io/name":"web","app.kubernetes.io/part-of":"shop","app.kubernetes.io/version":"1.4.2"},"annotations":{"deployment.kubernetes.io/revision":"1","todoke.dev/tracking-id":"guestbook:web"},"managedFields":[{"manager":"todoke","operation":"Apply","apiVersion":"apps/v1","time":"2026-11-27T15:44:08Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:annotations":{"f:todoke.dev/tracking-id":{}},"f:labels":{"f:app.kubernetes.io/name":{},"f:app.kubernetes.io/part-of":{},"f:app.kubernetes.io/version":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app.kubernetes.io/name":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:args":{},"f:env":{"k:{\"name\":\"CACHE_URL\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"DB_PASSWORD\"}":{".":{},"f:name":{},"f:valueFrom":{"f:secretKeyRef":{}}},"k:{\"name\":\"LOG_LEVEL\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"POD_IP\"}":{".":{},"f:name":{},"f:valueFrom":{"f:fieldRef":{}}}},"f:image":{},"f:livenessProbe":{"f:httpGet":{"f:path":{},"f:port":{}},"f:initialDelaySeconds":{}},"f:name":{},"f:ports":{"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{}}},"f:readinessProbe":{"f:httpGet":{"f:path":{},"f:port":{}},"f:periodSeconds":{}},"f:resources":{"f:limits":{"f:cpu":{},"f:memory":{}},"f:requests":{"f:cpu":{},"f:memory":{}}},"f:volumeMounts":{"k:{\"mountPath\":\"/etc/web\"}":{".":{},"f:mountPath":{},"f:name":{}},"k:{\"mountPath\":\"/tmp\"}":{".":{},"f:mountPath":{},"f:name":{}}}}},"f:serviceAccountName":{},"f:volumes":{"k:{\"name\":\"config\"}":{".":{},"f:configMap":{"f:name":{}},"f:name":{}},"k:{\"name\":\"tmp\"}":{".":{},"f:emptyDir":{},"f:name":{}}}}}}}},{"manager":"kube-controller-manager","operation":"Update","apiVersion":"apps/v1","time":"2026-11-27T15:45:30Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:annotations":{"f:deployment.kubernetes.io/revision":{}}},"f:status":{"f:availableReplicas":{},"f:conditions":{".":{},"k:{\"type\":\"Available\"}":{".":{},"f:lastTransitionTime":{},"f:lastUpdateTime":{},"f:message":{},"f:reason":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Progressing\"}":{".":{},"f:lastTransitionTime":{},"f:lastUpdateTime":{},"f:message":{},"f:reason":{},"f:status":{},"f:type":{}}},"f:observedGeneration":{},"f:readyReplicas":{},"f:replicas":{},"f:updatedReplicas":{}}},"subresource":"status"}]},"spec":{"replicas":2,"selector":{"matchLabels":{"app.kubernetes.io/name":"web"}},"template":{"metadata":{"labels":{"app.kubernetes.io/name":"web"}},"spec":{"volumes":[{"name":"config","configMap":{"name":"web-config","defaultMode":420}},{"name":"tmp","emptyDir":{}}],"containers":[{"name":"web","image":"registry.example.com/web:1.4.2","args":["--listen=:8080","--config=/etc/web/app.yaml"],"ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],"env":[{"name":"LOG_LEVEL","value":"info"},{"name":"CACHE_URL","value":"redis://cache.prod.svc:6379/0"},{"name":"POD_IP","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"status.podIP"}}},{"name":"DB_PASSWORD","valueFrom":{"secretKeyRef":{"name":"db","key":"password"}}}],"resources":{"limits":{"cpu":"1","memory":"512Mi"},"requests":{"cpu":"250m","memory":"256Mi"}},"volumeMounts":[{"name":"config","mountPath":"/etc/web"},{"name":"tmp","mountPath":"/tmp"}],"livenessProbe":{"httpGet":{"path":"/livez","port":"http","scheme":"HTTP"},"initialDelaySeconds":10,"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3},"readinessProbe":{"httpGet":{"path":"/healthz","port":"http","scheme":"HTTP"},"timeoutSeconds":1,"periodSeconds":5,"successThreshold":1,"failureThreshold":3},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"web","serviceAccount":"web","securityContext":{},"schedulerName":"default-scheduler"}},"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}},"revisionHistoryLimit":10,"progressDeadlineSeconds":600},"status":{"observedGeneration":1,"replicas":2,"updatedReplicas":2,"readyReplicas":2,"availableReplicas":2,"conditions":[{"type":"Available","status":"True","lastUpdateTime":"2026-11-27T15:45:30Z","lastTransitionTime":"2026-11-27T15:45:30Z","reason":"MinimumReplicasAvailable","message":"Deployment has minimum availability."},{"type":"Progressing","status":"True","lastUpdateTime":"2026-11-27T15:45:30Z","lastTransitionTime":"2026-11-27T15:44:08Z","reason":"NewReplicaSetAvailable","message":"ReplicaSet \"web-78cdd977b5\" has successfully progressed."}]}})json";

}  // namespace todoke::bench

#endif  // TODOKE_BENCH_DIFFER_BENCH_OBJECTS_H_

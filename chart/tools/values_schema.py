"""The source of chart/todo-chatbot/values.schema.json (JSON has no comments; this has).

    python chart/tools/values_schema.py > chart/todo-chatbot/values.schema.json

The static tier checks that the committed file equals this output.
"""

from __future__ import annotations

import json

CPU = {
    "type": ["string", "number"],
    "pattern": r"^([0-9]+m|[0-9]+(\.[0-9]{1,3})?)$",
    "minimum": 0,
    "description": "CPU quantity: millicores like 250m, or cores like 0.5",
}
MEM = {
    "type": ["string", "integer"],
    "pattern": r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$",
    "minimum": 0,
    "description": "memory quantity like 256Mi or 1Gi",
}


def obj(props, required=None, desc=None, extra=False):
    o = {"type": "object", "additionalProperties": extra, "properties": props}
    if required:
        o["required"] = required
    if desc:
        o["description"] = desc
    return o


DISK = {**MEM, "description": "ephemeral-storage quantity like 128Mi (emptyDirs, logs)"}
PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
CIDR = {
    "type": "string",
    "pattern": r"^[0-9a-fA-F:.]+/[0-9]{1,3}$",
    "description": "an IPv4 or IPv6 CIDR such as 10.0.0.0/8 or 0.0.0.0/0",
}
CIDR_OR_EMPTY = {
    "type": "string",
    "pattern": r"^(|[0-9a-fA-F:.]+/[0-9]{1,3})$",
    "description": "an IPv4 or IPv6 CIDR such as 10.0.0.5/32, or empty",
}
FREE = {"type": "object", "description": "free-form map"}
STRMAP = {"type": "object", "additionalProperties": {"type": "string"}, "description": "map of strings"}


def probe(desc):
    return obj(
        {
            "enabled": {"type": "boolean"},
            "path": {"type": "string", "pattern": "^/", "description": "HTTP path, starting with /"},
            "initialDelaySeconds": {"type": "integer", "minimum": 0},
            "periodSeconds": {"type": "integer", "minimum": 1},
            "timeoutSeconds": {"type": "integer", "minimum": 1},
            "failureThreshold": {"type": "integer", "minimum": 1},
            "successThreshold": {
                "type": "integer",
                "const": 1,
                "description": "liveness and startup probes allow only 1",
            },
        },
        ["enabled", "path"],
        desc,
    )


def component(name, port, paths):
    return obj(
        {
            "image": obj(
                {
                    "repository": {
                        "type": "string",
                        "minLength": 1,
                        "pattern": r"^[a-z0-9]+([._/:-][a-z0-9]+)*$",
                        "description": f"{name} image repository, e.g. todo-{name}",
                    },
                    "tag": {
                        "type": ["string", "number"],
                        "pattern": r"^(|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$",
                        "if": {"const": "latest"},
                        "then": {"const": "a pinned version such as 0.1.0 (latest is refused)"},
                        "description": "image tag; empty = appVersion; 'latest' is refused (pin a version)",
                    },
                    "pullPolicy": {"type": "string", "enum": ["IfNotPresent", "Always", "Never"]},
                },
                ["repository", "tag", "pullPolicy"],
            ),
            "replicaCount": {
                "type": "integer",
                "minimum": 0,
                "maximum": 10,
                "description": f"number of {name} pods",
            },
            "containerPorts": obj(
                {
                    "http": {
                        "type": "integer",
                        "minimum": 1024,
                        "maximum": 65535,
                        "description": f"port the {name} listens on ({port}; >= 1024 for a non-root user)",
                    }
                },
                ["http"],
            ),
            "livenessProbe": {
                **probe("liveness probe"),
                "properties": {
                    **probe("liveness probe")["properties"],
                    "terminationGracePeriodSeconds": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "seconds a container that failed its liveness probe gets to stop",
                    },
                },
            },
            "readinessProbe": {
                **probe("readiness probe"),
                "properties": {
                    **probe("")["properties"],
                    "successThreshold": {"type": "integer", "minimum": 1},
                },
            },
            "startupProbe": probe("startup probe"),
            "resources": obj(
                {
                    "requests": obj(
                        {"cpu": CPU, "memory": MEM, "ephemeral-storage": DISK}, ["cpu", "memory"]
                    ),
                    "limits": obj({"cpu": CPU, "memory": MEM, "ephemeral-storage": DISK}, ["cpu", "memory"]),
                },
                ["requests", "limits"],
                "requests and limits are both required (FR-013)",
            ),
            "podSecurityContext": obj(
                {
                    "runAsNonRoot": {"const": True, "description": "must be true (PSS restricted)"},
                    "runAsUser": {"type": "integer", "minimum": 10000},
                    "runAsGroup": {"type": "integer", "minimum": 1},
                    "fsGroup": {"type": "integer", "minimum": 1},
                    "seccompProfile": obj(
                        {
                            "type": {"enum": ["RuntimeDefault", "Localhost"]},
                            "localhostProfile": {"type": "string"},
                        },
                        ["type"],
                    ),
                },
                ["runAsNonRoot", "runAsUser", "seccompProfile"],
            ),
            "containerSecurityContext": obj(
                {
                    "runAsNonRoot": {"const": True},
                    "runAsUser": {"type": "integer", "minimum": 10000},
                    "runAsGroup": {"type": "integer", "minimum": 1},
                    "allowPrivilegeEscalation": {
                        "const": False,
                        "description": "must be false (PSS restricted)",
                    },
                    "readOnlyRootFilesystem": {
                        "const": True,
                        "description": "must be true; use writablePaths",
                    },
                    "capabilities": obj(
                        {
                            "drop": {
                                "type": "array",
                                "contains": {"const": "ALL"},
                                "items": {"type": "string"},
                            },
                            "add": {"type": "array", "items": {"const": "NET_BIND_SERVICE"}, "maxItems": 1},
                        },
                        ["drop"],
                    ),
                    "seccompProfile": obj(
                        {
                            "type": {"enum": ["RuntimeDefault", "Localhost"]},
                            "localhostProfile": {"type": "string"},
                        },
                        ["type"],
                    ),
                },
                ["runAsNonRoot", "allowPrivilegeEscalation", "readOnlyRootFilesystem", "capabilities"],
            ),
            "writablePaths": {
                "type": "array",
                "uniqueItems": True,
                "items": {"type": "string", "pattern": "^/[^\\s]*$"},
                "description": f"absolute paths the {name} writes ({', '.join(paths)})",
            },
            "emptyDirSizeLimit": MEM,
            "terminationGracePeriodSeconds": {"type": "integer", "minimum": 1, "maximum": 300},
            "preStopSleepSeconds": {"type": "integer", "minimum": 0, "maximum": 120},
            "podAnnotations": STRMAP,
            "podLabels": STRMAP,
            "extraEnvVars": {
                "type": "array",
                "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
            },
            "nodeSelector": STRMAP,
            "tolerations": {"type": "array", "items": {"type": "object"}},
            "podAntiAffinityPreset": {"enum": ["", "soft", "hard"]},
            "affinity": FREE,
            "pdb": obj(
                {
                    "create": {"type": "boolean"},
                    "minAvailable": {"type": ["integer", "string"], "minimum": 0, "pattern": "^[0-9]+%$"},
                },
                ["create", "minAvailable"],
            ),
            "service": None,
        },
        None,
        f"the {name} component",
    )


backend = component("backend", 8000, ["/tmp"])
backend["properties"]["database"] = obj(
    {
        "poolSize": {"type": "integer", "minimum": 1, "description": "DB_POOL_SIZE: connections per pod"},
        "maxOverflow": {
            "type": "integer",
            "minimum": 0,
            "description": "DB_MAX_OVERFLOW: extra connections per pod under load",
        },
        "maxConnections": {"type": "integer", "minimum": 1, "description": "the server's max_connections"},
        "reservedConnections": {"type": "integer", "minimum": 0},
    },
    ["poolSize", "maxOverflow", "maxConnections", "reservedConnections"],
)
backend["properties"]["limits"] = obj(
    {
        "tasksPerUser": {"type": "integer", "minimum": 1, "description": "TASKS_PER_USER"},
        "tasksCreatedPerMinute": {"type": "integer", "minimum": 1, "description": "TASKS_CREATED_PER_MINUTE"},
        "chatTurnsPerMinute": {"type": "integer", "minimum": 1, "description": "CHAT_TURNS_PER_MINUTE"},
    },
    ["tasksPerUser", "tasksCreatedPerMinute", "chatTurnsPerMinute"],
)
backend["properties"]["service"] = obj(
    {
        "type": {"const": "ClusterIP", "description": "the backend is internal: ClusterIP only (FR-011)"},
        "ports": obj({"http": {"type": "integer", "minimum": 1, "maximum": 65535}}, ["http"]),
        "annotations": STRMAP,
    },
    ["type", "ports"],
)
frontend = component("frontend", 3000, ["/tmp", "/app/.next/cache"])
frontend["properties"]["service"] = obj(
    {
        "type": {
            "enum": ["NodePort", "LoadBalancer", "ClusterIP"],
            "description": "NodePort (Minikube), LoadBalancer (minikube tunnel, Docker Desktop) or ClusterIP (port-forward)",
        },
        "allowPlainHttp": {
            "type": "boolean",
            "description": "LoadBalancer without TLS, for a load balancer only this machine reaches",
        },
        "ports": obj({"http": {"type": "integer", "minimum": 1, "maximum": 65535}}, ["http"]),
        "nodePorts": obj(
            {
                "http": {
                    "type": ["integer", "null"],
                    "minimum": 30000,
                    "maximum": 32767,
                    "description": "fixed node port in 30000-32767, or null",
                }
            }
        ),
        "annotations": STRMAP,
    },
    ["type", "ports"],
)

schema = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "$comment": "provenance: generated-by=claude-code; reviewed-by=hand; reason=kubectl-ai was not available on this machine and does not write schemas; generated by chart/tools/values_schema.py",
    "title": "todo-chatbot values",
    "description": "Values of the todo-chatbot chart. Unknown keys are refused so that a misspelt value fails instead of being ignored.",
    **obj(
        {
            "global": FREE,
            "nameOverride": {"type": "string", "maxLength": 40},
            "fullnameOverride": {"type": "string", "maxLength": 40},
            "commonLabels": STRMAP,
            "commonAnnotations": STRMAP,
            "config": obj(
                {
                    "logLevel": {"enum": ["debug", "info", "warning", "error", "critical"]},
                    "backendUrl": {
                        "type": "string",
                        "pattern": "^(|https?://.+)$",
                        "description": "empty, or an http(s) URL",
                    },
                    "corsOrigins": {"type": "string"},
                    "chatProvider": {"enum": ["rules", "openai"]},
                    "openaiBaseUrl": {"type": "string", "pattern": "^(|https?://.+)$"},
                    "openaiModel": {"type": "string"},
                    "openaiAllowHttp": {"type": "boolean", "description": "OPENAI_ALLOW_HTTP"},
                    "trustedProxyHops": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": 9,
                        "description": "TRUSTED_PROXY_HOPS; 0: 1 behind the chart's Ingress, else none",
                    },
                    "featureFlags": {
                        "type": "object",
                        "propertyNames": {"pattern": "^[a-zA-Z][a-zA-Z0-9_]*$"},
                        "additionalProperties": {"type": "boolean"},
                        "description": "name: true|false",
                    },
                    "sessionCookieSecure": {
                        "enum": ["auto", "true", "false"],
                        "description": 'SESSION_COOKIE_SECURE: "auto", "true" or "false" (strings)',
                    },
                    "hstsMaxAge": {"type": "integer", "minimum": 0, "description": "HSTS_MAX_AGE in seconds"},
                },
                ["logLevel", "chatProvider"],
            ),
            "secrets": obj(
                {
                    "existingSecret": {"type": "string"},
                    "databaseUrl": {
                        "type": "string",
                        "pattern": "^(|postgres(ql)?(\\+[a-z0-9]+)?://.+)$",
                        "description": "empty, or postgresql://user:password@host:5432/db",
                    },
                    "jwtSecret": {"type": "string"},
                    "openaiApiKey": {"type": "string"},
                }
            ),
            "serviceAccount": obj(
                {"create": {"type": "boolean"}, "name": {"type": "string"}, "annotations": STRMAP}
            ),
            "backend": backend,
            "frontend": frontend,
            "ingress": obj(
                {
                    "enabled": {"type": "boolean"},
                    "ingressClassName": {"type": "string"},
                    "hostname": {
                        "type": "string",
                        "pattern": r"^(|(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$",
                        "description": "a DNS name such as todo.example.com (no scheme, no port)",
                    },
                    "path": {"type": "string", "pattern": "^/"},
                    "pathType": {"enum": ["Prefix", "Exact", "ImplementationSpecific"]},
                    "annotations": STRMAP,
                    "allowPlainHttp": {"type": "boolean", "description": "allow ingress.tls.enabled=false"},
                    "tls": obj({"enabled": {"type": "boolean"}, "secretName": {"type": "string"}}),
                }
            ),
            "networkPolicy": obj(
                {
                    "enabled": {"type": "boolean"},
                    "frontend": obj({"ingressNamespaceSelector": STRMAP}),
                    "dns": obj({"namespace": {"type": "string", "minLength": 1}, "podLabels": STRMAP, "port": PORT}),
                    # "": the IP in secrets.databaseUrl (the chart's validateValues refuses a hostname).
                    "database": obj({"cidr": CIDR_OR_EMPTY, "port": PORT}),
                    "llm": obj({"cidr": CIDR, "port": PORT, "except": {"type": "array", "items": CIDR}}),
                }
            ),
            "tests": obj(
                {
                    "enabled": {"type": "boolean"},
                    "resources": obj(
                        {
                            "requests": obj({"cpu": CPU, "memory": MEM, "ephemeral-storage": DISK}),
                            "limits": obj({"cpu": CPU, "memory": MEM, "ephemeral-storage": DISK}),
                        }
                    ),
                }
            ),
        },
        ["config", "secrets", "backend", "frontend"],
    ),
}


def main() -> None:
    print(json.dumps(schema, indent=2))


if __name__ == "__main__":
    main()

{{- /*
provenance: generated-by=claude-code; reviewed-by=hand; reason=kubectl-ai was not available on this machine (no network beyond package registries) and it drafts manifests, not helper templates; written with Claude Code in the Bitnami helper style
*/ -}}

{{/* The chart name, or nameOverride. */}}
{{- define "todo-chatbot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-<chart>", or the release name when it already contains the chart name, or fullnameOverride. */}}
{{- define "todo-chatbot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Names of the component resources (Deployment, Service, ConfigMap, PDB share them). */}}
{{- define "todo-chatbot.backend.fullname" -}}
{{- printf "%s-backend" (include "todo-chatbot.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "todo-chatbot.frontend.fullname" -}}
{{- printf "%s-frontend" (include "todo-chatbot.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "name-version" of the chart, for the helm.sh/chart label. */}}
{{- define "todo-chatbot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: name + instance + component. Immutable once installed; a strict subset of the labels. */}}
{{- define "todo-chatbot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "todo-chatbot.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every label of a resource. Usage: include "todo-chatbot.labels" (dict "context" $ "component" "backend") */}}
{{- define "todo-chatbot.labels" -}}
{{ include "todo-chatbot.selectorLabels" . }}
app.kubernetes.io/version: {{ .context.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/part-of: {{ include "todo-chatbot.name" .context }}
helm.sh/chart: {{ include "todo-chatbot.chart" .context }}
{{- with .context.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Metadata annotations shared by every resource (commonAnnotations), as a block or nothing. */}}
{{- define "todo-chatbot.annotations" -}}
{{- with .Values.commonAnnotations -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{/* The ServiceAccount the pods run as. */}}
{{- define "todo-chatbot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "todo-chatbot.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding DATABASE_URL, JWT_SECRET and OPENAI_API_KEY. */}}
{{- define "todo-chatbot.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else -}}
{{- include "todo-chatbot.fullname" . -}}
{{- end -}}
{{- end -}}

{{/* The chart's own Secret with PROXY_TOKEN (templates/proxy-token-secret.yaml). */}}
{{- define "todo-chatbot.proxyTokenSecretName" -}}
{{- printf "%s-proxy-token" (include "todo-chatbot.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The UI is published behind the chart's Ingress with TLS: cookies Secure, one trusted proxy hop. */}}
{{- define "todo-chatbot.behindTlsIngress" -}}
{{- if and .Values.ingress.enabled .Values.ingress.tls.enabled -}}true{{- end -}}
{{- end -}}

{{/* The frontend Service's type: ClusterIP behind the chart's Ingress (it is the only way in), else frontend.service.type. */}}
{{- define "todo-chatbot.frontendServiceType" -}}
{{- if .Values.ingress.enabled -}}ClusterIP{{- else -}}{{ .Values.frontend.service.type }}{{- end -}}
{{- end -}}

{{/* "repository:tag" of a component's image; the tag defaults to the chart's appVersion. Usage: include "todo-chatbot.image" (dict "image" .Values.backend.image "context" $) */}}
{{- define "todo-chatbot.image" -}}
{{- printf "%s:%s" .image.repository (default .context.Chart.AppVersion .image.tag | toString) -}}
{{- end -}}

{{/* The frontend's BACKEND_URL: config.backendUrl or the backend Service by its templated name. */}}
{{- define "todo-chatbot.backendUrl" -}}
{{- if .Values.config.backendUrl -}}
{{- .Values.config.backendUrl -}}
{{- else -}}
{{- printf "http://%s:%v" (include "todo-chatbot.backend.fullname" .) .Values.backend.service.ports.http -}}
{{- end -}}
{{- end -}}

{{/* Feature flags as FEATURE_<NAME>: "true"|"false" lines for a ConfigMap. */}}
{{- define "todo-chatbot.featureFlags" -}}
{{- range $name, $on := .Values.config.featureFlags }}
{{ printf "FEATURE_%s" ($name | snakecase | upper) }}: {{ $on | toString | quote }}
{{- end }}
{{- end -}}

{{/*
A probe block. Usage: include "todo-chatbot.probe" (dict "probe" .Values.backend.livenessProbe)
The port is the container port's name, so the probe follows containerPorts.http.
*/}}
{{- define "todo-chatbot.probe" -}}
httpGet:
  path: {{ .probe.path }}
  port: http
initialDelaySeconds: {{ .probe.initialDelaySeconds }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
successThreshold: {{ .probe.successThreshold }}
{{- with .probe.terminationGracePeriodSeconds }}
terminationGracePeriodSeconds: {{ . }}
{{- end }}
{{- end -}}

{{/*
The preStop hook: keep serving while the endpoints controller and kube-proxy drop the pod,
then let SIGTERM start the application's graceful shutdown. The `sleep` action (beta and on by
default since Kubernetes 1.30) needs nothing in the image; on 1.29 fall back to exec `sleep`,
which the Debian-based images carry.
Usage: include "todo-chatbot.preStop" (dict "seconds" .Values.backend.preStopSleepSeconds "context" $)
*/}}
{{- define "todo-chatbot.preStop" -}}
{{- if gt (int .seconds) 0 }}
lifecycle:
  preStop:
    {{- if semverCompare ">=1.30.0-0" .context.Capabilities.KubeVersion.Version }}
    sleep:
      seconds: {{ int .seconds }}
    {{- else }}
    exec:
      command: ["sleep", "{{ int .seconds }}"]
    {{- end }}
{{- end }}
{{- end -}}

{{/* Volumes and mounts for the writable paths: one emptyDir per path, named after it. */}}
{{- define "todo-chatbot.writableVolumes" -}}
{{- $limit := .sizeLimit -}}
{{- range .paths }}
- name: {{ printf "rw%s" (. | replace "/" "-" | replace "." "" | replace "_" "-" | lower) | trunc 63 | trimSuffix "-" }}
  emptyDir:
    sizeLimit: {{ $limit }}
{{- end }}
{{- end -}}
{{- define "todo-chatbot.writableMounts" -}}
{{- range .paths }}
- name: {{ printf "rw%s" (. | replace "/" "-" | replace "." "" | replace "_" "-" | lower) | trunc 63 | trimSuffix "-" }}
  mountPath: {{ . }}
{{- end }}
{{- end -}}

{{/* The TLS Secret of the Ingress: ingress.tls.secretName or "<fullname>-tls". */}}
{{- define "todo-chatbot.ingressTlsSecretName" -}}
{{- default (printf "%s-tls" (include "todo-chatbot.fullname" .)) .Values.ingress.tls.secretName -}}
{{- end -}}

{{/* A NetworkPolicy egress rule to the cluster DNS (UDP and TCP). Usage: include "todo-chatbot.networkPolicy.dnsEgress" .Values.networkPolicy */}}
{{- define "todo-chatbot.networkPolicy.dnsEgress" -}}
# Name resolution through the cluster DNS only.
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .dns.namespace }}
      podSelector:
        matchLabels:
          {{- toYaml .dns.podLabels | nindent 10 }}
  ports:
    - protocol: UDP
      port: {{ .dns.port }}
    - protocol: TCP
      port: {{ .dns.port }}
{{- end -}}

{{/*
The database's address as a URL names it, for the NetworkPolicy (security issue 27): the host and
the port of secrets.databaseUrl, as a dict {"host": ..., "port": ...} in JSON ("" each when there is
no such URL in the values). With secrets.existingSecret the backend reads DATABASE_URL from that
Secret, which the chart cannot see when it renders: any secrets.databaseUrl in the values then is
not the one in use, so it is not read. Usage: include "todo-chatbot.databaseUrlAddress" . | fromJson
*/}}
{{- define "todo-chatbot.databaseUrlAddress" -}}
{{- $host := "" -}}
{{- $port := "" -}}
{{- if and .Values.secrets.databaseUrl (not .Values.secrets.existingSecret) -}}
{{- /* Only the authority (host:port) goes to urlParse: a URL it cannot parse fails the render with
the URL in the message, and the rest holds the password (user:password@, or ?password=). The
greedy ".*@" drops userinfo even when the password holds an unescaped "@" or "/". */ -}}
{{- $afterUser := regexReplaceAll "^[^:]*://(.*@)?" .Values.secrets.databaseUrl "" -}}
{{- $url := urlParse (printf "postgresql://%s" (regexFind "^[^/?#]*" $afterUser)) -}}
{{- /* urlParse gives the host without brackets ("hostname") and "host:port" ("host"), no port of its own. */ -}}
{{- $host = $url.hostname -}}
{{- $port = trimPrefix ":" (regexFind ":[0-9]+$" $url.host) -}}
{{- end -}}
{{- dict "host" $host "port" $port | toJson -}}
{{- end -}}

{{/*
The CIDR the backend may reach PostgreSQL at (security issue 27: never "anywhere" by default):
networkPolicy.database.cidr when set (0.0.0.0/0 too: an explicit choice); else the host of
secrets.databaseUrl when it is an IP address (IPv4 /32, IPv6 /128); else "" and validateValues
refuses the values, naming networkPolicy.database.cidr. A hostname is not resolved: its address
may change, and a policy holds addresses only.
*/}}
{{- define "todo-chatbot.networkPolicy.databaseCidr" -}}
{{- if .Values.networkPolicy.database.cidr -}}
{{- .Values.networkPolicy.database.cidr -}}
{{- else -}}
{{- $host := (include "todo-chatbot.databaseUrlAddress" . | fromJson).host -}}
{{- if regexMatch "^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])[.]){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$" $host -}}
{{- printf "%s/32" $host -}}
{{- else if and (contains ":" $host) (regexMatch "^[0-9A-Fa-f:.]+$" $host) -}}
{{- printf "%s/128" $host -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The database port of the NetworkPolicy: the port in secrets.databaseUrl, else networkPolicy.database.port. */}}
{{- define "todo-chatbot.networkPolicy.databasePort" -}}
{{- default .Values.networkPolicy.database.port (include "todo-chatbot.databaseUrlAddress" . | fromJson).port -}}
{{- end -}}

{{/*
A component's affinity: its own .affinity when set, else the pod anti-affinity preset (Bitnami's
podAntiAffinityPreset): "soft" prefers a node without another replica of the component (a single
node still runs them all), "hard" requires one (a replica with no such node stays Pending), ""
none. Usage: include "todo-chatbot.affinity" (dict "context" $ "component" "backend" "values" .Values.backend)
*/}}
{{- define "todo-chatbot.affinity" -}}
{{- if .values.affinity -}}
{{- toYaml .values.affinity -}}
{{- else if eq .values.podAntiAffinityPreset "soft" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "todo-chatbot.selectorLabels" . | nindent 12 }}
{{- else if eq .values.podAntiAffinityPreset "hard" -}}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "todo-chatbot.selectorLabels" . | nindent 10 }}
{{- end -}}
{{- end -}}

{{/*
Every problem with the values, collected into one message (Bitnami's validateValues).
The schema (values.schema.json) checks types; this checks what a schema cannot say well.
*/}}
{{- define "todo-chatbot.validateValues" -}}
{{- $problems := list -}}
{{- if not .Values.secrets.existingSecret -}}
{{- if not .Values.secrets.databaseUrl -}}
{{- $problems = append $problems "secrets.databaseUrl is required: --set secrets.databaseUrl='postgresql://USER:PASSWORD@HOST:5432/DB' (or create a Secret with DATABASE_URL, JWT_SECRET[, OPENAI_API_KEY] and --set secrets.existingSecret=NAME)" -}}
{{- end -}}
{{- if not .Values.secrets.jwtSecret -}}
{{- $problems = append $problems "secrets.jwtSecret is required: --set secrets.jwtSecret=\"$(openssl rand -hex 32)\" (or --set secrets.existingSecret=NAME)" -}}
{{- else if lt (len .Values.secrets.jwtSecret) 32 -}}
{{- $problems = append $problems (printf "secrets.jwtSecret is %d characters; it must be at least 32: --set secrets.jwtSecret=\"$(openssl rand -hex 32)\"" (len .Values.secrets.jwtSecret)) -}}
{{- else -}}
{{- with include "todo-chatbot.jwtSecretProblem" .Values.secrets.jwtSecret -}}
{{- $problems = append $problems (printf "secrets.jwtSecret %s: --set secrets.jwtSecret=\"$(openssl rand -hex 32)\"" .) -}}
{{- end -}}
{{- end -}}
{{- if and (eq .Values.config.chatProvider "openai") (not .Values.secrets.openaiApiKey) -}}
{{- $problems = append $problems "config.chatProvider=openai needs secrets.openaiApiKey: --set secrets.openaiApiKey=sk-... (or use config.chatProvider=rules)" -}}
{{- end -}}
{{- end -}}
{{- range $component := list "backend" "frontend" -}}
{{- $c := index $.Values $component -}}
{{- if eq (toString $c.image.tag) "latest" -}}
{{- $problems = append $problems (printf "%s.image.tag=latest is refused: pin a version, e.g. --set %s.image.tag=%s" $component $component $.Chart.AppVersion) -}}
{{- end -}}
{{- if not (has (toString $c.podAntiAffinityPreset) (list "" "soft" "hard")) -}}
{{- $problems = append $problems (printf "%s.podAntiAffinityPreset=%v: use soft (spread when there are nodes to spread on), hard (one replica per node) or \"\" (none)" $component $c.podAntiAffinityPreset) -}}
{{- end -}}
{{- if and $c.livenessProbe.terminationGracePeriodSeconds (ge (int $c.preStopSleepSeconds) (int $c.livenessProbe.terminationGracePeriodSeconds)) -}}
{{- $problems = append $problems (printf "%s.preStopSleepSeconds (%v) must be less than %s.livenessProbe.terminationGracePeriodSeconds (%v), or a container restarted by its liveness probe is killed during its preStop pause" $component $c.preStopSleepSeconds $component $c.livenessProbe.terminationGracePeriodSeconds) -}}
{{- end -}}
{{- if ge (int $c.preStopSleepSeconds) (int $c.terminationGracePeriodSeconds) -}}
{{- $problems = append $problems (printf "%s.preStopSleepSeconds (%v) must be less than %s.terminationGracePeriodSeconds (%v), or the application gets no time to shut down gracefully" $component $c.preStopSleepSeconds $component $c.terminationGracePeriodSeconds) -}}
{{- end -}}
{{- end -}}
{{- /* TLS beyond the machine (issue 27): a LoadBalancer or an Ingress without TLS publishes the UI,
its passwords and its session cookie in clear text; a laptop's NodePort stays plain HTTP by default. */ -}}
{{- if and (eq .Values.frontend.service.type "LoadBalancer") (not .Values.ingress.enabled) (not .Values.frontend.service.allowPlainHttp) -}}
{{- $problems = append $problems "frontend.service.type=LoadBalancer publishes the UI over plain HTTP beyond this machine: serve it over TLS with --set ingress.enabled=true --set ingress.hostname=HOST (TLS on by default), or, for a load balancer only this machine reaches (minikube tunnel, Docker Desktop), --set frontend.service.allowPlainHttp=true" -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not .Values.ingress.tls.enabled) (not .Values.ingress.allowPlainHttp) -}}
{{- $problems = append $problems "ingress.tls.enabled=false publishes the UI over plain HTTP: keep --set ingress.tls.enabled=true (with the certificate in ingress.tls.secretName), or --set ingress.allowPlainHttp=true if TLS ends before the ingress controller" -}}
{{- end -}}
{{- if and (hasPrefix "http://" .Values.config.openaiBaseUrl) (not .Values.config.openaiAllowHttp) -}}
{{- $problems = append $problems "config.openaiBaseUrl is plain http:// (the API key and every chat in clear text): use https://, or --set config.openaiAllowHttp=true for a model server inside the cluster" -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not .Values.ingress.hostname) -}}
{{- $problems = append $problems "ingress.enabled needs ingress.hostname: --set ingress.hostname=todo.example.com (the host the TLS certificate is for)" -}}
{{- end -}}
{{- /*
Connections to PostgreSQL in the worst case: during a rolling update one surge pod (maxSurge 1)
runs beside replicaCount pods, and each may open poolSize + maxOverflow connections.
*/ -}}
{{- $db := .Values.backend.database -}}
{{- $worst := mul (add (int .Values.backend.replicaCount) 1) (add (int $db.poolSize) (int $db.maxOverflow)) -}}
{{- $room := sub (int $db.maxConnections) (int $db.reservedConnections) -}}
{{- if gt (int $worst) (int $room) -}}
{{- $problems = append $problems (printf "backend.database: (replicaCount %d + 1 surge pod) x (poolSize %d + maxOverflow %d) = %d connections exceeds maxConnections %d - reservedConnections %d = %d: lower the pool or the replicas, or raise backend.database.maxConnections to the server's max_connections" (int .Values.backend.replicaCount) (int $db.poolSize) (int $db.maxOverflow) (int $worst) (int $db.maxConnections) (int $db.reservedConnections) (int $room)) -}}
{{- end -}}
{{- if and .Values.frontend.service.nodePorts.http (eq .Values.frontend.service.type "ClusterIP") -}}
{{- $problems = append $problems "frontend.service.nodePorts.http is set but frontend.service.type is ClusterIP: use type NodePort or LoadBalancer, or unset the node port" -}}
{{- end -}}
{{- /* Egress to the database names its address (issue 27); it is in DATABASE_URL, so when the chart
cannot read an IP address there, the user must name it. */ -}}
{{- if and .Values.networkPolicy.enabled (not (include "todo-chatbot.networkPolicy.databaseCidr" .)) -}}
{{- $why := "secrets.databaseUrl names no host to read it from" -}}
{{- $host := (include "todo-chatbot.databaseUrlAddress" . | fromJson).host -}}
{{- if .Values.secrets.existingSecret -}}
{{- $why = "secrets.existingSecret holds DATABASE_URL, which the chart cannot read" -}}
{{- else if $host -}}
{{- $why = printf "the host of secrets.databaseUrl (%s) is not an IP address" $host -}}
{{- end -}}
{{- $problems = append $problems (printf "networkPolicy.enabled needs the database's addresses and %s: set networkPolicy.database.cidr to the PostgreSQL server's IP range, e.g. --set networkPolicy.database.cidr=10.0.0.5/32" $why) -}}
{{- end -}}
{{- if $problems -}}
{{- fail (printf "\n\nVALUES ERROR (todo-chatbot):\n  - %s\n" (join "\n  - " $problems)) -}}
{{- end -}}
{{- end -}}

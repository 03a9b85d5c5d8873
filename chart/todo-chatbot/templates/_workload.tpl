{{- /*
provenance: generated-by=claude-code; reviewed-by=hand; reason=kubectl-ai was not available on this machine (no network beyond package registries); the two Deployments differ only in their values and the backend's credentials, so one hand-reviewed template renders both
*/ -}}

{{/*
A component's Deployment. Usage:
  include "todo-chatbot.deployment" (dict "context" $ "component" "backend" "values" .Values.backend "secretEnv" true)
*/}}
{{- define "todo-chatbot.deployment" -}}
{{- $ctx := .context -}}
{{- $component := .component -}}
{{- $v := .values -}}
{{- $name := include (printf "todo-chatbot.%s.fullname" $component) $ctx -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "todo-chatbot.labels" (dict "context" $ctx "component" $component) | nindent 4 }}
  {{- with include "todo-chatbot.annotations" $ctx }}{{ . | nindent 2 }}{{ end }}
spec:
  replicas: {{ $v.replicaCount }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "todo-chatbot.selectorLabels" (dict "context" $ctx "component" $component) | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # Never below the desired count: a new pod must be Ready before an old one goes.
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        {{- include "todo-chatbot.labels" (dict "context" $ctx "component" $component) | nindent 8 }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        # Changed configuration changes these, so `helm upgrade` rolls the pods by itself.
        checksum/config: {{ include (print $ctx.Template.BasePath "/configmap.yaml") $ctx | sha256sum }}
        {{- if .secretEnv }}
        checksum/secret: {{ (ternary (printf "existingSecret=%s" $ctx.Values.secrets.existingSecret) (include (print $ctx.Template.BasePath "/secret.yaml") $ctx) (not (empty $ctx.Values.secrets.existingSecret))) | sha256sum }}
        {{- end }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "todo-chatbot.serviceAccountName" $ctx }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
      securityContext:
        {{- toYaml $v.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ $component }}
          image: {{ include "todo-chatbot.image" (dict "image" $v.image "context" $ctx) | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ $v.containerPorts.http }}
              protocol: TCP
          # Non-sensitive settings from the component's ConfigMap (keys are the variable names).
          envFrom:
            - configMapRef:
                name: {{ $name }}
          env:
            # The frontend's proof to the backend that X-Todo-Client is its own (proxy-token-secret.yaml).
            - name: PROXY_TOKEN
              valueFrom:
                secretKeyRef:
                  name: {{ include "todo-chatbot.proxyTokenSecretName" $ctx }}
                  key: PROXY_TOKEN
            {{- if .secretEnv }}
            # Credentials only through secretKeyRef, never a literal or a ConfigMap.
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: {{ include "todo-chatbot.secretName" $ctx }}
                  key: DATABASE_URL
            - name: JWT_SECRET
              valueFrom:
                secretKeyRef:
                  name: {{ include "todo-chatbot.secretName" $ctx }}
                  key: JWT_SECRET
            - name: OPENAI_API_KEY
              valueFrom:
                secretKeyRef:
                  name: {{ include "todo-chatbot.secretName" $ctx }}
                  key: OPENAI_API_KEY
                  optional: true
            {{- end }}
            {{- with $v.extraEnvVars }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- if $v.startupProbe.enabled }}
          startupProbe:
            {{- include "todo-chatbot.probe" (dict "probe" $v.startupProbe) | nindent 12 }}
          {{- end }}
          {{- if $v.livenessProbe.enabled }}
          livenessProbe:
            {{- include "todo-chatbot.probe" (dict "probe" $v.livenessProbe) | nindent 12 }}
          {{- end }}
          {{- if $v.readinessProbe.enabled }}
          readinessProbe:
            {{- include "todo-chatbot.probe" (dict "probe" $v.readinessProbe) | nindent 12 }}
          {{- end }}
          {{- with include "todo-chatbot.preStop" (dict "seconds" $v.preStopSleepSeconds "context" $ctx) | trim }}{{ . | nindent 10 }}{{ end }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $v.containerSecurityContext | nindent 12 }}
          volumeMounts:
            {{- include "todo-chatbot.writableMounts" (dict "paths" $v.writablePaths) | trim | nindent 12 }}
      volumes:
        {{- include "todo-chatbot.writableVolumes" (dict "paths" $v.writablePaths "sizeLimit" $v.emptyDirSizeLimit) | trim | nindent 8 }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with include "todo-chatbot.affinity" (dict "context" $ctx "component" $component "values" $v) | trim }}
      affinity:
        {{- . | nindent 8 }}
      {{- end }}
{{- end -}}

{{/* A component's PodDisruptionBudget, when it has more than one replica. */}}
{{- define "todo-chatbot.pdb" -}}
{{- $ctx := .context -}}
{{- $v := .values -}}
{{- if and $v.pdb.create (gt (int $v.replicaCount) 1) }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include (printf "todo-chatbot.%s.fullname" .component) $ctx }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "todo-chatbot.labels" (dict "context" $ctx "component" .component) | nindent 4 }}
  {{- with include "todo-chatbot.annotations" $ctx }}{{ . | nindent 2 }}{{ end }}
spec:
  minAvailable: {{ $v.pdb.minAvailable }}
  selector:
    matchLabels:
      {{- include "todo-chatbot.selectorLabels" (dict "context" $ctx "component" .component) | nindent 6 }}
{{- end }}
{{- end -}}

{{/* The chart name, overridable. */}}
{{- define "quickstep.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* RELEASE-quickstep (or the release name alone when it already says quickstep), max 63. */}}
{{- define "quickstep.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "quickstep.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "quickstep.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: quickstep
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: include with (dict "root" $ "component" "worker"). */}}
{{- define "quickstep.selectorLabels" -}}
app.kubernetes.io/name: {{ include "quickstep.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "quickstep.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "quickstep.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "quickstep.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret both workloads read as environment, if any. */}}
{{- define "quickstep.secretName" -}}
{{- if .Values.secret.existingSecret }}
{{- .Values.secret.existingSecret }}
{{- else if .Values.secret.create }}
{{- include "quickstep.fullname" . }}
{{- end }}
{{- end }}

{{- define "quickstep.definitionsConfigMap" -}}
{{- default (printf "%s-definitions" (include "quickstep.fullname" .)) .Values.existingDefinitionsConfigMap }}
{{- end }}

{{/* The worker's TOML: the user's settings plus what the chart owns. Written by hand, not
with toToml: Helm reads every YAML number as a float, and toToml would write 1024 as 1024.0,
which the worker's integer settings refuse. Each key is `key = value`, maps and lists inline;
keys set to null are left out (the worker's default applies). */}}
{{- define "quickstep.workerToml" -}}
{{- $config := deepCopy .Values.worker.config }}
{{- $_ := set $config "brokers" .Values.kafka.brokers }}
{{- $_ := set $config "definitions" "/etc/quickstep/definitions" }}
{{- $_ := set $config "metrics_address" (printf "0.0.0.0:%d" (int .Values.worker.metricsPort)) }}
{{- range $key := keys $config | sortAlpha }}
{{- $value := index $config $key }}
{{- if not (kindIs "invalid" $value) }}
{{ $key }} = {{ include "quickstep.tomlValue" $value }}
{{- end }}
{{- end }}
{{- end }}

{{/* One TOML value: strings as JSON strings (valid TOML basic strings), whole numbers as
integers, lists and maps inline. */}}
{{- define "quickstep.tomlValue" -}}
{{- if kindIs "string" . }}{{ toJson . }}
{{- else if kindIs "bool" . }}{{ . }}
{{- else if or (kindIs "float64" .) (kindIs "int" .) (kindIs "int64" .) }}{{ if eq (float64 .) (floor .) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- else if kindIs "slice" . }}[{{ range $i, $v := . }}{{ if $i }}, {{ end }}{{ include "quickstep.tomlValue" $v }}{{ end }}]
{{- else if kindIs "map" . }}{ {{- $map := . }}{{ range $i, $k := keys $map | sortAlpha }}{{ if $i }},{{ end }} {{ toJson $k }} = {{ include "quickstep.tomlValue" (index $map $k) }}{{ end }} }
{{- else }}{{ fail (printf "worker.config: cannot write %v (%s) as TOML" . (kindOf .)) }}
{{- end }}
{{- end }}

{{/* Default affinity: prefer one pod of a component per node. */}}
{{- define "quickstep.affinity" -}}
{{- if .affinity }}
{{- toYaml .affinity }}
{{- else }}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "quickstep.selectorLabels" (dict "root" .root "component" .component) | nindent 12 }}
{{- end }}
{{- end }}

{{/* The Secret holding the task token key: the user's, or the one the chart creates. */}}
{{- define "quickstep.taskTokenSecretName" -}}
{{- .Values.taskTokenKey.existingSecret | default (printf "%s-task-token" (include "quickstep.fullname" .)) -}}
{{- end }}

{{/* QUICKSTEP_TASK_TOKEN_KEY (required) and QUICKSTEP_TASK_TOKEN_PREVIOUS_KEY (optional) from that Secret. */}}
{{- define "quickstep.taskTokenEnv" -}}
- name: QUICKSTEP_TASK_TOKEN_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "quickstep.taskTokenSecretName" . }}
      key: {{ .Values.taskTokenKey.secretKey }}
- name: QUICKSTEP_TASK_TOKEN_PREVIOUS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "quickstep.taskTokenSecretName" . }}
      key: {{ .Values.taskTokenKey.previousSecretKey }}
      optional: true
{{- end }}

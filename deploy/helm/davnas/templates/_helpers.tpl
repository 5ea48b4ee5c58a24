{{/*
Chart name, truncated to 63 characters (a DNS label).
*/}}
{{- define "davnas.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: fullnameOverride, else the release name when it contains the chart
name (release "davnas" gives "davnas"), else "<release>-<chart>".
*/}}
{{- define "davnas.fullname" -}}
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

{{- define "davnas.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: stable for the life of the release (a Deployment's selector
is immutable).
*/}}
{{- define "davnas.selectorLabels" -}}
app.kubernetes.io/name: {{ include "davnas.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "davnas.labels" -}}
helm.sh/chart: {{ include "davnas.chart" . }}
{{ include "davnas.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: server
app.kubernetes.io/part-of: davnas
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Pod labels: those of every object but helm.sh/chart, so that a new chart
version that changes nothing in the pod does not restart it (with Recreate a
restart is a short outage).
*/}}
{{- define "davnas.podLabels" -}}
{{ include "davnas.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: server
app.kubernetes.io/part-of: davnas
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- with .Values.podLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "davnas.serviceName" -}}
{{- default (include "davnas.fullname" .) .Values.service.name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "davnas.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The PVC the data volume uses: existingClaim, else the chart's own. */}}
{{- define "davnas.claimName" -}}
{{- default (include "davnas.fullname" .) .Values.persistence.existingClaim }}
{{- end }}

{{/* Whether auth is on: "true" or "". */}}
{{- define "davnas.authEnabled" -}}
{{- if or .Values.auth.existingSecret .Values.auth.htpasswd .Values.auth.tokens }}true{{ end }}
{{- end }}

{{- define "davnas.authSecretName" -}}
{{- default (printf "%s-auth" (include "davnas.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{/* File name (Secret key) of the htpasswd file, or "" when there is none. */}}
{{- define "davnas.htpasswdKey" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecretKeys.htpasswd }}{{ else if .Values.auth.htpasswd }}htpasswd{{ end }}
{{- end }}

{{/* File name (Secret key) of the token file, or "" when there is none. */}}
{{- define "davnas.tokensKey" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecretKeys.tokens }}{{ else if .Values.auth.tokens }}tokens{{ end }}
{{- end }}

{{/* HTTP or HTTPS: the scheme of port 3000. */}}
{{- define "davnas.scheme" -}}
{{- if .Values.tls.enabled }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/*
The metrics port number parsed from metrics.listen (":9090", "9090",
"0.0.0.0:9090", "[::]:9090"), or "" when /metrics is on port 3000.
*/}}
{{- define "davnas.metricsPort" -}}
{{- with .Values.metrics.listen }}
{{- $l := toString . }}
{{- $port := regexReplaceAll "^.*:" $l "" }}
{{- if or (not (regexMatch "^[0-9]{1,5}$" $port)) (gt (atoi $port) 65535) (lt (atoi $port) 1) }}
{{- fail (printf "metrics.listen %q: want \":PORT\" or \"PORT\"" $l) }}
{{- end }}
{{- if eq (atoi $port) 3000 }}
{{- fail "metrics.listen must not use port 3000, davnas's own port; leave it empty to serve /metrics there" }}
{{- end }}
{{- $port }}
{{- end }}
{{- end }}

{{/*
Checks of combinations the schema cannot express; included by the Deployment.
*/}}
{{- define "davnas.validate" -}}
{{- if and .Values.auth.existingSecret (or .Values.auth.htpasswd .Values.auth.tokens) }}
{{- fail "auth: set either existingSecret or htpasswd/tokens, not both" }}
{{- end }}
{{- if and .Values.auth.existingSecret (not (or .Values.auth.existingSecretKeys.htpasswd .Values.auth.existingSecretKeys.tokens)) }}
{{- fail "auth.existingSecretKeys: at least one of htpasswd and tokens must name a key of auth.existingSecret" }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.tls.secretName) }}
{{- fail "tls.enabled needs tls.secretName (a kubernetes.io/tls Secret, e.g. from cert-manager)" }}
{{- end }}
{{- if and .Values.persistence.existingClaim (not .Values.persistence.enabled) }}
{{- fail "persistence.existingClaim needs persistence.enabled" }}
{{- end }}
{{- end }}

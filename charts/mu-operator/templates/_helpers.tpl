{{/* Names and labels shared by the templates. */}}

{{- define "mu-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mu-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mu-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "mu-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mu-operator.labels" -}}
{{ include "mu-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mu
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The Lease the operator instances elect a leader with (in the release namespace). */}}
{{- define "mu-operator.leaseName" -}}
{{ include "mu-operator.fullname" . }}
{{- end -}}

{{/* Rules for the namespaced objects the operator reconciles: a ClusterRole when it watches every namespace, a
Role in the watched namespace otherwise. */}}
{{- define "mu-operator.managedRules" -}}
- apiGroups: ["mu.rdma.dev"]
  resources: ["muclusters"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["mu.rdma.dev"]
  resources: ["muclusters/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "create", "delete", "patch"]
- apiGroups: [""]
  resources: ["services", "configmaps"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

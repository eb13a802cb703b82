{{/* Labels of every object: the same as deploy/'s, so the chart and kustomize install the same objects. */}}
{{- define "kasprop.labels" -}}
app.kubernetes.io/name: kasprop
{{- end }}

{{/* Labels and selector of the operator's pods. Not app.kubernetes.io/managed-by=kasprop: that label marks the
children of KasprApps, which the operator's informers select. */}}
{{- define "kasprop.operatorLabels" -}}
app.kubernetes.io/name: kasprop
app.kubernetes.io/component: operator
{{- end }}

{{- define "kasprop.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The name of every object (the cluster-scoped ClusterRole and its binding too): nameOverride, else kasprop. */}}
{{- define "kasprop.name" -}}
{{ .Values.nameOverride | default "kasprop" }}
{{- end }}

{{/* Names and labels ------------------------------------------------------------------- */}}

{{- define "medins.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "medins.fullname" -}}
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

{{/* Name of one workload's objects: (dict "root" $ "component" "settlement") */}}
{{- define "medins.componentName" -}}
{{- printf "%s-%s" (include "medins.fullname" .root | trunc 50 | trimSuffix "-") .component -}}
{{- end -}}

{{- define "medins.selectorLabels" -}}
app.kubernetes.io/name: {{ include "medins.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "medins.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{ include "medins.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Values.image.tag | default .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: medins-settlement
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{- define "medins.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "medins.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "medins.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* Where deploy/Dockerfile puts the policy files (tests/deploy checks the two agree). */}}
{{- define "medins.policiesDir" -}}/app/policies{{- end -}}
{{- define "medins.kafkaCaDir" -}}/etc/medins/kafka-ca{{- end -}}
{{- define "medins.registryDir" -}}/etc/medins/senders{{- end -}}

{{/* The registry of Kafka senders (settlement.principals) as the TOML file the service reads. */}}
{{- define "medins.registryToml" -}}
# The registry of Kafka senders, rendered from settlement.principals (docs/operations.md).
{{- range $name, $principal := .Values.settlement.principals }}
[principals.{{ $name }}]
{{- with $principal.fixmedins_codes }}
fixmedins_codes = [{{ range $i, $code := . }}{{ if $i }}, {{ end }}{{ $code | quote }}{{ end }}]
{{- end }}
{{- if $principal.enrolments }}
enrolments = true
{{- end }}
{{- end }}
{{ end -}}

{{/* Grace: the pod is killed only after the preStop pause and the service's own drain time. */}}
{{- define "medins.terminationGracePeriodSeconds" -}}
{{- add (int .Values.preStopSleepSeconds) (ceil .Values.shutdownGraceSeconds | int) 10 -}}
{{- end -}}

{{/* A setting's value as the string the environment carries; whole numbers without exponent. */}}
{{- define "medins.settingString" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) -}}
{{- int64 . -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/* Settings ----------------------------------------------------------------------------- */}}

{{/*
Non-secret settings of one workload as a YAML map of environment variable -> string:
the ones derived from structured values, then the free `config` maps (which the schema
limits to the remaining setting names).
*/}}
{{- define "medins.settings" -}}
{{- $v := .root.Values -}}
{{- $s := dict -}}
{{- $_ := set $s "KAFKA_BOOTSTRAP_SERVERS" (required "kafka.bootstrapServers is required (e.g. medins-kafka-bootstrap.kafka.svc:9093)" $v.kafka.bootstrapServers) -}}
{{- $_ := set $s "KAFKA_SECURITY_PROTOCOL" $v.kafka.securityProtocol -}}
{{- $_ := set $s "KAFKA_TOPIC_PREFIX" ($v.kafka.topicPrefix | default "") -}}
{{- if $v.kafka.saslMechanism -}}
{{- if not (hasPrefix "SASL_" $v.kafka.securityProtocol) -}}
{{- fail "kafka.saslMechanism is set but kafka.securityProtocol is not SASL_PLAINTEXT or SASL_SSL" -}}
{{- end -}}
{{- $_ := set $s "KAFKA_SASL_MECHANISM" $v.kafka.saslMechanism -}}
{{- $_ := set $s "KAFKA_SASL_USERNAME" (required "kafka.saslUsername is required with a SASL mechanism" $v.kafka.saslUsername) -}}
{{- end -}}
{{- if $v.kafka.tlsCa.enabled -}}
{{- $_ := set $s "KAFKA_SSL_CAFILE" (printf "%s/%s" (include "medins.kafkaCaDir" .) $v.kafka.tlsCa.key) -}}
{{- end -}}
{{- $_ := set $s "MEDINS_ENV" $v.environment -}}
{{- if and (eq $v.kafka.securityProtocol "PLAINTEXT") (ne $v.environment "local") -}}
{{- fail "kafka.securityProtocol PLAINTEXT is refused in production (unauthenticated producers); use SASL_SSL, or environment: local for a trial" -}}
{{- end -}}
{{- $_ := set $s "HTTP_PORT" (include "medins.settingString" $v.http.port) -}}
{{- $_ := set $s "HTTP_MAX_BODY_BYTES" (include "medins.settingString" $v.http.maxBodyBytes) -}}
{{- $_ := set $s "HTTP_RATE_LIMIT_PER_SECOND" (include "medins.settingString" $v.http.rateLimit.perSecond) -}}
{{- $_ := set $s "HTTP_RATE_LIMIT_BURST" (include "medins.settingString" $v.http.rateLimit.burst) -}}
{{- $_ := set $s "AUTH_ISSUER" (required "auth.issuer is required: the OIDC issuer of the callers' tokens" $v.auth.issuer) -}}
{{- $_ := set $s "AUTH_AUDIENCE" (required "auth.audience is required: the audience tokens must name" $v.auth.audience) -}}
{{- if $v.auth.jwksUrl -}}
{{- $_ := set $s "AUTH_JWKS_URL" $v.auth.jwksUrl -}}
{{- else if not (hasKey ($v.config | default dict) "AUTH_JWKS_FILE") -}}
{{- fail "auth.jwksUrl is required (or config.AUTH_JWKS_FILE, a JWKS file you mount): where the issuer publishes its keys" -}}
{{- end -}}
{{- $_ := set $s "AUTH_ALGORITHMS" $v.auth.algorithms -}}
{{- $_ := set $s "AUTH_LEEWAY_SECONDS" (include "medins.settingString" $v.auth.leewaySeconds) -}}
{{- $_ := set $s "AUTH_ROLES_CLAIM" $v.auth.rolesClaim -}}
{{- $_ := set $s "SHUTDOWN_GRACE_SECONDS" (include "medins.settingString" $v.shutdownGraceSeconds) -}}
{{- if eq .component "settlement" -}}
{{- $_ := set $s "SETTLEMENT_POLICIES_DIR" (include "medins.policiesDir" .) -}}
{{- $_ := set $s "SETTLEMENT_CONSUMER_GROUP" $v.settlement.consumerGroup -}}
{{- if $v.settlement.principals -}}
{{- $_ := set $s "SETTLEMENT_PRINCIPALS_FILE" (printf "%s/principals.toml" (include "medins.registryDir" .)) -}}
{{- else if ne $v.environment "local" -}}
{{- fail "settlement.principals is required in production: the registry of Kafka senders and the institutions each may send for" -}}
{{- end -}}
{{- else -}}
{{- $_ := set $s "LEDGER_POLICIES_DIR" (include "medins.policiesDir" .) -}}
{{- end -}}
{{- $own := (index $v .component).config | default dict -}}
{{- range $name, $value := merge (deepCopy $own) ($v.config | default dict) -}}
{{- $_ := set $s $name (include "medins.settingString" $value) -}}
{{- end -}}
{{- toYaml $s -}}
{{- end -}}

{{/*
Where each secret setting of a workload comes from: (dict "root" $ "job" bool) -> JSON map of
name -> {name, key} for a Secret that exists, or {value} for one the chart must create. The first
source set wins: secrets.from, then secrets.existingSecret, then secrets.values. The migration
Job gets no Kafka password (it never talks to Kafka) and may use its own DATABASE_URL.
*/}}
{{- define "medins.secretSources" -}}
{{- $v := .root.Values -}}
{{- $names := list "DATABASE_URL" "LOG_PSEUDONYM_KEY" -}}
{{- if and $v.kafka.saslMechanism (not .job) -}}{{- $names = append $names "KAFKA_SASL_PASSWORD" -}}{{- end -}}
{{- $out := dict -}}
{{- range $name := $names -}}
{{- $ref := index ($v.secrets.from | default dict) $name | default dict -}}
{{- if and $.job (eq $name "DATABASE_URL") $v.migration.databaseUrlFrom.name -}}
{{- $ref = $v.migration.databaseUrlFrom -}}
{{- end -}}
{{- if $ref.name -}}
{{- $_ := set $out $name (dict "name" $ref.name "key" $ref.key) -}}
{{- else if $v.secrets.existingSecret -}}
{{- $_ := set $out $name (dict "name" $v.secrets.existingSecret "key" $name) -}}
{{- else -}}
{{- $value := required (printf "secrets.values.%s is required (or set secrets.from.%s or secrets.existingSecret)" $name $name) (index ($v.secrets.values | default dict) $name) -}}
{{- $_ := set $out $name (dict "value" $value) -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* The values of the Secret the chart creates for a workload kind: JSON map name -> value. */}}
{{- define "medins.createdSecrets" -}}
{{- $out := dict -}}
{{- range $name, $source := include "medins.secretSources" . | fromJson -}}
{{- if hasKey $source "value" -}}{{- $_ := set $out $name $source.value -}}{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
env entries reading the secret settings: (dict "root" $ "job" bool "createdSecret" NAME) where
NAME is the chart-created Secret this pod may use (the hook Job has its own, created before it).
*/}}
{{- define "medins.secretEnv" -}}
{{- range $name, $source := include "medins.secretSources" . | fromJson }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $source.name | default $.createdSecret }}
      key: {{ $source.key | default $name }}
{{- end }}
{{- end -}}

{{/* Pods ---------------------------------------------------------------------------------- */}}

{{- define "medins.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "medins.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
The pod spec shared by the Deployments and the migration Job:
(dict "root" $ "component" "settlement"|"ledger" "args" (list ...) "job" bool)
*/}}
{{- define "medins.podSpec" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $c := index $v .component -}}
{{- $name := include "medins.componentName" . -}}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .job }}
serviceAccountName: {{ include "medins.fullname" $root }}-migrate
restartPolicy: Never
{{- else }}
serviceAccountName: {{ include "medins.serviceAccountName" $root }}
{{- end }}
automountServiceAccountToken: false
# No docker-link variables: a Service named e.g. "http" would otherwise inject HTTP_PORT=tcp://...
enableServiceLinks: false
terminationGracePeriodSeconds: {{ include "medins.terminationGracePeriodSeconds" $root }}
securityContext:
  {{- include "medins.podSecurityContext" $root | nindent 2 }}
{{- if not .job }}
{{- with $c.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
topologySpreadConstraints:
  {{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - maxSkew: 1
    topologyKey: {{ $key }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "medins.selectorLabels" (dict "root" $root "component" $.component) | nindent 8 }}
  {{- end }}
{{- end }}
containers:
  - name: {{ .component }}
    image: {{ include "medins.image" $root }}
    imagePullPolicy: {{ $v.image.pullPolicy }}
    command: [{{ if .job }}"ledger"{{ else }}{{ .component | quote }}{{ end }}]
    args:
      {{- range .args }}
      - {{ . | quote }}
      {{- end }}
    {{- if .job }}
    # Non-secret settings inline: a hook runs before the release's ConfigMaps exist.
    env:
      {{- range $key, $value := include "medins.settings" (dict "root" $root "component" "ledger") | fromYaml }}
      - name: {{ $key }}
        value: {{ $value | quote }}
      {{- end }}
      {{- include "medins.secretEnv" (dict "root" $root "job" true "createdSecret" (printf "%s-migrate" (include "medins.fullname" $root))) | trim | nindent 6 }}
    {{- else }}
    envFrom:
      - configMapRef:
          name: {{ $name }}
    env:
      {{- include "medins.secretEnv" (dict "root" $root "job" false "createdSecret" (include "medins.fullname" $root)) | trim | nindent 6 }}
    ports:
      - name: http
        containerPort: {{ $v.http.port }}
        protocol: TCP
    startupProbe:
      httpGet: {path: /healthz, port: http}
      periodSeconds: 2
      failureThreshold: 30
    livenessProbe:
      httpGet: {path: /healthz, port: http}
      periodSeconds: 10
      timeoutSeconds: 2
      failureThreshold: 3
    readinessProbe:
      httpGet: {path: /readyz, port: http}
      periodSeconds: 5
      timeoutSeconds: 2
      failureThreshold: 3
    lifecycle:
      preStop:
        exec:
          command: ["sleep", "{{ $v.preStopSleepSeconds }}"]
    {{- end }}
    resources:
      {{- toYaml (ternary $v.migration.resources $c.resources (default false .job)) | nindent 6 }}
    securityContext:
      {{- include "medins.containerSecurityContext" $root | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      {{- if $v.kafka.tlsCa.enabled }}
      - name: kafka-ca
        mountPath: {{ include "medins.kafkaCaDir" $root }}
        readOnly: true
      {{- end }}
      {{- if and (eq .component "settlement") $v.settlement.principals }}
      - name: senders
        mountPath: {{ include "medins.registryDir" $root }}
        readOnly: true
      {{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ $v.tmpSizeLimit }}
  {{- if and (eq .component "settlement") $v.settlement.principals }}
  - name: senders
    configMap:
      name: {{ include "medins.componentName" (dict "root" $root "component" "senders") }}
  {{- end }}
  {{- with $v.kafka.tlsCa }}
  {{- if .enabled }}
  - name: kafka-ca
    {{- if and .secretName (not .configMapName) }}
    secret:
      secretName: {{ .secretName }}
      items: [{key: {{ .key }}, path: {{ .key }}}]
    {{- else if and .configMapName (not .secretName) }}
    configMap:
      name: {{ .configMapName }}
      items: [{key: {{ .key }}, path: {{ .key }}}]
    {{- else }}
    {{- fail "kafka.tlsCa: set exactly one of secretName and configMapName" }}
    {{- end }}
  {{- end }}
  {{- end }}
{{- end -}}

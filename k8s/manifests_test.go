// Package k8s holds the Kubernetes manifests of scim-bridge (a kustomize
// base, an overlay and components) and the tests that keep them honest: every
// manifest decodes strictly into the Kubernetes API types, so a misspelt
// field fails here instead of being dropped by the API server, and the
// properties the service depends on (three replicas rolled one at a time,
// the probes, the security context, the configuration names) are asserted.
package k8s

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// doc is one YAML document of a manifest file, decoded into its API type.
type doc struct {
	file string // slash path relative to k8s/
	kind string // apiVersion + " " + kind
	obj  any    // *appsv1.Deployment, *corev1.ConfigMap, ... or *kustomization
}

// kustomization is the part of kustomize's Kustomization and Component that
// these manifests use; a field outside it fails the strict decode.
type kustomization struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Labels     []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors"`
		IncludeTemplates bool              `json:"includeTemplates"`
	} `json:"labels"`
	Resources  []string `json:"resources"`
	Components []string `json:"components"`
	Patches    []struct {
		Path string `json:"path"`
	} `json:"patches"`
	ConfigMapGenerator []struct {
		Name    string   `json:"name"`
		Files   []string `json:"files"`
		Options struct {
			DisableNameSuffixHash bool              `json:"disableNameSuffixHash"`
			Labels                map[string]string `json:"labels"`
		} `json:"options"`
	} `json:"configMapGenerator"`
}

// serviceMonitor is the part of the Prometheus operator's
// monitoring.coreos.com/v1 ServiceMonitor used here (its Go types are not in
// k8s.io/api); a field outside it fails the strict decode.
type serviceMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// deletePatch is a strategic-merge patch that deletes an object.
type deletePatch struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Patch string `json:"$patch"`
}

// newObject returns the typed object for apiVersion and kind, or nil.
func newObject(apiVersion, kind string) any {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}
	case "v1 Service":
		return &corev1.Service{}
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}
	case "v1 Secret":
		return &corev1.Secret{}
	case "v1 PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return &serviceMonitor{}
	case "kustomize.config.k8s.io/v1beta1 Kustomization", "kustomize.config.k8s.io/v1alpha1 Component":
		return &kustomization{}
	}
	return nil
}

// loadAll decodes every YAML document of every file under k8s/ strictly.
func loadAll(t *testing.T) []doc {
	t.Helper()
	var docs []doc
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		ds, err := decodeFile(filepath.ToSlash(path), data)
		if err != nil {
			t.Error(err)
		}
		docs = append(docs, ds...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("no manifests found under k8s/")
	}
	return docs
}

// decodeFile splits data into YAML documents and decodes each strictly
// (unknown or duplicate fields are errors) into the type its apiVersion and
// kind name.
func decodeFile(file string, data []byte) ([]doc, error) {
	var docs []doc
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 0; ; i++ {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, fmt.Errorf("%s: document %d: %v", file, i, err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(raw, &tm); err != nil {
			return docs, fmt.Errorf("%s: document %d: %v", file, i, err)
		}
		if tm.APIVersion == "" && tm.Kind == "" {
			if js, _ := yaml.YAMLToJSON(raw); string(js) != "null" {
				return docs, fmt.Errorf("%s: document %d has no apiVersion and kind", file, i)
			}
			continue // comments only
		}
		var probe struct {
			Patch string `json:"$patch"`
		}
		obj := newObject(tm.APIVersion, tm.Kind)
		if yaml.Unmarshal(raw, &probe) == nil && probe.Patch == "delete" {
			obj = &deletePatch{}
		}
		if obj == nil {
			return docs, fmt.Errorf("%s: document %d: %s %s: no type to check it against; add one to newObject", file, i, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(raw, obj); err != nil {
			return docs, fmt.Errorf("%s: document %d (%s): %v", file, i, tm.Kind, err)
		}
		docs = append(docs, doc{file: file, kind: tm.APIVersion + " " + tm.Kind, obj: obj})
	}
}

func TestDecodeStrictRejectsTypos(t *testing.T) {
	tests := []struct {
		name, yaml string
		wantErr    bool
	}{
		{"valid", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n", false},
		{"misspelt field", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {prots: [{port: 80}]}\n", true},
		{"wrong type", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: one}\n", true},
		{"duplicate key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {A: x, A: y}\n", true},
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", true},
		{"no kind", "metadata: {name: p}\n", true},
		{"comments only", "# nothing\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", false},
		{"kustomization typo", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresource: [a.yaml]\n", true},
		{"servicemonitor typo", "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: m}\nspec: {endpoints: [{prot: http}]}\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeFile("test.yaml", []byte(tt.yaml))
			if (err != nil) != tt.wantErr {
				t.Errorf("decodeFile(%q) error = %v, want error %v", tt.yaml, err, tt.wantErr)
			}
		})
	}
}

// manifests is every decoded document, and the files kustomizations patch
// with (partial objects: decoded strictly, but not checked as whole ones).
type manifests struct {
	docs    []doc
	patches map[string]bool
}

func load(t *testing.T) manifests {
	t.Helper()
	m := manifests{docs: loadAll(t), patches: map[string]bool{}}
	for _, d := range m.docs {
		if k, ok := d.obj.(*kustomization); ok {
			for _, p := range k.Patches {
				m.patches[filepath.ToSlash(filepath.Join(filepath.Dir(d.file), p.Path))] = true
			}
		}
	}
	return m
}

// one returns the single document of type T in file, failing otherwise.
func one[T any](t *testing.T, m manifests, file string) T {
	t.Helper()
	var found []T
	for _, d := range m.docs {
		if v, ok := d.obj.(T); ok && d.file == file {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("%s: %d documents of type %T, want 1", file, len(found), zero)
	}
	return found[0]
}

func TestKustomizationsReferenceWhatExists(t *testing.T) {
	m := load(t)
	referenced := map[string]bool{}
	for _, d := range m.docs {
		k, ok := d.obj.(*kustomization)
		if !ok {
			continue
		}
		if base := filepath.Base(d.file); base != "kustomization.yaml" {
			t.Errorf("%s: a %s must be named kustomization.yaml", d.file, d.kind)
		}
		dir := filepath.Dir(d.file)
		check := func(what, ref, wantKind string) {
			p := filepath.ToSlash(filepath.Join(dir, ref))
			st, err := os.Stat(p)
			if err != nil {
				t.Errorf("%s: %s %q: %v", d.file, what, ref, err)
				return
			}
			if !st.IsDir() {
				referenced[p] = true
				if wantKind == "Component" {
					t.Errorf("%s: component %q is a file, want a directory with a Component", d.file, ref)
				}
				return
			}
			kf := filepath.ToSlash(filepath.Join(p, "kustomization.yaml"))
			data, err := os.ReadFile(kf)
			if err != nil {
				t.Errorf("%s: %s %q: %v", d.file, what, ref, err)
				return
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(data, &tm); err != nil || tm.Kind != wantKind {
				t.Errorf("%s: %s %q is a %q (err %v), want a %s", d.file, what, ref, tm.Kind, err, wantKind)
			}
		}
		for _, r := range k.Resources {
			check("resource", r, "Kustomization")
		}
		for _, c := range k.Components {
			check("component", c, "Component")
		}
		for _, p := range k.Patches {
			check("patch", p.Path, "")
		}
		for _, g := range k.ConfigMapGenerator {
			for _, f := range g.Files {
				if strings.Contains(f, "..") {
					t.Errorf("%s: generator %s reads %q: kustomize reads only below the kustomization", d.file, g.Name, f)
				}
				check("generator file", f, "")
			}
		}
	}
	// Every manifest is applied by some kustomization, except the example
	// Secrets, which must never be (they would replace the real tokens).
	notApplied := map[string]bool{"base/secret.example.yaml": true}
	for _, d := range m.docs {
		if _, ok := d.obj.(*kustomization); ok {
			continue
		}
		if referenced[d.file] == notApplied[d.file] {
			t.Errorf("%s: referenced by a kustomization = %v, want %v", d.file, referenced[d.file], !notApplied[d.file])
		}
	}
}

func TestDeployment(t *testing.T) {
	m := load(t)
	dep := one[*appsv1.Deployment](t, m, "base/deployment.yaml")
	cm := one[*corev1.ConfigMap](t, m, "base/configmap.yaml")

	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 3 {
		t.Errorf("replicas = %s, want 3", ptr(dep.Spec.Replicas))
	}
	// A rolling update starts a new pod before stopping an old one.
	if st := dep.Spec.Strategy; st.Type != appsv1.RollingUpdateDeploymentStrategyType || st.RollingUpdate == nil ||
		st.RollingUpdate.MaxUnavailable == nil || st.RollingUpdate.MaxUnavailable.IntValue() != 0 ||
		st.RollingUpdate.MaxSurge == nil || st.RollingUpdate.MaxSurge.IntValue() != 1 {
		t.Errorf("strategy = %s, want RollingUpdate with maxUnavailable 0 and maxSurge 1", toJSON(st))
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	// Probes: the named port, the right endpoints.
	port, metricsPort := -1, -1
	for _, p := range c.Ports {
		switch p.Name {
		case "http":
			port = int(p.ContainerPort)
		case "metrics":
			metricsPort = int(p.ContainerPort)
		}
	}
	if port < 0 || metricsPort < 0 || port == metricsPort {
		t.Fatalf("container ports %+v: want one named http (SCIM) and another named metrics (/metrics)", c.Ports)
	}
	probes := []struct {
		name     string
		probe    *corev1.Probe
		path     string
		minTimer int32
	}{
		{"startupProbe", c.StartupProbe, "/healthz", 1},
		{"livenessProbe", c.LivenessProbe, "/healthz", 1},
		{"readinessProbe", c.ReadinessProbe, "/readyz", 3}, // /readyz waits up to 2s for the log
	}
	for _, p := range probes {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s = %+v, want an httpGet", p.name, p.probe)
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path || g.Port.String() != "http" {
			t.Errorf("%s hits %s on port %s, want %s on the named port http", p.name, g.Path, g.Port.String(), p.path)
		}
		if p.probe.TimeoutSeconds < p.minTimer {
			t.Errorf("%s timeoutSeconds = %d, want at least %d", p.name, p.probe.TimeoutSeconds, p.minTimer)
		}
	}
	if s := c.StartupProbe; s != nil {
		if budget := time.Duration(s.PeriodSeconds*s.FailureThreshold) * time.Second; budget < 2*time.Minute {
			t.Errorf("startup budget = %v, want at least 2m to open Badger and reach Kafka", budget)
		}
	}

	// Security context.
	psc, csc := pod.SecurityContext, c.SecurityContext
	if psc == nil || csc == nil {
		t.Fatalf("securityContext pod %v, container %v: want both", psc, csc)
	}
	if !isTrue(psc.RunAsNonRoot) || psc.RunAsUser == nil || *psc.RunAsUser != 65532 {
		t.Errorf("pod runAsNonRoot %s runAsUser %s, want true and 65532", ptr(psc.RunAsNonRoot), ptr(psc.RunAsUser))
	}
	if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod seccompProfile = %+v, want RuntimeDefault", psc.SeccompProfile)
	}
	if !isTrue(csc.ReadOnlyRootFilesystem) {
		t.Errorf("readOnlyRootFilesystem = %s, want true", ptr(csc.ReadOnlyRootFilesystem))
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Errorf("allowPrivilegeEscalation = %s, want false", ptr(csc.AllowPrivilegeEscalation))
	}
	if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
		t.Errorf("capabilities = %+v, want drop ALL and add nothing", csc.Capabilities)
	}

	// Resources: requests and a memory limit, and GOMEMLIMIT below it.
	req, lim := c.Resources.Requests, c.Resources.Limits
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := req[name]; !ok || q.IsZero() {
			t.Errorf("requests.%s unset", name)
		}
	}
	memLimit, ok := lim[corev1.ResourceMemory]
	if !ok {
		t.Fatal("limits.memory unset")
	}
	if memReq := req[corev1.ResourceMemory]; memReq.Cmp(memLimit) > 0 {
		t.Errorf("requests.memory %s > limits.memory %s", memReq.String(), memLimit.String())
	}
	if v, ok := envValue(c.Env, "GOMEMLIMIT"); !ok {
		t.Error("GOMEMLIMIT unset: the GC would not know the container's limit")
	} else if n, err := parseGoMemLimit(v); err != nil {
		t.Errorf("GOMEMLIMIT=%q: %v", v, err)
	} else if n >= memLimit.Value() || n < memLimit.Value()*3/4 {
		t.Errorf("GOMEMLIMIT=%q (%d bytes), want 75-99%% of limits.memory %s", v, n, memLimit.String())
	}

	// Configuration: the ConfigMap and Secret it names, the port, the data
	// directory and the shutdown grace.
	var cmRef, secretRef string
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil {
			cmRef = e.ConfigMapRef.Name
		}
		if e.SecretRef != nil {
			secretRef = e.SecretRef.Name
		}
	}
	if cmRef != cm.Name {
		t.Errorf("envFrom configMapRef = %q, want %q", cmRef, cm.Name)
	}
	if secretRef != "scim-bridge" {
		t.Errorf("envFrom secretRef = %q, want scim-bridge", secretRef)
	}
	if listen := cm.Data["SCIM_LISTEN"]; !strings.HasSuffix(listen, ":"+strconv.Itoa(port)) {
		t.Errorf("SCIM_LISTEN = %q, want the container port %d", listen, port)
	}
	// /metrics names every tenant: it is served on the admin listener
	// only, which is the port "metrics" and what annotation scrapers use.
	if listen := cm.Data["SCIM_ADMIN_LISTEN"]; !strings.HasSuffix(listen, ":"+strconv.Itoa(metricsPort)) {
		t.Errorf("SCIM_ADMIN_LISTEN = %q, want the container port metrics %d", listen, metricsPort)
	}
	if got := dep.Spec.Template.Annotations["prometheus.io/port"]; got != strconv.Itoa(metricsPort) {
		t.Errorf("annotation prometheus.io/port = %q, want the container port metrics %d", got, metricsPort)
	}
	dataDir := cm.Data["SCIM_DATA_DIR"]
	var mounted string
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == dataDir {
			mounted = vm.Name
		}
	}
	if dataDir == "" || mounted == "" {
		t.Errorf("SCIM_DATA_DIR = %q is not a volume mount of the container %+v", dataDir, c.VolumeMounts)
	}
	for _, v := range pod.Volumes {
		if v.Name == mounted && v.EmptyDir == nil && v.PersistentVolumeClaim == nil {
			t.Errorf("data volume %q is neither an emptyDir nor a PersistentVolumeClaim", v.Name)
		}
	}
	grace := 20 * time.Second // the default of SCIM_SHUTDOWN_GRACE
	if v, ok := cm.Data["SCIM_SHUTDOWN_GRACE"]; ok {
		var err error
		if grace, err = time.ParseDuration(v); err != nil {
			t.Errorf("SCIM_SHUTDOWN_GRACE = %q: %v", v, err)
		}
	}
	// preStop lets the endpoints update before SIGTERM, and is part of the
	// grace period.
	var preStop time.Duration
	if lc := c.Lifecycle; lc == nil || lc.PreStop == nil || lc.PreStop.Sleep == nil || lc.PreStop.Sleep.Seconds < 1 {
		t.Errorf("lifecycle = %s, want a preStop sleep (the image has no shell)", toJSON(c.Lifecycle))
	} else {
		preStop = time.Duration(lc.PreStop.Sleep.Seconds) * time.Second
	}
	if tg := pod.TerminationGracePeriodSeconds; tg == nil || time.Duration(*tg)*time.Second <= preStop+grace {
		t.Errorf("terminationGracePeriodSeconds = %s, want more than the preStop sleep %v + SCIM_SHUTDOWN_GRACE %v", ptr(tg), preStop, grace)
	}

	// Other replicas forward writes to the pod's own address.
	var podIP bool
	for _, e := range c.Env {
		switch e.Name {
		case "POD_IP":
			podIP = e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP"
		case "SCIM_ADVERTISE_URL":
			if want := "http://$(POD_IP):" + strconv.Itoa(port); !podIP || e.Value != want {
				t.Errorf("SCIM_ADVERTISE_URL = %q (POD_IP from the downward API before it: %v), want %q", e.Value, podIP, want)
			}
		}
	}
	if _, ok := envValue(c.Env, "SCIM_ADVERTISE_URL"); !ok {
		t.Error("SCIM_ADVERTISE_URL unset: other replicas could not forward writes here")
	}
	// One node's loss takes one replica.
	if !slices.ContainsFunc(pod.TopologySpreadConstraints, func(tc corev1.TopologySpreadConstraint) bool {
		return tc.TopologyKey == "kubernetes.io/hostname" && tc.MaxSkew == 1 && tc.LabelSelector != nil &&
			subset(tc.LabelSelector.MatchLabels, dep.Spec.Template.Labels)
	}) {
		t.Errorf("topologySpreadConstraints = %s, want the pods spread over kubernetes.io/hostname", toJSON(pod.TopologySpreadConstraints))
	}

	// Selectors agree.
	if got, want := dep.Spec.Selector.MatchLabels, dep.Spec.Template.Labels; !subset(got, want) {
		t.Errorf("selector %v does not match the pod labels %v", got, want)
	}
	svc := one[*corev1.Service](t, m, "base/service.yaml")
	if !subset(svc.Spec.Selector, dep.Spec.Template.Labels) {
		t.Errorf("Service selector %v does not match the pod labels %v", svc.Spec.Selector, dep.Spec.Template.Labels)
	}
	for _, p := range svc.Spec.Ports {
		if p.TargetPort.String() != p.Name || (p.Name != "http" && p.Name != "metrics") {
			t.Errorf("Service port %s targets %s, want the container port of its name, http or metrics", p.Name, p.TargetPort.String())
		}
	}
	pdb := one[*policyv1.PodDisruptionBudget](t, m, "base/pdb.yaml")
	if pdb.Spec.Selector == nil || !subset(pdb.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
		t.Errorf("PodDisruptionBudget selector %v does not match the pod labels", pdb.Spec.Selector)
	}
	// Of three replicas, a drain may take one at a time.
	if pdb.Spec.MaxUnavailable != nil || pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 2 {
		t.Errorf("PodDisruptionBudget minAvailable %v maxUnavailable %v, want minAvailable 2", pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable)
	}
}

func TestStatefulSetOverlay(t *testing.T) {
	m := load(t)
	sts := one[*appsv1.StatefulSet](t, m, "overlays/statefulset/statefulset.yaml")
	dep := one[*appsv1.Deployment](t, m, "base/deployment.yaml")
	del := one[*deletePatch](t, m, "overlays/statefulset/delete-deployment.yaml")
	headless := one[*corev1.Service](t, m, "overlays/statefulset/service-pods.yaml")
	if !m.patches["overlays/statefulset/delete-deployment.yaml"] {
		t.Error("overlays/statefulset/delete-deployment.yaml is not a patch of overlays/statefulset")
	}
	if del.Kind != "Deployment" || del.Metadata.Name != dep.Name {
		t.Errorf("the overlay deletes %s %s, want the base's Deployment %s", del.Kind, del.Metadata.Name, dep.Name)
	}
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != *dep.Spec.Replicas {
		t.Errorf("replicas = %s, want the Deployment's %s", ptr(sts.Spec.Replicas), ptr(dep.Spec.Replicas))
	}
	if sts.Spec.ServiceName != headless.Name || headless.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("serviceName %q, headless Service %q (clusterIP %q): want the overlay's headless Service", sts.Spec.ServiceName, headless.Name, headless.Spec.ClusterIP)
	}
	// The pod template is the Deployment's, but for the data volume, which
	// comes from the claim template.
	want := dep.Spec.Template.DeepCopy()
	want.Spec.Volumes = slices.DeleteFunc(want.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == "data" })
	if len(want.Spec.Volumes) == 0 {
		want.Spec.Volumes = nil
	}
	if got, w := toJSON(sts.Spec.Template), toJSON(want); got != w {
		t.Errorf("StatefulSet pod template differs from the Deployment's (but for the data volume):\n got %s\nwant %s", got, w)
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("%d volumeClaimTemplates, want data", len(sts.Spec.VolumeClaimTemplates))
	}
	pvc := sts.Spec.VolumeClaimTemplates[0]
	if pvc.Name != "data" || !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOnce) {
		t.Errorf("volumeClaimTemplate %s %v, want data, ReadWriteOnce", pvc.Name, pvc.Spec.AccessModes)
	}
	if q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; q.Cmp(resource.MustParse("1Gi")) < 0 {
		t.Errorf("volumeClaimTemplate requests.storage = %s, want at least 1Gi", q.String())
	}
	if !subset(sts.Spec.Selector.MatchLabels, sts.Spec.Template.Labels) {
		t.Errorf("selector %v does not match the pod labels %v", sts.Spec.Selector.MatchLabels, sts.Spec.Template.Labels)
	}
}

// readmeConfig parses the README configuration table: environment variable
// name -> its default as written (the text inside backquotes, or "").
func readmeConfig(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `([A-Z][A-Z0-9_]+)` \\| `--[a-z-]+` \\| ([^|]*)\\|")
	tick := regexp.MustCompile("`([^`]*)`")
	vars := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if mm := row.FindStringSubmatch(line); mm != nil {
			def := ""
			if d := tick.FindStringSubmatch(mm[2]); d != nil {
				def = d[1]
			}
			vars[mm[1]] = def
		}
	}
	if len(vars) < 10 {
		t.Fatalf("README configuration table: found %d variables, want the whole table", len(vars))
	}
	return vars
}

// secretEnv must come from the Secret, never from a ConfigMap.
var secretEnv = []string{"SCIM_TOKEN", "KAFKA_SASL_PASSWORD"}

func TestConfigMapsNameKnownSettings(t *testing.T) {
	m := load(t)
	known := readmeConfig(t)
	n := 0
	for _, d := range m.docs {
		cm, ok := d.obj.(*corev1.ConfigMap)
		if !ok || cm.Name != "scim-bridge" {
			continue
		}
		n++
		for k, v := range cm.Data {
			def, ok := known[k]
			switch {
			case !ok:
				t.Errorf("%s: %s is not in the README configuration table", d.file, k)
			case slices.Contains(secretEnv, k):
				t.Errorf("%s: %s is a secret; put it in the Secret", d.file, k)
			default:
				if err := sameKind(def, v); err != nil {
					t.Errorf("%s: %s=%q: %v", d.file, k, v, err)
				}
			}
		}
	}
	if n < 2 {
		t.Errorf("found %d scim-bridge ConfigMaps, want the base's and the tenants patch", n)
	}
}

// sameKind reports whether v is a value of the same kind as the default def:
// a duration, a whole number or a boolean (other defaults: any string).
func sameKind(def, v string) error {
	_, defInt := strconv.Atoi(def)
	_, defDur := time.ParseDuration(def)
	_, defBool := strconv.ParseBool(def)
	_, vInt := strconv.Atoi(v)
	_, vDur := time.ParseDuration(v)
	_, vBool := strconv.ParseBool(v)
	switch {
	case defInt == nil && defDur == nil: // "0": either
		if vInt != nil && vDur != nil {
			return fmt.Errorf("want a whole number or a duration like %q", def)
		}
	case defDur == nil && vDur != nil:
		return fmt.Errorf("want a duration like %q", def)
	case defInt == nil && vInt != nil:
		return fmt.Errorf("want a whole number like %q", def)
	case defBool == nil && vBool != nil:
		return fmt.Errorf("want a boolean like %q", def)
	}
	return nil
}

func TestSameKind(t *testing.T) {
	tests := []struct {
		def, v string
		ok     bool
	}{
		{"5s", "20s", true},
		{"5s", "5", false},
		{"1000", "200", true},
		{"1000", "2k", false},
		{"0", "0", true},
		{"0", "720h", true},
		{"0", "forever", false},
		{"false", "true", true},
		{"false", "nope", false},
		{"json", "text", true},
	}
	for _, tt := range tests {
		if err := sameKind(tt.def, tt.v); (err == nil) != tt.ok {
			t.Errorf("sameKind(%q, %q) = %v, want ok %v", tt.def, tt.v, err, tt.ok)
		}
	}
}

// tenantsFile is the SCIM_TENANTS_FILE format.
type tenantsFile struct {
	Tenants []struct {
		Name      string   `json:"name"`
		Tokens    []string `json:"tokens"`
		RateLimit struct {
			RequestsPerSecond float64 `json:"requestsPerSecond"`
			Burst             int     `json:"burst"`
		} `json:"rateLimit"`
	} `json:"tenants"`
}

func TestExampleSecrets(t *testing.T) {
	m := load(t)
	secrets := map[string]*corev1.Secret{}
	for _, d := range m.docs {
		if s, ok := d.obj.(*corev1.Secret); ok && d.file == "base/secret.example.yaml" {
			secrets[s.Name] = s
		}
	}
	tests := []struct {
		name string
		keys []string
	}{
		{"scim-bridge", []string{"SCIM_TOKEN"}},
		{"scim-bridge-tenants", []string{"tenants.json"}},
	}
	for _, tt := range tests {
		s := secrets[tt.name]
		if s == nil {
			t.Errorf("base/secret.example.yaml: no Secret %s", tt.name)
			continue
		}
		var keys []string
		for k := range s.StringData {
			keys = append(keys, k)
		}
		for k := range s.Data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, tt.keys) {
			t.Errorf("Secret %s keys = %v, want %v", tt.name, keys, tt.keys)
		}
	}
	if s := secrets["scim-bridge-tenants"]; s != nil {
		checkTenants(t, s.StringData["tenants.json"])
	}
}

func checkTenants(t *testing.T, data string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	var f tenantsFile
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("tenants.json: %v", err)
	}
	hash := regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	seen := map[string]bool{}
	for _, tn := range f.Tenants {
		if tn.Name == "" || seen[tn.Name] {
			t.Errorf("tenants.json: tenant name %q empty or repeated", tn.Name)
		}
		seen[tn.Name] = true
		if len(tn.Tokens) == 0 {
			t.Errorf("tenants.json: tenant %s has no token", tn.Name)
		}
		for _, tok := range tn.Tokens {
			if !hash.MatchString(tok) {
				t.Errorf("tenants.json: tenant %s token %q, want sha256:<64 lower-case hex>", tn.Name, tok)
			}
		}
		if rl := tn.RateLimit; rl.RequestsPerSecond <= 0 || float64(rl.Burst) < rl.RequestsPerSecond {
			t.Errorf("tenants.json: tenant %s rateLimit %+v, want a positive rate and burst >= rate", tn.Name, rl)
		}
	}
	if len(f.Tenants) == 0 {
		t.Error("tenants.json: no tenants")
	}
}

func TestTenantsComponent(t *testing.T) {
	m := load(t)
	cm := one[*corev1.ConfigMap](t, m, "components/tenants/configmap-tenants.yaml")
	dep := one[*appsv1.Deployment](t, m, "components/tenants/deployment-tenants.yaml")
	file := cm.Data["SCIM_TENANTS_FILE"]
	if file != "/etc/scim-bridge/tenants.json" {
		t.Errorf("SCIM_TENANTS_FILE = %q, want /etc/scim-bridge/tenants.json", file)
	}
	base := one[*appsv1.Deployment](t, m, "base/deployment.yaml")
	cs := dep.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != base.Spec.Template.Spec.Containers[0].Name {
		t.Fatalf("patch containers %+v, want the base's container by name", cs)
	}
	var found bool
	for _, vm := range cs[0].VolumeMounts {
		for _, v := range dep.Spec.Template.Spec.Volumes {
			if v.Name != vm.Name || v.Secret == nil {
				continue
			}
			if !vm.ReadOnly || vm.SubPath != "" {
				t.Errorf("mount %+v, want read-only and no subPath", vm)
			}
			for _, it := range v.Secret.Items {
				if it.Key == "tenants.json" && vm.MountPath+"/"+it.Path == file && v.Secret.SecretName == "scim-bridge-tenants" {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf("no volume of the Secret scim-bridge-tenants puts tenants.json at %s", file)
	}
}

func TestServiceMonitor(t *testing.T) {
	m := load(t)
	sm := one[*serviceMonitor](t, m, "components/servicemonitor/servicemonitor.yaml")
	svc := one[*corev1.Service](t, m, "base/service.yaml")
	if len(sm.Spec.Selector.MatchLabels) == 0 || !subset(sm.Spec.Selector.MatchLabels, svc.Labels) {
		t.Errorf("ServiceMonitor selector %v does not select the Service (labels %v)", sm.Spec.Selector.MatchLabels, svc.Labels)
	}
	if len(sm.Spec.Endpoints) == 0 {
		t.Fatal("ServiceMonitor has no endpoints")
	}
	for _, e := range sm.Spec.Endpoints {
		// /metrics is on the admin listener, the container port "metrics".
		if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == e.Port && p.TargetPort.String() == "metrics" }) {
			t.Errorf("ServiceMonitor endpoint port %q is not a port of the Service targeting the container port metrics", e.Port)
		}
		if e.Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoint path %q, want /metrics", e.Path)
		}
		iv, err1 := time.ParseDuration(e.Interval)
		st, err2 := time.ParseDuration(e.ScrapeTimeout)
		if err1 != nil || err2 != nil || st > iv {
			t.Errorf("ServiceMonitor interval %q scrapeTimeout %q: want durations, timeout <= interval", e.Interval, e.ScrapeTimeout)
		}
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

// ptr formats what p points to, or "unset".
func ptr[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func subset(a, b map[string]string) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func envValue(env []corev1.EnvVar, name string) (string, bool) {
	for _, e := range env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// parseGoMemLimit parses GOMEMLIMIT's syntax: bytes with an optional B,
// KiB, MiB, GiB or TiB suffix.
func parseGoMemLimit(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	return n * mult, nil
}

//! Kubernetes manifests read beside a scenario: a Deployment (or a bare Pod, or a KServe
//! InferenceService) and its HorizontalPodAutoscaler and VerticalPodAutoscaler become the
//! scenario's `[service]`, `[hpa]`, `[vpa]` and `[knative]` keys, so the YAML a team
//! already runs can be simulated. Every field capsim does not model is listed, never silently
//! dropped; kinds it does not model yet are listed whole.
//!
//! Several workloads (Deployments, InferenceServices) become several services, the `[[service]]`
//! form: each workload binds by `metadata.name` to the scenario's `[[service]]` of that name
//! (which says what the YAML does not: its traffic, its SLO, its engine), and each autoscaler to
//! the Deployment its `scaleTargetRef.name` names; a PodDisruptionBudget binds to the workloads
//! whose pod labels its selector selects.
//!
//! The result is an [`Overlay`]: scenario keys (TOML values) to set over the scenario file, each
//! with the manifest field it came from, so errors found later point back into the YAML.

pub mod guard;
mod kserve;
pub mod origin;
mod policy;
mod selector;
mod vpa;

use super::services::{file_key, is_multi, service_names, valid_name, SERVICE_SECTIONS};
use super::ScenarioError;
use guard::Positions;
use origin::Locator;
pub use origin::Origin;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::{Table, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// Scenario keys set from manifests, where each came from, and what was not modelled.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overlay {
    /// Scenario keys to set, in manifest order: (dotted key, value). With one workload (or none)
    /// they are keys of the single-service form (`service.replicas`, `hpa.maxReplicas`); with
    /// several, workload `i`'s keys are `service[i].…` (`service[1].hpa.maxReplicas`) until
    /// [`Overlay::bind`] puts them onto the scenario's `[[service]]` of the workload's name.
    pub keys: Vec<(String, Value)>,
    /// For each key of `keys`, the manifest field it came from.
    pub origins: Vec<Origin>,
    /// Warnings: fields (or whole objects) not modelled, one line per manifest object.
    pub warnings: Vec<String>,
    /// The manifests' workloads, each one service: Deployments and InferenceServices, or the bare
    /// Pods where there is neither.
    pub workloads: Vec<Workload>,
    /// Autoscalers the manifests hold without any workload: they scale the scenario's service
    /// their target names, found by [`Overlay::bind`].
    unbound: Vec<Unbound>,
}

/// A workload of the manifests: one service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Workload {
    /// `metadata.name`: the service's name.
    pub name: String,
    /// `Deployment`, `InferenceService` or `Pod`.
    pub kind: String,
    /// `file: Kind/name`, for lists in messages.
    pub origin: String,
    /// Its `metadata.name`, for errors.
    pub name_at: Origin,
    /// `metadata.namespace` (`default` when absent).
    namespace: String,
    /// Its pods' labels (a Deployment's `spec.template.metadata.labels`).
    labels: BTreeMap<String, String>,
}

/// An autoscaler's keys bound to no workload of the manifests.
#[derive(Clone, Debug, PartialEq)]
struct Unbound {
    /// Its keys in `Overlay::keys`.
    keys: Range<usize>,
    /// The Deployment its target names.
    target: String,
    /// Its `spec.scaleTargetRef.name` (`spec.targetRef.name`).
    origin: Origin,
}

/// A segment of a dotted key: a name, with an index into an array of tables (`service[2]`).
fn segment(seg: &str) -> (&str, Option<usize>) {
    match seg.split_once('[') {
        Some((n, rest)) => match rest.strip_suffix(']').and_then(|i| i.parse().ok()) {
            Some(i) => (n, Some(i)),
            None => (seg, None),
        },
        None => (seg, None),
    }
}

impl Overlay {
    /// Applies the keys to a scenario table (a manifest's value replaces the scenario's). A key
    /// ending in `[]` (`namespace[]`) adds its table to that array of tables, replacing the
    /// entry of the same `name` if there is one; a key ending in `[]?` adds it only when no entry
    /// has its name. A segment `name[i]` (`service[1]`) is entry `i` of an array of tables.
    pub fn apply(&self, t: &mut Table) {
        for (k, v) in &self.keys {
            let keep = k.ends_with("[]?");
            if let Some(array) = k.strip_suffix("[]").or_else(|| k.strip_suffix("[]?")) {
                let e = t
                    .entry(array.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !e.is_array() {
                    *e = Value::Array(Vec::new());
                }
                let list = e.as_array_mut().expect("an array");
                let name = v.get("name");
                match list
                    .iter_mut()
                    .find(|x| name.is_some() && x.get("name") == name)
                {
                    Some(_) if keep => {}
                    Some(old) => *old = v.clone(),
                    None => list.push(v.clone()),
                }
                continue;
            }
            let mut cur = &mut *t;
            let segs: Vec<&str> = k.split('.').collect();
            for seg in &segs[..segs.len() - 1] {
                let (name, index) = segment(seg);
                let e = match index {
                    None => {
                        let e = cur
                            .entry(name.to_string())
                            .or_insert_with(|| Value::Table(Table::new()));
                        if !e.is_table() {
                            *e = Value::Table(Table::new());
                        }
                        e
                    }
                    Some(i) => {
                        let e = cur
                            .entry(name.to_string())
                            .or_insert_with(|| Value::Array(Vec::new()));
                        if !e.is_array() {
                            *e = Value::Array(Vec::new());
                        }
                        let list = e.as_array_mut().expect("an array");
                        while list.len() <= i {
                            list.push(Value::Table(Table::new()));
                        }
                        let e = &mut list[i];
                        if !e.is_table() {
                            *e = Value::Table(Table::new());
                        }
                        e
                    }
                };
                cur = e.as_table_mut().expect("a table");
            }
            cur.insert(segs[segs.len() - 1].to_string(), v.clone());
        }
    }

    /// Binds the keys to the scenario's services (before [`Overlay::apply`] on the same table):
    ///
    /// - a scenario with one `[service]` table takes one workload's keys as they are; several
    ///   workloads are an error (the scenario must say, in one `[[service]]` per workload, what
    ///   each serves);
    /// - a scenario with `[[service]]` tables takes each workload's keys into the `[[service]]`
    ///   of the workload's name; a workload with no `[[service]]` of its name is an error, and
    ///   services the manifests do not name keep what the scenario says;
    /// - an autoscaler beside no workload scales the scenario's service its target names: the
    ///   `[[service]]` of that name, or the one `[service]` (whose `name`, if it has one, must be
    ///   the target's).
    ///
    /// `file` and `source` are the scenario's name and text, for errors about the scenario.
    pub fn bind(
        &mut self,
        scenario: &Table,
        file: &str,
        source: &str,
    ) -> Result<(), ScenarioError> {
        let at = |origin: &Origin, message: String| origin.error(message);
        let list = |ws: &[Workload]| {
            ws.iter()
                .map(|w| format!("{} ({})", w.name, w.origin))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !is_multi(scenario) {
            if self.workloads.len() > 1 {
                return Err(ScenarioError::at_key(
                    file,
                    source,
                    "service",
                    format!(
                        "the manifests hold {} workloads, {}; with several, the scenario says what each serves in one [[service]] table per workload, named as it (name = \"{}\"), with its own [service.traffic]: it has a single [service] table",
                        self.workloads.len(),
                        list(&self.workloads),
                        self.workloads[0].name,
                    ),
                ));
            }
            let own = scenario
                .get("service")
                .and_then(|s| s.get("name"))
                .and_then(Value::as_str);
            for u in &self.unbound {
                if let Some(own) = own.filter(|n| *n != u.target) {
                    return Err(at(
                        &u.origin,
                        format!("names Deployment \"{}\", which neither the manifests nor the scenario hold: the scenario's service is \"{own}\"", u.target),
                    ));
                }
            }
            return Ok(());
        }
        let names = service_names(scenario);
        let mut index = Vec::with_capacity(self.workloads.len());
        for w in &self.workloads {
            match names.iter().position(|n| *n == w.name) {
                Some(j) => index.push(j),
                None => {
                    return Err(at(
                        &w.name_at,
                        format!(
                            "no [[service]] of the scenario is named \"{}\" (its services: {}); each workload of the manifests binds by name to the [[service]] that gives its traffic",
                            w.name,
                            names.join(", ")
                        ),
                    ))
                }
            }
        }
        let mut bound = vec![false; self.keys.len()];
        for u in &self.unbound {
            let Some(j) = names.iter().position(|n| *n == u.target) else {
                return Err(at(
                    &u.origin,
                    format!(
                        "names Deployment \"{}\", which neither the manifests nor the scenario hold (the scenario's services: {})",
                        u.target,
                        names.join(", ")
                    ),
                ));
            };
            for i in u.keys.clone() {
                self.keys[i].0 = file_key(j, &self.keys[i].0);
                bound[i] = true;
            }
        }
        for (i, (k, _)) in self.keys.iter_mut().enumerate() {
            if bound[i] {
                continue;
            }
            if let Some(rest) = k.strip_prefix("service[") {
                // Several workloads: workload `w`'s keys onto its service.
                if let Some((w, tail)) = rest.split_once(']') {
                    if let Some(j) = w.parse::<usize>().ok().and_then(|w| index.get(w)) {
                        *k = format!("service[{j}]{tail}");
                        continue;
                    }
                }
            }
            if let [j] = index[..] {
                *k = file_key(j, k);
            }
        }
        // What is left of a service belongs to none: a PodDisruptionBudget, say, beside no
        // workload.
        for (i, (k, _)) in self.keys.iter().enumerate() {
            let first = k.split(['.', '[']).next().unwrap_or("");
            if !k.starts_with("service[")
                && (first == "service" || SERVICE_SECTIONS.contains(&first))
            {
                return Err(at(
                    &self.origins[i],
                    format!("sets scenario key `{k}`, which belongs to one service; with [[service]] tables the manifests must hold the workload it is for"),
                ));
            }
        }
        Ok(())
    }

    /// Rewrites an error about a key a manifest set so that it names the manifest field.
    pub fn blame(&self, e: ScenarioError) -> ScenarioError {
        let best = self
            .keys
            .iter()
            .zip(&self.origins)
            .filter(|((k, _), _)| {
                let k = k.trim_end_matches('?').trim_end_matches("[]");
                e.key == k
                    || e.key.starts_with(&format!("{k}."))
                    || e.key.starts_with(&format!("{k}["))
            })
            .max_by_key(|((k, _), _)| k.len());
        match best {
            Some(((k, _), origin)) => origin.error(format!(
                "{} (set from the manifest as scenario key `{k}`)",
                e.message
            )),
            None => e,
        }
    }
}

/// A field path inside one YAML object, for warnings and origins.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// YAML to TOML: mappings with string keys, sequences, scalars; `null` is `None`.
fn to_toml(y: &Yaml, loc: &Locator, path: &str) -> Result<Option<Value>, ScenarioError> {
    Ok(Some(match y {
        Yaml::Null | Yaml::BadValue => return Ok(None),
        Yaml::Boolean(b) => Value::Boolean(*b),
        Yaml::Integer(i) => Value::Integer(*i),
        Yaml::Real(r) => Value::Float(r.parse().map_err(|_| {
            let what = if r
                .trim_start_matches(['+', '-'])
                .to_ascii_lowercase()
                .starts_with('.')
            {
                format!("a finite number, found {r} (YAML's NaN and infinity are not quantities)")
            } else {
                format!("a number, found {r}")
            };
            loc.bad(path, &what)
        })?),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(a) => {
            let mut v = Vec::with_capacity(a.len());
            for (i, x) in a.iter().enumerate() {
                if let Some(x) = to_toml(x, loc, &format!("{path}[{i}]"))? {
                    v.push(x);
                }
            }
            Value::Array(v)
        }
        Yaml::Hash(h) => {
            let mut t = Table::new();
            for (k, v) in h {
                let Some(k) = k.as_str() else {
                    return Err(loc.bad(path, "string keys"));
                };
                if let Some(v) = to_toml(v, loc, &join(path, k))? {
                    t.insert(k.to_string(), v);
                }
            }
            Value::Table(t)
        }
        _ => return Err(loc.bad(path, "a plain YAML value (no aliases or tags)")),
    }))
}

/// One manifest object being mapped: records consumed fields and what they set.
struct Mapper<'a> {
    file: &'a str,
    label: String,
    /// Where the object's fields are.
    positions: &'a Positions,
    consumed: Vec<String>,
    out: &'a mut Overlay,
    /// With several workloads, the one whose service the keys set go to (`service[i]`).
    scope: Option<usize>,
}

impl Mapper<'_> {
    /// The object's file, `Kind/name` and field positions, for errors.
    fn loc(&self) -> Locator<'_> {
        Locator {
            file: self.file,
            object: &self.label,
            positions: self.positions,
        }
    }

    /// The scenario key for a key of the single-service form: itself, or under the workload's
    /// `service[i]` with several.
    fn key(&self, key: &str) -> String {
        match self.scope {
            Some(i) => file_key(i, key),
            None => key.to_string(),
        }
    }

    /// Marks `path` (and everything under it) as modelled.
    fn consume(&mut self, path: &str) {
        self.consumed.push(path.to_string());
    }

    /// Sets scenario `key` from the YAML value at `path`, if present.
    fn set(&mut self, key: &str, doc: &Yaml, path: &str) -> Result<(), ScenarioError> {
        let y = get(doc, path);
        if let Some(v) = to_toml(y, &self.loc(), path)? {
            let key = self.key(key);
            let origin = self.loc().origin(path);
            self.out.keys.push((key, v));
            self.out.origins.push(origin);
            self.consume(path);
        }
        Ok(())
    }

    /// Sets scenario `key` to a value built here, blamed on the manifest field at `path`.
    fn push(&mut self, key: &str, value: Value, path: &str) {
        let key = self.key(key);
        let origin = self.loc().origin(path);
        self.out.keys.push((key, value));
        self.out.origins.push(origin);
    }

    /// Lists every leaf of `doc` not under a consumed path as not modelled.
    fn finish(self, doc: &Yaml) {
        let mut left = Vec::new();
        leaves(doc, "", &mut left);
        let left: Vec<String> = left
            .into_iter()
            .filter(|p| {
                !self.consumed.iter().any(|c| {
                    p == c || p.starts_with(&format!("{c}.")) || p.starts_with(&format!("{c}["))
                })
            })
            .collect();
        if !left.is_empty() {
            let mut listed = left[..left.len().min(MAX_LISTED)].join(", ");
            if left.len() > MAX_LISTED {
                listed.push_str(&format!(" and {} more", left.len() - MAX_LISTED));
            }
            self.out.warnings.push(format!(
                "{}: {}: fields not modelled (ignored): {listed}",
                self.file, self.label,
            ));
        }
    }
}

/// The most fields not modelled that one warning names; the rest are counted.
const MAX_LISTED: usize = 100;

/// Every leaf path of a YAML tree (`a.b[0].c`); an empty mapping or sequence counts as a leaf.
/// A key whose path would pass [`guard::MAX_PATH`] bytes is listed as `parent.…` (once per
/// parent) and not descended into, so long keys nested deep cannot make the list outgrow the
/// file many times.
fn leaves(y: &Yaml, path: &str, out: &mut Vec<String>) {
    let too_long = |extra: usize| path.len() + extra + 1 > guard::MAX_PATH;
    match y {
        Yaml::Hash(h) if !h.is_empty() => {
            let mut cut = false;
            for (k, v) in h {
                let k = k.as_str().map_or_else(|| format!("{k:?}"), str::to_string);
                if too_long(k.len()) {
                    if !cut {
                        out.push(join(path, "…"));
                        cut = true;
                    }
                    continue;
                }
                leaves(v, &join(path, &k), out);
            }
        }
        Yaml::Array(a) if !a.is_empty() => {
            if too_long(22) {
                out.push(format!("{path}[…]"));
                return;
            }
            for (i, v) in a.iter().enumerate() {
                leaves(v, &format!("{path}[{i}]"), out);
            }
        }
        Yaml::Null => {}
        _ => out.push(path.to_string()),
    }
}

/// The value at a dotted path with `[i]` indices (`Yaml::BadValue` when absent).
fn get<'y>(doc: &'y Yaml, path: &str) -> &'y Yaml {
    let mut cur = doc;
    for seg in path.split('.') {
        let (name, index) = match seg.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        cur = &cur[name];
        if let Some(i) = index {
            cur = &cur[i];
        }
    }
    cur
}

fn present(y: &Yaml) -> bool {
    !matches!(y, Yaml::BadValue | Yaml::Null)
}

/// Maps a pod spec at `spec` (a Deployment's `spec.template.spec` or a Pod's `spec`).
fn pod_spec(m: &mut Mapper, doc: &Yaml, spec: &str) -> Result<(), ScenarioError> {
    let c0 = format!("{spec}.containers[0]");
    if !present(get(doc, &c0)) {
        return Err(m.loc().bad(
            &format!("{spec}.containers"),
            "at least one container (the model server)",
        ));
    }
    m.consume(&format!("{c0}.name"));
    m.set(
        "service.resources.requests",
        doc,
        &format!("{c0}.resources.requests"),
    )?;
    m.set(
        "service.resources.limits",
        doc,
        &format!("{c0}.resources.limits"),
    )?;
    for probe in ["readinessProbe", "livenessProbe"] {
        for f in ["initialDelaySeconds", "periodSeconds", "failureThreshold"] {
            m.set(
                &format!("service.pod.{probe}.{f}"),
                doc,
                &format!("{c0}.{probe}.{f}"),
            )?;
        }
        // How the probe checks (exec, httpGet, grpc) does not matter to the model: it passes
        // once the server has started, and fails while the server hangs.
        for how in ["exec", "httpGet", "grpc", "tcpSocket"] {
            m.consume(&format!("{c0}.{probe}.{how}"));
        }
    }
    m.set(
        "service.priority_class",
        doc,
        &format!("{spec}.priorityClassName"),
    )?;
    for f in [
        "nodeSelector",
        "tolerations",
        "affinity",
        "topologySpreadConstraints",
        "terminationGracePeriodSeconds",
    ] {
        m.set(&format!("service.pod.{f}"), doc, &format!("{spec}.{f}"))?;
    }
    Ok(())
}

/// The pod template's labels (`spec.template.metadata.labels`).
fn template_labels(doc: &Yaml) -> BTreeMap<String, String> {
    labels_at(doc, "spec.template.metadata.labels")
}

/// Sets the workload's pod labels (`service.pod.labels`, which `labelSelector`s match) and
/// leaves out, with a warning, the spread constraints and anti-affinity terms mapped since
/// `start` whose `labelSelector` is missing or selects no pods (upstream they never refuse a
/// node). With one workload a selector must select its own pods; with several, the pods of any
/// workload in the namespace (a term's `namespaces`, or the workload's own).
fn select_pods(m: &mut Mapper, start: usize, own: &Workload, at: &str, cx: &Context) {
    if !own.labels.is_empty() {
        let labels: Table = own
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        m.push("service.pod.labels", Value::Table(labels), at);
    }
    let multi = m.scope.is_some();
    let selects_some = |sel: Option<&Value>, namespaces: Option<&Value>| {
        if !multi {
            return selector::selects(sel, &own.labels);
        }
        let names: Vec<&str> = namespaces
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        cx.workloads.iter().any(|w| {
            let in_scope = if names.is_empty() {
                w.namespace == own.namespace
            } else {
                names.contains(&w.namespace.as_str())
            };
            in_scope && selector::selects(sel, &w.labels)
        })
    };
    let base = "spec.template.spec";
    let mut left_out: Vec<String> = Vec::new();
    let spread = m.key("service.pod.topologySpreadConstraints");
    let affinity = m.key("service.pod.affinity");
    for (key, value) in m.out.keys[start..].iter_mut() {
        match key.as_str() {
            k if k == spread => {
                if let Some(list) = value.as_array_mut() {
                    let keep = |c: &Value| selects_some(c.get("labelSelector"), None);
                    for i in selector::retain_selecting(list, keep) {
                        left_out.push(format!("{base}.topologySpreadConstraints[{i}]"));
                    }
                }
            }
            k if k == affinity => {
                let Some(anti) = value
                    .get_mut("podAntiAffinity")
                    .and_then(Value::as_table_mut)
                else {
                    continue;
                };
                let path = format!("{base}.affinity.podAntiAffinity");
                let req = "requiredDuringSchedulingIgnoredDuringExecution";
                if let Some(list) = anti.get_mut(req).and_then(Value::as_array_mut) {
                    let keep =
                        |t: &Value| selects_some(t.get("labelSelector"), t.get("namespaces"));
                    for i in selector::retain_selecting(list, keep) {
                        left_out.push(format!("{path}.{req}[{i}]"));
                    }
                }
                let pref = "preferredDuringSchedulingIgnoredDuringExecution";
                if let Some(list) = anti.get_mut(pref).and_then(Value::as_array_mut) {
                    let keep = |w: &Value| {
                        let t = w.get("podAffinityTerm");
                        selects_some(
                            selector::term_selector(w),
                            t.and_then(|t| t.get("namespaces")),
                        )
                    };
                    for i in selector::retain_selecting(list, keep) {
                        left_out.push(format!("{path}.{pref}[{i}]"));
                    }
                }
            }
            _ => {}
        }
    }
    if !left_out.is_empty() && multi {
        m.out.warnings.push(format!(
            "{}: {}: spread constraints and anti-affinity terms whose labelSelector is missing or selects the pods of none of the manifests' workloads in its namespaces select no pods and never refuse a node upstream; left out: {}",
            m.file,
            m.label,
            left_out.join(", ")
        ));
    } else if !left_out.is_empty() {
        m.out.warnings.push(format!(
            "{}: {}: spread constraints and anti-affinity terms whose labelSelector is missing or does not match spec.template.metadata.labels select no pods and never refuse a node upstream; left out: {}",
            m.file,
            m.label,
            left_out.join(", ")
        ));
    }
}

/// What every object is mapped against: the manifests' workloads.
struct Context<'a> {
    /// Whether the manifests hold a Deployment or an InferenceService (a bare Pod beside one is
    /// ignored).
    deployment: bool,
    /// The workloads, each one service.
    workloads: &'a [Workload],
}

impl Context<'_> {
    /// Several workloads: keys go under each workload's `service[i]`.
    fn multi(&self) -> bool {
        self.workloads.len() > 1
    }
}

/// The workload an autoscaler's target (`at`: `spec.scaleTargetRef` or `spec.targetRef`) names:
/// `Ok(Some(i))` for workload `i`, `Ok(None)` when the manifests hold no workload (the scenario's
/// service of that name is meant), an error when they hold workloads but not that Deployment.
fn target(m: &Mapper, doc: &Yaml, at: &str, cx: &Context) -> Result<Option<usize>, ScenarioError> {
    let kind = get(doc, &format!("{at}.kind")).as_str().unwrap_or("");
    if kind != "Deployment" {
        return Err(m.loc().bad(&format!("{at}.kind"), "Deployment"));
    }
    // Optional in a CrossVersionObjectReference, but a Deployment's is exactly apps/v1.
    let api = get(doc, &format!("{at}.apiVersion"));
    if !api.is_badvalue() && api.as_str() != Some("apps/v1") {
        return Err(m.loc().bad(
            &format!("{at}.apiVersion"),
            "apps/v1 for a Deployment (or no apiVersion)",
        ));
    }
    let name = get(doc, &format!("{at}.name")).as_str().unwrap_or("");
    if cx.workloads.is_empty() {
        return Ok(None);
    }
    if let Some(i) = cx
        .workloads
        .iter()
        .position(|w| w.kind == "Deployment" && w.name == name)
    {
        return Ok(Some(i));
    }
    let held: Vec<String> = cx
        .workloads
        .iter()
        .map(|w| {
            format!(
                "{}/{} ({})",
                w.kind,
                w.name,
                w.origin.split(": ").next().unwrap_or("")
            )
        })
        .collect();
    let named = if name.is_empty() {
        "names no Deployment (`name` is missing)".to_string()
    } else {
        format!("names Deployment \"{name}\", which the manifests do not hold")
    };
    Err(m.loc().origin(&format!("{at}.name")).error(format!(
        "{named}; their workloads: {}; an autoscaler scales the Deployment its target names",
        held.join(", ")
    )))
}

/// Maps an autoscaler (HPA or VPA) onto the service of the workload its target names.
fn autoscaler(
    m: &mut Mapper,
    doc: &Yaml,
    api: &str,
    hpa: bool,
    cx: &Context,
) -> Result<(), ScenarioError> {
    let (want, at) = if hpa {
        ("autoscaling/v2", "spec.scaleTargetRef")
    } else {
        ("autoscaling.k8s.io/v1", "spec.targetRef")
    };
    if api != want {
        let expected = if hpa {
            want.to_string()
        } else {
            format!("{want} for a VerticalPodAutoscaler")
        };
        return Err(m.loc().bad("apiVersion", &expected));
    }
    let bound = target(m, doc, at, cx)?;
    m.consume(at);
    m.scope = bound.filter(|_| cx.multi());
    let start = m.out.keys.len();
    if hpa {
        for f in ["minReplicas", "maxReplicas", "metrics", "behavior"] {
            m.set(&format!("hpa.{f}"), doc, &format!("spec.{f}"))?;
        }
    } else {
        vpa::map(m, doc)?;
    }
    if bound.is_none() {
        let end = m.out.keys.len();
        let origin = m.loc().origin(&format!("{at}.name"));
        m.out.unbound.push(Unbound {
            keys: start..end,
            target: get(doc, &format!("{at}.name"))
                .as_str()
                .unwrap_or("")
                .to_string(),
            origin,
        });
    }
    Ok(())
}

/// Maps one object; `workload` is its index among the workloads when it is one.
fn object(
    (file, n, doc, positions): &Object,
    cx: &Context,
    workload: Option<usize>,
    out: &mut Overlay,
) -> Result<(), ScenarioError> {
    let file = file.as_str();
    let kind = doc["kind"].as_str().unwrap_or("");
    let api = doc["apiVersion"].as_str().unwrap_or("");
    let name = doc["metadata"]["name"].as_str().unwrap_or("");
    let mut m = Mapper {
        file,
        label: if kind.is_empty() {
            format!("document {}", n + 1)
        } else {
            format!("{kind}/{name}")
        },
        positions,
        consumed: vec!["apiVersion".into(), "kind".into(), "metadata.name".into()],
        out,
        scope: workload.filter(|_| cx.multi()),
    };
    if kind.is_empty() {
        return Err(m
            .loc()
            .bad("kind", "a Kubernetes object with `apiVersion` and `kind`"));
    }
    match kind {
        "Deployment" => {
            if api != "apps/v1" {
                return Err(m.loc().bad("apiVersion", "apps/v1 for a Deployment"));
            }
            if !name.is_empty() {
                m.push("service.name", Value::String(name.into()), "metadata.name");
            }
            m.set("service.replicas", doc, "spec.replicas")?;
            if let Some(ns) = get(doc, "metadata.namespace").as_str() {
                m.push(
                    "service.namespace",
                    Value::String(ns.into()),
                    "metadata.namespace",
                );
                if ns != "default" {
                    // The namespace exists (a ResourceQuota or the scenario may give it a quota).
                    let mut t = Table::new();
                    t.insert("name".into(), Value::String(ns.into()));
                    m.push("namespace[]?", Value::Table(t), "metadata.namespace");
                }
                m.consume("metadata.namespace");
            }
            m.set("service.strategy", doc, "spec.strategy")?;
            m.set("service.minReadySeconds", doc, "spec.minReadySeconds")?;
            // Each Deployment is its own service: its selector and pod labels match by
            // construction.
            m.consume("spec.selector");
            m.consume("spec.template.metadata.labels");
            let start = m.out.keys.len();
            pod_spec(&mut m, doc, "spec.template.spec")?;
            if let Some(w) = workload.and_then(|i| cx.workloads.get(i)) {
                select_pods(&mut m, start, w, "spec.template.metadata.labels", cx);
            }
        }
        "Pod" if cx.deployment => {
            m.out.warnings.push(format!(
                "{file}: Pod/{name}: a bare Pod beside a Deployment is not modelled (only the Deployments and InferenceServices become services); the whole object is ignored"
            ));
            return Ok(());
        }
        "Pod" => {
            if api != "v1" {
                return Err(m.loc().bad("apiVersion", "v1 for a Pod"));
            }
            if cx.multi() {
                m.push("service.name", Value::String(name.into()), "metadata.name");
                m.consume("metadata.labels");
                m.consume("metadata.namespace");
                if let Some(ns) = get(doc, "metadata.namespace").as_str() {
                    m.push(
                        "service.namespace",
                        Value::String(ns.into()),
                        "metadata.namespace",
                    );
                }
            }
            m.push("service.replicas", Value::Integer(1), "(one Pod)");
            let start = m.out.keys.len();
            pod_spec(&mut m, doc, "spec")?;
            if let Some(w) = workload.and_then(|i| cx.workloads.get(i)) {
                m.consume("metadata.labels");
                select_pods(&mut m, start, w, "metadata.labels", cx);
            }
        }
        "HorizontalPodAutoscaler" => autoscaler(&mut m, doc, api, true, cx)?,
        "VerticalPodAutoscaler" => autoscaler(&mut m, doc, api, false, cx)?,
        "PodDisruptionBudget" if cx.multi() => {
            policy::pdb_api(&m, api)?;
            // The budget covers the pods its selector selects in its namespace.
            let ns = get(doc, "metadata.namespace").as_str().unwrap_or("default");
            let sel = to_toml(get(doc, "spec.selector"), &m.loc(), "spec.selector")?;
            let chosen: Vec<usize> = cx
                .workloads
                .iter()
                .enumerate()
                .filter(|(_, w)| w.namespace == ns && selector::selects(sel.as_ref(), &w.labels))
                .map(|(i, _)| i)
                .collect();
            if chosen.is_empty() {
                m.out.warnings.push(format!(
                    "{file}: PodDisruptionBudget/{name}: its selector selects the pods of none of the manifests' workloads in namespace {ns}; the whole object is ignored"
                ));
                return Ok(());
            }
            for i in chosen {
                m.scope = Some(i);
                policy::pdb(&mut m, doc)?;
            }
        }
        "PodDisruptionBudget" => {
            policy::pdb_api(&m, api)?;
            policy::pdb(&mut m, doc)?;
        }
        "ResourceQuota" => policy::resource_quota(&mut m, doc, api)?,
        "PriorityClass" => policy::priority_class(&mut m, doc, api, name)?,
        "InferenceService" => {
            let start = m.out.keys.len();
            kserve::map(&mut m, doc, api, name)?;
            if let Some(w) = workload.and_then(|i| cx.workloads.get(i)) {
                m.consume("metadata.labels");
                select_pods(&mut m, start, w, "metadata.labels", cx);
            }
        }
        _ => {
            m.out.warnings.push(format!(
                "{file}: {kind}/{name}: kind {kind} ({api}) is not modelled yet; the whole object is ignored"
            ));
            return Ok(());
        }
    }
    m.finish(doc);
    Ok(())
}

/// A label map (`metadata.labels`) as text.
fn labels_at(doc: &Yaml, path: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    if let Some(h) = get(doc, path).as_hash() {
        for (k, v) in h {
            let value = match v {
                Yaml::String(s) => s.clone(),
                Yaml::Integer(i) => i.to_string(),
                Yaml::Boolean(b) => b.to_string(),
                Yaml::Real(r) => r.clone(),
                _ => continue,
            };
            if let Some(k) = k.as_str() {
                labels.insert(k.to_string(), value);
            }
        }
    }
    labels
}

/// A manifest object: its file, its document's index in the file, the document, and where its
/// fields are.
type Object<'a> = (&'a String, usize, Yaml, Positions);

/// The workload `doc` is: its name, namespace and its pods' labels.
fn workload(file: &str, doc: &Yaml, positions: &Positions) -> Workload {
    let kind = doc["kind"].as_str().unwrap_or("").to_string();
    let name = doc["metadata"]["name"].as_str().unwrap_or("").to_string();
    let labels = match kind.as_str() {
        "Deployment" => template_labels(doc),
        "InferenceService" => {
            // KServe labels the predictor's pods with the InferenceService's labels and name.
            let mut l = labels_at(doc, "metadata.labels");
            l.insert("serving.kserve.io/inferenceservice".into(), name.clone());
            l
        }
        _ => labels_at(doc, "metadata.labels"),
    };
    let object = format!("{kind}/{name}");
    Workload {
        name_at: Locator {
            file,
            object: &object,
            positions,
        }
        .origin("metadata.name"),
        origin: format!("{file}: {object}"),
        namespace: get(doc, "metadata.namespace")
            .as_str()
            .unwrap_or("default")
            .to_string(),
        name,
        kind,
        labels,
    }
}

/// Reads manifests: each `(file, text)` may hold several YAML documents separated by `---`.
///
/// One workload (a Deployment, an InferenceService, or a bare Pod where there is neither) gives
/// keys of the single-service form; several give each its own service (see [`Overlay::bind`]).
/// An autoscaler binds to the Deployment its target names, and is an error when the manifests
/// hold workloads but not that one.
pub fn read_manifests(files: &[(String, String)]) -> Result<Overlay, ScenarioError> {
    let mut out = Overlay::default();
    let mut objects: Vec<Object> = Vec::new();
    for (file, text) in files {
        let mut positions = guard::check(file, text)?;
        let docs = YamlLoader::load_from_str(text).map_err(|e| {
            let mk = e.marker();
            let mut err =
                ScenarioError::at_span(file, "", None, "", format!("not valid YAML: {}", e.info()));
            (err.line, err.column) = (Some(mk.line()), Some(mk.col() + 1));
            err
        })?;
        for (n, doc) in docs.into_iter().enumerate() {
            if present(&doc) {
                let at = positions.get_mut(n).map(std::mem::take).unwrap_or_default();
                objects.push((file, n, doc, at));
            }
        }
    }
    let is_deployment = |d: &Yaml| {
        matches!(
            d["kind"].as_str(),
            Some("Deployment") | Some("InferenceService")
        )
    };
    let deployment = objects.iter().any(|(_, _, d, _)| is_deployment(d));
    let is_workload = |d: &Yaml| {
        if deployment {
            is_deployment(d)
        } else {
            d["kind"].as_str() == Some("Pod")
        }
    };
    // Deployments first: their keys come before any other object's in the overlay.
    objects.sort_by_key(|(_, _, d, _)| !is_deployment(d));
    let mut index = Vec::with_capacity(objects.len());
    for (file, n, doc, positions) in &objects {
        if !is_workload(doc) {
            index.push(None);
            continue;
        }
        let w = workload(file, doc, positions);
        let at = |message: String| w.name_at.error(message);
        let count = objects.iter().filter(|(_, _, d, _)| is_workload(d)).count();
        if count > 1 {
            if !valid_name(&w.name) {
                return Err(at(format!(
                    "expected a name of letters, digits, `-`, `_` and `.`: with several workloads (document {} of {file}), each becomes the service of its name",
                    n + 1
                )));
            }
            if let Some(o) = out.workloads.iter().find(|o| o.name == w.name) {
                return Err(at(format!(
                    "expected a name no other workload has: {} has it too, and each workload becomes the service of its name",
                    o.origin
                )));
            }
        }
        index.push(Some(out.workloads.len()));
        out.workloads.push(w);
    }
    let workloads = std::mem::take(&mut out.workloads);
    let cx = Context {
        deployment,
        workloads: &workloads,
    };
    for (o, w) in objects.iter().zip(index) {
        object(o, &cx, w, &mut out)?;
    }
    out.workloads = workloads;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: inference-deployment
spec:
  replicas: 3
  selector:
    matchLabels: {app: inference}
  strategy:
    type: RollingUpdate
  template:
    metadata:
      labels: {app: inference}
    spec:
      nodeSelector: {gpu: h100}
      containers:
        - name: model
          image: myregistry/model:latest
          resources:
            requests: {cpu: \"1\", nvidia.com/gpu: \"1\"}
          readinessProbe:
            exec: {command: [grpc_health_probe]}
            periodSeconds: 10
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: inference-hpa}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: inference-deployment}
  minReplicas: 2
  maxReplicas: 20
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: pdb}
spec: {minAvailable: 1}
";

    #[test]
    fn deployment_and_hpa_become_scenario_keys_and_the_rest_is_listed() {
        let o = read_manifests(&[("m.yaml".into(), DEPLOY.into())]).unwrap();
        let keys: Vec<&str> = o.keys.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "service.name",
                "service.replicas",
                "service.strategy",
                "service.resources.requests",
                "service.pod.readinessProbe.periodSeconds",
                "service.pod.nodeSelector",
                "service.pod.labels",
                "hpa.minReplicas",
                "hpa.maxReplicas",
                "pdb.minAvailable"
            ]
        );
        assert_eq!(
            o.warnings,
            [
                "m.yaml: Deployment/inference-deployment: fields not modelled (ignored): \
              spec.template.spec.containers[0].image"
            ]
        );
        let mut t = Table::new();
        o.apply(&mut t);
        assert_eq!(t["service"]["replicas"].as_integer(), Some(3));
        assert_eq!(
            t["service"]["resources"]["requests"]["nvidia.com/gpu"].as_str(),
            Some("1")
        );
    }

    /// Leaf paths stop at their parent past the path cap, and one warning names at most
    /// `MAX_LISTED` fields, counting the rest.
    #[test]
    fn fields_not_modelled_are_listed_within_bounds() {
        let long = "k".repeat(guard::MAX_PATH);
        let doc =
            &YamlLoader::load_from_str(&format!("a:\n  b: 1\n  {long}:\n    c: 2\n  d: [1, 2]\n"))
                .unwrap()[0];
        let mut out = Vec::new();
        leaves(doc, "", &mut out);
        assert_eq!(out, ["a.b", "a.…", "a.d[0]", "a.d[1]"]);
        let mut notes = String::from("metadata:\n  name: inference-deployment\n  annotations:\n");
        for i in 0..(MAX_LISTED + 7) {
            notes.push_str(&format!("    note-{i:03}: x\n"));
        }
        let text = DEPLOY.replacen("metadata:\n  name: inference-deployment\n", &notes, 1);
        let o = read_manifests(&[("m.yaml".into(), text)]).unwrap();
        let w = &o.warnings[0];
        assert!(w.contains("metadata.annotations.note-000, "), "{w}");
        assert!(w.contains(&format!("note-{:03}", MAX_LISTED - 1)), "{w}");
        assert!(!w.contains(&format!("note-{MAX_LISTED:03}")), "{w}");
        assert!(w.ends_with(" and 8 more"), "{w}");
    }

    #[test]
    fn errors_name_the_manifest_field() {
        let o = read_manifests(&[("m.yaml".into(), DEPLOY.into())]).unwrap();
        let e = o.blame(ScenarioError::at_span(
            "s.toml",
            "",
            None,
            "hpa.maxReplicas",
            "expected at least minReplicas",
        ));
        assert_eq!(
            e.to_string(),
            "m.yaml:31:3: HorizontalPodAutoscaler/inference-hpa: key `spec.maxReplicas`: expected at least minReplicas (set from the manifest as scenario key `hpa.maxReplicas`)"
        );
        let e = read_manifests(&[("b.yaml".into(), "kind: [".into())]).unwrap_err();
        assert_eq!(e.file, "b.yaml");
        assert!(e.line.is_some() && e.message.starts_with("not valid YAML"));
        let e = read_manifests(&[(
            "h.yaml".into(),
            "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\n".into(),
        )])
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "h.yaml:1:1: HorizontalPodAutoscaler/: key `apiVersion`: expected autoscaling/v2"
        );
        // A value deep in a sequence, and a document without a kind, are found at their line.
        let deep = DEPLOY.replace("periodSeconds: 10", "periodSeconds: [10]");
        let o = read_manifests(&[("d.yaml".into(), deep)]).unwrap();
        let e = o.blame(ScenarioError::at_span(
            "s.toml",
            "",
            None,
            "service.pod.readinessProbe.periodSeconds",
            "expected a whole number",
        ));
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (
                Some(23),
                Some(13),
                "spec.template.spec.containers[0].readinessProbe.periodSeconds"
            )
        );
        let e = read_manifests(&[(
            "k.yaml".into(),
            format!("{DEPLOY}---\nmetadata: {{name: x}}\n"),
        )])
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "k.yaml:37:1: document 4: key `kind`: expected a Kubernetes object with `apiVersion` and `kind`"
        );
    }

    const VPA: &str = "\
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: inference-vpa}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: inference-deployment}
  updatePolicy: {updateMode: Auto}
  resourcePolicy:
    containerPolicies:
      - containerName: \"*\"
        minAllowed: {cpu: 500m, memory: 1Gi}
        maxAllowed: {cpu: 4, memory: 8Gi}
        controlledValues: RequestsAndLimits
";

    #[test]
    fn a_vpa_becomes_the_vpa_table_with_upstream_names() {
        let o = read_manifests(&[("v.yaml".into(), VPA.into())]).unwrap();
        let mut t = Table::new();
        o.apply(&mut t);
        assert_eq!(
            t["vpa"]["updatePolicy"]["updateMode"].as_str(),
            Some("Auto")
        );
        let p = &t["vpa"]["resourcePolicy"]["containerPolicies"][0];
        assert_eq!(p["containerName"].as_str(), Some("*"));
        assert_eq!(p["minAllowed"]["cpu"].as_str(), Some("500m"));
        assert_eq!(p["maxAllowed"]["cpu"].as_integer(), Some(4));
        assert_eq!(
            o.warnings,
            [
                "v.yaml: VerticalPodAutoscaler/inference-vpa: fields not modelled (ignored): \
              spec.resourcePolicy.containerPolicies[0].controlledValues"
            ]
        );
        let e = read_manifests(&[(
            "v.yaml".into(),
            VPA.replace("kind: Deployment", "kind: StatefulSet"),
        )])
        .unwrap_err();
        assert_eq!(e.key, "spec.targetRef.kind");
    }

    const ISVC: &str = "\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: chat
  annotations:
    autoscaling.knative.dev/window: 120s
    autoscaling.knative.dev/target-utilization-percentage: \"80\"
spec:
  predictor:
    minReplicas: 0
    maxReplicas: 6
    scaleMetric: concurrency
    scaleTarget: 16
    containerConcurrency: 64
    model:
      modelFormat: {name: huggingface}
      storageUri: hf://meta-llama/Llama-3.1-8B-Instruct
      resources:
        requests: {cpu: \"4\", memory: 32Gi, nvidia.com/gpu: \"1\"}
        limits: {nvidia.com/gpu: \"1\"}
";

    fn applied(text: &str) -> (Table, Overlay) {
        let o = read_manifests(&[("i.yaml".into(), text.into())]).unwrap();
        let mut t = Table::new();
        o.apply(&mut t);
        (t, o)
    }

    #[test]
    fn a_serverless_inference_service_becomes_the_service_and_the_kpa() {
        let (t, o) = applied(ISVC);
        assert_eq!(t["service"]["name"].as_str(), Some("chat"));
        assert_eq!(
            t["service"]["resources"]["requests"]["nvidia.com/gpu"].as_str(),
            Some("1")
        );
        let k = &t["knative"];
        assert_eq!(k["min-scale"].as_integer(), Some(0));
        assert_eq!(k["max-scale"].as_integer(), Some(6));
        assert_eq!(k["target"].as_float(), Some(16.0));
        assert_eq!(k["container-concurrency"].as_integer(), Some(64));
        assert_eq!(k["stable-window"].as_str(), Some("120s"));
        assert_eq!(k["target-utilization-percentage"].as_float(), Some(80.0));
        assert!(t.get("hpa").is_none());
        assert_eq!(
            o.warnings,
            [
                "i.yaml: InferenceService/chat: fields not modelled (ignored): \
              spec.predictor.model.modelFormat.name, spec.predictor.model.storageUri"
            ]
        );
        // KServe's default: at least one replica.
        let (t, _) = applied(&ISVC.replace("    minReplicas: 0\n", ""));
        assert_eq!(t["knative"]["min-scale"].as_integer(), Some(1));
        // rps is not the KPA's metric here: listed, not mapped.
        let (t, o) = applied(&ISVC.replace("scaleMetric: concurrency", "scaleMetric: rps"));
        assert!(t["knative"].get("target").is_none());
        assert!(o.warnings[0].contains("spec.predictor.scaleMetric, spec.predictor.scaleTarget"));
    }

    #[test]
    fn a_raw_deployment_inference_service_gets_kserves_hpa() {
        let raw = ISVC.replace(
            "  annotations:\n",
            "  annotations:\n    serving.kserve.io/deploymentMode: RawDeployment\n",
        );
        let raw = raw.replace("scaleMetric: concurrency", "scaleMetric: cpu");
        let raw = raw.replace("scaleTarget: 16", "scaleTarget: 60");
        let raw = raw.replace("minReplicas: 0", "minReplicas: 2");
        let (t, o) = applied(&raw);
        assert_eq!(t["service"]["replicas"].as_integer(), Some(2));
        assert_eq!(t["hpa"]["minReplicas"].as_integer(), Some(2));
        assert_eq!(t["hpa"]["maxReplicas"].as_integer(), Some(6));
        let m = &t["hpa"]["metrics"][0];
        assert_eq!(m["resource"]["name"].as_str(), Some("cpu"));
        assert_eq!(
            m["resource"]["target"]["averageUtilization"].as_integer(),
            Some(60)
        );
        assert!(t.get("knative").is_none());
        // The Knative annotations and the concurrency limit mean nothing without Knative.
        assert!(
            o.warnings[0].contains("autoscaling.knative.dev/window"),
            "{:?}",
            o.warnings
        );
        assert!(o.warnings[0].contains("spec.predictor.containerConcurrency"));
        // No metric given: CPU at KServe's default 80%.
        let (t, _) = applied(&raw.replace("    scaleMetric: cpu\n    scaleTarget: 60\n", ""));
        assert_eq!(
            t["hpa"]["metrics"][0]["resource"]["target"]["averageUtilization"].as_integer(),
            Some(80)
        );
        let e = read_manifests(&[(
            "i.yaml".into(),
            ISVC.replace(
                "  annotations:\n",
                "  annotations:\n    serving.kserve.io/deploymentMode: Sideways\n",
            ),
        )])
        .unwrap_err();
        assert_eq!(
            e.key,
            "metadata.annotations.serving.kserve.io/deploymentMode"
        );
    }

    /// Two Deployments (`a`, `b`), the HPAs of both (`b`'s first), and a PDB selecting `b`'s pods.
    const TWO: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: a}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: a}}
    spec:
      containers: [{name: m, resources: {requests: {nvidia.com/gpu: \"1\"}}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: hb}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: b}
  minReplicas: 1
  maxReplicas: 9
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: b}
spec:
  replicas: 1
  template:
    metadata: {labels: {app: b}}
    spec:
      containers: [{name: m}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: ha}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: a}
  minReplicas: 2
  maxReplicas: 4
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: p}
spec: {minAvailable: 1, selector: {matchLabels: {app: b}}}
";

    fn table(text: &str) -> Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn two_deployments_become_two_services_each_autoscaler_binding_to_its_target() {
        let mut o = read_manifests(&[("t.yaml".into(), TWO.into())]).unwrap();
        let names: Vec<&str> = o.workloads.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let keys: Vec<&str> = o.keys.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "service[0].name",
                "service[0].replicas",
                "service[0].resources.requests",
                "service[0].pod.labels",
                "service[1].name",
                "service[1].replicas",
                "service[1].pod.labels",
                "service[1].hpa.minReplicas",
                "service[1].hpa.maxReplicas",
                "service[0].hpa.minReplicas",
                "service[0].hpa.maxReplicas",
                "service[1].pdb.minAvailable",
            ]
        );
        assert!(o.warnings.is_empty(), "{:?}", o.warnings);
        // The scenario's [[service]] tables, in another order, bind by name.
        let mut t = table(
            "[[service]]\nname = \"b\"\nreplicas = 5\n[service.traffic]\nrate = 3.0\n\
             [[service]]\nname = \"c\"\n[[service]]\nname = \"a\"\n",
        );
        o.bind(&t, "s.toml", "").unwrap();
        o.apply(&mut t);
        let s = t["service"].as_array().unwrap();
        assert_eq!(s.len(), 3);
        let (b, c, a) = (&s[0], &s[1], &s[2]);
        assert_eq!(b["name"].as_str(), Some("b"));
        assert_eq!(b["replicas"].as_integer(), Some(1), "the manifest's");
        assert_eq!(b["traffic"]["rate"].as_float(), Some(3.0), "the scenario's");
        assert_eq!(b["hpa"]["maxReplicas"].as_integer(), Some(9));
        assert_eq!(b["pdb"]["minAvailable"].as_integer(), Some(1));
        assert_eq!(a["hpa"]["maxReplicas"].as_integer(), Some(4));
        assert_eq!(a["replicas"].as_integer(), Some(2));
        assert!(a.get("pdb").is_none());
        assert_eq!(c.as_table().unwrap().len(), 1, "untouched: {c}");
        // Errors about a service's key name the manifest field it came from.
        let e = o.blame(ScenarioError::at_span(
            "s.toml",
            "",
            None,
            "service[2].hpa.maxReplicas",
            "bad",
        ));
        assert_eq!(
            (e.file.as_str(), &*e.object, e.key.as_str()),
            ("t.yaml", "HorizontalPodAutoscaler/ha", "spec.maxReplicas")
        );
        assert_eq!(
            (e.line, e.column),
            (
                TWO.lines()
                    .position(|l| l == "  maxReplicas: 4")
                    .map(|i| i + 1),
                Some(3)
            )
        );
    }

    #[test]
    fn several_workloads_need_a_service_of_each_name() {
        let mut o = read_manifests(&[("t.yaml".into(), TWO.into())]).unwrap();
        let single = table("[service]\nreplicas = 1\n");
        let e = o
            .bind(&single, "s.toml", "[service]\nreplicas = 1\n")
            .unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.key.as_str(), e.line),
            ("s.toml", "service", Some(1))
        );
        assert!(e.message.contains("2 workloads"), "{}", e.message);
        assert!(e.message.contains("[[service]]"), "{}", e.message);
        let e = o
            .bind(&table("[[service]]\nname = \"a\"\n"), "s.toml", "")
            .unwrap_err();
        assert_eq!(
            (e.file.as_str(), &*e.object, e.key.as_str()),
            ("t.yaml", "Deployment/b", "metadata.name")
        );
        assert!(e.line.is_some(), "{e}");
        assert!(e.message.contains("\"b\""), "{}", e.message);
        // Two workloads of one name, or an unnamed one, cannot be told apart.
        let twice = TWO.replace("metadata: {name: b}", "metadata: {name: a}");
        let e = read_manifests(&[("t.yaml".into(), twice)]).unwrap_err();
        assert_eq!(
            (e.file.as_str(), &*e.object, e.key.as_str()),
            ("t.yaml", "Deployment/a", "metadata.name")
        );
        // A Deployment and an InferenceService are two services: the KPA is the latter's.
        let o = read_manifests(&[
            ("m.yaml".into(), DEPLOY.into()),
            ("i.yaml".into(), ISVC.into()),
        ])
        .unwrap();
        let keys: Vec<&str> = o.keys.iter().map(|(k, _)| k.as_str()).collect();
        assert!(keys.contains(&"service[1].knative.max-scale"), "{keys:?}");
        assert!(keys.contains(&"service[0].hpa.maxReplicas"), "{keys:?}");
        assert!(!keys.contains(&"service[0].pdb.minAvailable"), "{keys:?}");
        assert!(o
            .warnings
            .iter()
            .any(|w| w.contains("PodDisruptionBudget/pdb")));
    }

    #[test]
    fn an_autoscaler_whose_target_is_not_in_the_manifests_is_an_error_naming_it() {
        let wrong = DEPLOY.replace("name: inference-deployment}", "name: inference}");
        let e = read_manifests(&[("m.yaml".into(), wrong)]).unwrap_err();
        assert_eq!(
            (e.file.as_str(), &*e.object, e.key.as_str()),
            (
                "m.yaml",
                "HorizontalPodAutoscaler/inference-hpa",
                "spec.scaleTargetRef.name"
            )
        );
        // The flow mapping's `name` key, on the line of `scaleTargetRef`.
        assert_eq!((e.line, e.column), (Some(29), Some(59)), "{e}");
        assert!(e.message.contains("\"inference\""), "{}", e.message);
        assert!(
            e.message.contains("Deployment/inference-deployment"),
            "{}",
            e.message
        );
        let two = TWO.replace("kind: Deployment, name: b}", "kind: Deployment, name: c}");
        let e = read_manifests(&[("t.yaml".into(), two)]).unwrap_err();
        assert_eq!(
            (e.file.as_str(), &*e.object),
            ("t.yaml", "HorizontalPodAutoscaler/hb")
        );
        assert!(e.message.contains("\"c\""), "{}", e.message);
        let vpa = format!(
            "{DEPLOY}---\n{}",
            VPA.replace("name: inference-deployment}", "name: x}")
        );
        let e = read_manifests(&[("v.yaml".into(), vpa)]).unwrap_err();
        assert_eq!(
            (e.file.as_str(), &*e.object, e.key.as_str()),
            (
                "v.yaml",
                "VerticalPodAutoscaler/inference-vpa",
                "spec.targetRef.name"
            )
        );
    }

    #[test]
    fn yaml_nan_and_infinity_are_refused_as_quantities() {
        for v in [".nan", ".inf", "-.Inf"] {
            let d = DEPLOY.replace("requests: {cpu: \"1\"", &format!("requests: {{cpu: {v}"));
            assert_ne!(d, DEPLOY);
            let e = read_manifests(&[("m.yaml".into(), d)]).unwrap_err();
            assert!(e.key.ends_with("requests.cpu"), "{e}");
            assert!(
                e.message.contains(&format!("finite number, found {v}")),
                "{e}"
            );
        }
    }

    #[test]
    fn a_target_of_another_api_version_is_refused() {
        let hpa = TWO.replace(
            "scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: b}",
            "scaleTargetRef: {apiVersion: apps/v9, kind: Deployment, name: b}",
        );
        assert_ne!(hpa, TWO);
        let e = read_manifests(&[("h.yaml".into(), hpa)]).unwrap_err();
        assert_eq!(e.key, "spec.scaleTargetRef.apiVersion", "{e}");
        assert!(e.message.contains("apps/v1"), "{e}");
    }

    #[test]
    fn an_autoscaler_beside_no_workload_binds_to_the_scenarios_service() {
        let hpa = TWO.split("---").nth(1).unwrap().to_string();
        let mut o = read_manifests(&[("h.yaml".into(), hpa.clone())]).unwrap();
        assert_eq!(o.keys[0].0, "hpa.minReplicas");
        let mut t = table("[[service]]\nname = \"a\"\n[[service]]\nname = \"b\"\n");
        o.bind(&t, "s.toml", "").unwrap();
        o.apply(&mut t);
        assert_eq!(t["service"][1]["hpa"]["maxReplicas"].as_integer(), Some(9));
        assert!(t["service"][0].get("hpa").is_none());
        let mut o = read_manifests(&[("h.yaml".into(), hpa.clone())]).unwrap();
        let e = o
            .bind(&table("[[service]]\nname = \"a\"\n"), "s.toml", "")
            .unwrap_err();
        assert_eq!(
            (e.file.as_str(), &*e.object, e.key.as_str()),
            (
                "h.yaml",
                "HorizontalPodAutoscaler/hb",
                "spec.scaleTargetRef.name"
            )
        );
        assert!(e.line.is_some(), "{e}");
        assert!(e.message.contains("\"b\""), "{}", e.message);
        // The one [service]: an unnamed one is the target; a named one must be it.
        let mut o = read_manifests(&[("h.yaml".into(), hpa)]).unwrap();
        o.bind(&table("[service]\nreplicas = 1\n"), "s.toml", "")
            .unwrap();
        let e = o
            .bind(&table("[service]\nname = \"a\"\n"), "s.toml", "")
            .unwrap_err();
        assert!(e.message.contains("\"b\""), "{}", e.message);
        // A budget beside no workload cannot say which [[service]] it covers.
        let pdb = TWO.split("---").nth(4).unwrap().to_string();
        let mut o = read_manifests(&[("p.yaml".into(), pdb)]).unwrap();
        let e = o
            .bind(&table("[[service]]\nname = \"a\"\n"), "s.toml", "")
            .unwrap_err();
        assert_eq!(
            (e.file.as_str(), &*e.object, e.key.as_str()),
            ("p.yaml", "PodDisruptionBudget/p", "spec.minAvailable")
        );
        assert!(e.line.is_some(), "{e}");
    }

    #[test]
    fn one_workload_binds_to_the_scenarios_service_of_its_name() {
        let mut o = read_manifests(&[("m.yaml".into(), DEPLOY.into())]).unwrap();
        let mut t = table(
            "[[service]]\nname = \"x\"\n[[service]]\nname = \"inference-deployment\"\n\
             [[namespace]]\nname = \"n\"\n",
        );
        o.bind(&t, "s.toml", "").unwrap();
        o.apply(&mut t);
        let s = &t["service"][1];
        assert_eq!(s["replicas"].as_integer(), Some(3));
        assert_eq!(s["hpa"]["maxReplicas"].as_integer(), Some(20));
        assert_eq!(s["pdb"]["minAvailable"].as_integer(), Some(1));
        assert_eq!(t["service"][0].as_table().unwrap().len(), 1);
        // With one [service] table, the keys stay as they are.
        let mut o = read_manifests(&[("m.yaml".into(), DEPLOY.into())]).unwrap();
        let before = o.clone();
        o.bind(&table("[service]\nname = \"other\"\n"), "s.toml", "")
            .unwrap();
        assert_eq!(o, before);
    }

    const OPS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: chat, namespace: llm}
spec:
  replicas: 4
  minReadySeconds: 10
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    spec:
      priorityClassName: serving-critical
      containers:
        - name: vllm
          livenessProbe: {httpGet: {path: /health}, periodSeconds: 10, failureThreshold: 3}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: chat, namespace: llm}
spec: {minAvailable: 3, selector: {matchLabels: {app: chat}}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: q, namespace: llm}
spec:
  hard: {requests.nvidia.com/gpu: \"6\", pods: \"10\", limits.memory: 200Gi}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: serving-critical}
value: 100000
description: online
";

    #[test]
    fn pdb_quota_priority_class_and_strategy_map_onto_their_tables() {
        let o = read_manifests(&[("o.yaml".into(), OPS.into())]).unwrap();
        let mut t: Table = toml::from_str(
            "[[namespace]]\nname = \"batch\"\n[[namespace]]\nname = \"llm\"\nquota = { pods = \"99\" }\n",
        )
        .unwrap();
        o.apply(&mut t);
        let s = &t["service"];
        assert_eq!(s["namespace"].as_str(), Some("llm"));
        assert_eq!(s["priority_class"].as_str(), Some("serving-critical"));
        assert_eq!(s["minReadySeconds"].as_integer(), Some(10));
        assert_eq!(
            s["strategy"]["rollingUpdate"]["maxUnavailable"].as_integer(),
            Some(0)
        );
        assert_eq!(
            s["pod"]["livenessProbe"]["failureThreshold"].as_integer(),
            Some(3)
        );
        assert_eq!(t["pdb"]["minAvailable"].as_integer(), Some(3));
        // The quota replaces the scenario's entry of the same namespace; others stay.
        let ns = t["namespace"].as_array().unwrap();
        assert_eq!(ns.len(), 2);
        assert_eq!(ns[0]["name"].as_str(), Some("batch"));
        assert_eq!(
            ns[1]["quota"]["requests.nvidia.com/gpu"].as_str(),
            Some("6")
        );
        assert!(ns[1]["quota"].get("limits.memory").is_none());
        let pc = &t["priority_class"][0];
        assert_eq!(
            (pc["name"].as_str(), pc["value"].as_integer()),
            (Some("serving-critical"), Some(100000))
        );
        assert_eq!(
            o.warnings,
            ["o.yaml: ResourceQuota/q: fields not modelled (ignored): spec.hard.limits.memory"]
        );
        // Without a quota, the Deployment's namespace is declared, bare, once.
        let first = OPS.split("---").next().unwrap();
        let o = read_manifests(&[("o.yaml".into(), first.into())]).unwrap();
        let mut t = Table::new();
        o.apply(&mut t);
        assert_eq!(t["namespace"].as_array().unwrap().len(), 1);
        assert!(t["namespace"][0].get("quota").is_none());
    }

    #[test]
    fn constraints_that_select_none_of_the_deployments_pods_are_left_out() {
        // Upstream a constraint without a labelSelector, or a term selecting another app,
        // selects no pods and never refuses a node.
        let yaml = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: llm}
spec:
  template:
    metadata:
      labels: {app: llm}
    spec:
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule}
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: DoNotSchedule
          labelSelector: {matchExpressions: [{key: app, operator: In, values: [llm]}]}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - topologyKey: topology.kubernetes.io/zone
              labelSelector: {matchLabels: {app: other}}
      containers:
        - name: model
";
        let o = read_manifests(&[("d.yaml".into(), yaml.into())]).unwrap();
        assert_eq!(o.warnings.len(), 1, "{:?}", o.warnings);
        let w = &o.warnings[0];
        assert!(w.contains("topologySpreadConstraints[0]"), "{w}");
        assert!(!w.contains("topologySpreadConstraints[1]"), "{w}");
        assert!(
            w.contains("podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"),
            "{w}"
        );
        let mut t = Table::new();
        o.apply(&mut t);
        let c = t["service"]["pod"]["topologySpreadConstraints"]
            .as_array()
            .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0]["topologyKey"].as_str(),
            Some("topology.kubernetes.io/zone")
        );
        let anti = &t["service"]["pod"]["affinity"]["podAntiAffinity"];
        assert_eq!(
            anti["requiredDuringSchedulingIgnoredDuringExecution"]
                .as_array()
                .map(Vec::len),
            Some(0)
        );
    }

    #[test]
    fn spread_constraints_and_pod_anti_affinity_are_mapped() {
        let yaml = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: llm}
spec:
  replicas: 3
  template:
    metadata:
      labels: {app: llm}
    spec:
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: DoNotSchedule
          labelSelector:
            matchLabels: {app: llm}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - topologyKey: kubernetes.io/hostname
              labelSelector:
                matchLabels: {app: llm}
      containers:
        - name: model
          resources:
            requests: {nvidia.com/gpu: \"1\"}
";
        let o = read_manifests(&[("d.yaml".into(), yaml.into())]).unwrap();
        let keys: Vec<&str> = o.keys.iter().map(|(k, _)| k.as_str()).collect();
        assert!(
            keys.contains(&"service.pod.topologySpreadConstraints"),
            "{keys:?}"
        );
        assert!(keys.contains(&"service.pod.affinity"), "{keys:?}");
        assert!(o.warnings.is_empty(), "{:?}", o.warnings);
        let mut t = Table::new();
        o.apply(&mut t);
        let c = &t["service"]["pod"]["topologySpreadConstraints"][0];
        assert_eq!(c["maxSkew"].as_integer(), Some(1));
        assert_eq!(c["whenUnsatisfiable"].as_str(), Some("DoNotSchedule"));
        assert_eq!(
            t["service"]["pod"]["affinity"]["podAntiAffinity"]
                ["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"]
                .as_str(),
            Some("kubernetes.io/hostname")
        );
    }
}

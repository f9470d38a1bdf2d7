//! The sweep file: a base scenario, axes over its key paths and a design that combines them into
//! points. Every point is drawn here, whole, before any slicing into shards.

use serde::Deserialize;
use sim_core::engine::rng::RngStreams;
use sim_core::scenario::model::parse_raw;
use sim_core::ScenarioError;
use toml::Value;

/// How axes combine into points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Design {
    /// Every combination; the first axis varies slowest.
    Grid,
    /// The i-th value of every axis together; all axes have the same number of values.
    Zip,
    /// `points` independent uniform draws per axis.
    Random,
    /// `points` draws stratified so each axis's range is cut into `points` equal bins, one draw
    /// in each.
    LatinHypercube,
}

impl Design {
    /// The design's name as a sweep file writes it.
    pub fn name(self) -> &'static str {
        match self {
            Design::Grid => "grid",
            Design::Zip => "zip",
            Design::Random => "random",
            Design::LatinHypercube => "latin-hypercube",
        }
    }
}

/// What an axis ranges over.
#[derive(Clone, Debug, PartialEq)]
pub enum Levels {
    /// A list of values (`values = [...]` or `range = {from, to, step}`).
    Values(Vec<Value>),
    /// A continuous (floats) or integer (integers) interval, for random designs.
    Span {
        /// Lower end, inclusive.
        min: f64,
        /// Upper end, inclusive for integers.
        max: f64,
        /// Whether draws are integers.
        integer: bool,
    },
}

/// One `[[axis]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The scenario key path it sets, such as `service.replicas`.
    pub key: String,
    /// Its levels.
    pub levels: Levels,
    /// `monotone = "increasing"`: more of it never makes a check fail (for `capsim optimize`).
    pub monotone: bool,
}

/// A parsed sweep file.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The sweep file as the user named it.
    pub file: String,
    /// Its text.
    pub source: String,
    /// The base scenario's path as written (relative to the sweep file).
    pub scenario: String,
    /// The design.
    pub design: Design,
    /// The axes, in file order.
    pub axes: Vec<Axis>,
    /// Runs per point and policy variant, each with its own derived seed.
    pub replications: usize,
    /// Every point: one value per axis, in point-index order.
    pub points: Vec<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSweep {
    scenario: String,
    design: Option<String>,
    points: Option<usize>,
    seed: Option<u64>,
    replications: Option<usize>,
    axis: Option<Vec<RawAxis>>,
    check: Option<Vec<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAxis {
    key: String,
    values: Option<Vec<Value>>,
    range: Option<RawRange>,
    min: Option<Value>,
    max: Option<Value>,
    monotone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    from: Value,
    to: Value,
    step: Value,
}

/// The most points one sweep may have (a guard against a mistyped range).
pub const MAX_POINTS: usize = 1_000_000;

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Float(x) if x.is_finite() => Some(*x),
        _ => None,
    }
}

impl Sweep {
    /// Parses and checks a sweep file and draws its points.
    pub fn parse(source: &str, file: &str) -> Result<Sweep, ScenarioError> {
        let raw: RawSweep = parse_raw(source, file)?;
        let _ = &raw.check; // parsed by the checks module
        let err = |key: &str, m: String| ScenarioError::at_key(file, source, key, m);
        let design = match raw.design.as_deref() {
            None | Some("grid") => Design::Grid,
            Some("zip") => Design::Zip,
            Some("random") => Design::Random,
            Some("latin-hypercube") => Design::LatinHypercube,
            Some(d) => {
                return Err(err(
                    "design",
                    format!(
                    "expected \"grid\", \"zip\", \"random\" or \"latin-hypercube\", found \"{d}\""
                ),
                ))
            }
        };
        let raw_axes = raw.axis.unwrap_or_default();
        if raw_axes.is_empty() {
            return Err(err(
                "",
                "missing: expected at least one [[axis]] with a `key` and its `values`".into(),
            ));
        }
        let random = matches!(design, Design::Random | Design::LatinHypercube);
        let mut axes = Vec::with_capacity(raw_axes.len());
        for (i, a) in raw_axes.into_iter().enumerate() {
            let at = |k: &str| format!("axis[{i}].{k}");
            if a.key.is_empty() || a.key.split('.').any(|s| s.is_empty() || s.starts_with('[')) {
                return Err(err(
                    &at("key"),
                    format!("expected a dotted scenario key path such as \"service.replicas\", found \"{}\"", a.key),
                ));
            }
            if axes.iter().any(|b: &Axis| b.key == a.key) {
                return Err(err(
                    &at("key"),
                    format!("expected each key once, found \"{}\" again", a.key),
                ));
            }
            let monotone = match a.monotone.as_deref() {
                None => false,
                Some("increasing") => true,
                Some(m) => {
                    return Err(err(
                        &at("monotone"),
                        format!("expected \"increasing\" (more of it never makes a check fail), found \"{m}\""),
                    ))
                }
            };
            let given = [
                a.values.is_some(),
                a.range.is_some(),
                a.min.is_some() || a.max.is_some(),
            ];
            if given.iter().filter(|g| **g).count() != 1 {
                return Err(err(
                    &format!("axis[{i}]"),
                    "expected exactly one of `values`, `range = {from, to, step}` or `min` and `max`".into(),
                ));
            }
            let levels = if let Some(v) = a.values {
                if v.is_empty() {
                    return Err(err(&at("values"), "expected at least one value".into()));
                }
                Levels::Values(v)
            } else if let Some(r) = a.range {
                Levels::Values(range_values(&r).map_err(|m| err(&at("range"), m))?)
            } else {
                if !random {
                    return Err(err(
                        &format!("axis[{i}]"),
                        "`min` and `max` need design = \"random\" or \"latin-hypercube\"; give `values` or a `range` for a grid or zip".into(),
                    ));
                }
                let (Some(min), Some(max)) = (a.min, a.max) else {
                    return Err(err(
                        &format!("axis[{i}]"),
                        "expected both `min` and `max`".into(),
                    ));
                };
                let integer = matches!((&min, &max), (Value::Integer(_), Value::Integer(_)));
                match (num(&min), num(&max)) {
                    (Some(lo), Some(hi)) if lo <= hi => Levels::Span {
                        min: lo,
                        max: hi,
                        integer,
                    },
                    _ => {
                        return Err(err(
                            &at("max"),
                            "expected finite numbers with `min` ≤ `max`".into(),
                        ))
                    }
                }
            };
            axes.push(Axis {
                key: a.key,
                levels,
                monotone,
            });
        }
        let points = match design {
            Design::Grid => {
                if raw.points.is_some() {
                    return Err(err(
                        "points",
                        "`points` is for random designs; a grid has every combination".into(),
                    ));
                }
                let sizes: Vec<usize> = axes.iter().map(|a| values(a).len()).collect();
                let total = sizes
                    .iter()
                    .try_fold(1usize, |acc, n| acc.checked_mul(*n))
                    .filter(|n| *n <= MAX_POINTS)
                    .ok_or_else(|| {
                        err(
                            "axis",
                            format!("expected at most {MAX_POINTS} points in the grid"),
                        )
                    })?;
                (0..total)
                    .map(|mut p| {
                        let mut idx = vec![0; axes.len()];
                        for j in (0..axes.len()).rev() {
                            idx[j] = p % sizes[j];
                            p /= sizes[j];
                        }
                        axes.iter()
                            .zip(idx)
                            .map(|(a, k)| values(a)[k].clone())
                            .collect()
                    })
                    .collect()
            }
            Design::Zip => {
                if raw.points.is_some() {
                    return Err(err(
                        "points",
                        "`points` is for random designs; a zip has one point per value".into(),
                    ));
                }
                let n = values(&axes[0]).len();
                for (i, a) in axes.iter().enumerate() {
                    if values(a).len() != n {
                        return Err(err(
                            &format!("axis[{i}]"),
                            format!("design = \"zip\" needs every axis to have the same number of values: axis 0 has {n}, this one {}", values(a).len()),
                        ));
                    }
                }
                (0..n)
                    .map(|p| axes.iter().map(|a| values(a)[p].clone()).collect())
                    .collect()
            }
            Design::Random | Design::LatinHypercube => {
                let n = raw.points.ok_or_else(|| {
                    err(
                        "points",
                        "missing: a random design needs `points`, how many to draw".into(),
                    )
                })?;
                if n == 0 || n > MAX_POINTS {
                    return Err(err("points", format!("expected 1 to {MAX_POINTS} points")));
                }
                draw(
                    &axes,
                    n,
                    raw.seed.unwrap_or(0),
                    design == Design::LatinHypercube,
                )
            }
        };
        if raw.seed.is_some() && !random {
            return Err(err("seed", "`seed` draws random designs; a grid or zip has none (the scenario's own seed drives each run)".into()));
        }
        let replications = raw.replications.unwrap_or(1);
        if replications == 0 || replications > 10_000 {
            return Err(err(
                "replications",
                "expected 1 to 10000 runs per point".into(),
            ));
        }
        Ok(Sweep {
            file: file.to_string(),
            source: source.to_string(),
            scenario: raw.scenario,
            design,
            axes,
            replications,
            points,
        })
    }
}

fn values(a: &Axis) -> &[Value] {
    match &a.levels {
        Levels::Values(v) => v,
        Levels::Span { .. } => &[],
    }
}

/// `from`, `from + step`, … up to `to` inclusive: integers when all three are, floats otherwise.
fn range_values(r: &RawRange) -> Result<Vec<Value>, String> {
    let bad =
        || "expected numbers `from`, `to` and `step` with `step` > 0 and `from` ≤ `to`".to_string();
    if let (Value::Integer(a), Value::Integer(b), Value::Integer(s)) = (&r.from, &r.to, &r.step) {
        if *s <= 0 || a > b {
            return Err(bad());
        }
        let n = ((b - a) / s + 1) as usize;
        if n > MAX_POINTS {
            return Err(format!("expected at most {MAX_POINTS} values"));
        }
        return Ok((0..n as i64).map(|k| Value::Integer(a + k * s)).collect());
    }
    let (Some(a), Some(b), Some(s)) = (num(&r.from), num(&r.to), num(&r.step)) else {
        return Err(bad());
    };
    if s <= 0.0 || a > b {
        return Err(bad());
    }
    let n = ((b - a) / s + 1e-9).floor() + 1.0;
    if n > MAX_POINTS as f64 {
        return Err(format!("expected at most {MAX_POINTS} values"));
    }
    Ok((0..n as usize)
        .map(|k| Value::Float(a + k as f64 * s))
        .collect())
}

/// Draws `n` points: uniform in [0, 1) per axis, or stratified (Latin hypercube), then mapped
/// onto each axis's interval or list. One stream, drawn axis by axis, so the points depend only
/// on the seed and the file.
fn draw(axes: &[Axis], n: usize, seed: u64, latin: bool) -> Vec<Vec<Value>> {
    use rand::RngExt;
    let mut rng = RngStreams::new(seed).stream("sweep/design");
    let mut columns: Vec<Vec<Value>> = Vec::with_capacity(axes.len());
    for a in axes {
        let u: Vec<f64> = if latin {
            let mut perm: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                let j = rng.random_range(0..=i);
                perm.swap(i, j);
            }
            perm.iter()
                .map(|&b| (b as f64 + rng.random::<f64>()) / n as f64)
                .collect()
        } else {
            (0..n).map(|_| rng.random::<f64>()).collect()
        };
        columns.push(u.into_iter().map(|u| level(a, u)).collect());
    }
    (0..n)
        .map(|p| columns.iter().map(|c| c[p].clone()).collect())
        .collect()
}

/// The axis's value at quantile `u` in [0, 1).
fn level(a: &Axis, u: f64) -> Value {
    match &a.levels {
        Levels::Values(v) => v[((u * v.len() as f64) as usize).min(v.len() - 1)].clone(),
        Levels::Span {
            min,
            max,
            integer: true,
        } => {
            let span = max - min + 1.0;
            Value::Integer((min + (u * span).floor()).min(*max) as i64)
        }
        Levels::Span { min, max, .. } => Value::Float(min + u * (max - min)),
    }
}

/// A value as one `sweep.csv` cell.
pub fn cell(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Integer(n) => n.to_string(),
        Value::Float(x) => x.to_string(),
        Value::Boolean(b) => b.to_string(),
        other => other.to_string(),
    };
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(body: &str) -> Result<Sweep, ScenarioError> {
        Sweep::parse(&format!("scenario = \"s.toml\"\n{body}"), "w.toml")
    }

    #[test]
    fn grid_first_axis_slowest() {
        let s = sweep("[[axis]]\nkey = \"a\"\nvalues = [1, 2]\n[[axis]]\nkey = \"b\"\nrange = { from = 0.5, to = 1.5, step = 0.5 }\n").unwrap();
        assert_eq!(s.points.len(), 6);
        assert_eq!(s.points[1], vec![Value::Integer(1), Value::Float(1.0)]);
        assert_eq!(s.points[3], vec![Value::Integer(2), Value::Float(0.5)]);
    }

    #[test]
    fn zip_and_random_designs() {
        let s = sweep("design = \"zip\"\n[[axis]]\nkey = \"a\"\nvalues = [1, 2]\n[[axis]]\nkey = \"b\"\nvalues = [\"x\", \"y\"]\n").unwrap();
        assert_eq!(s.points.len(), 2);
        let e = sweep("design = \"zip\"\n[[axis]]\nkey = \"a\"\nvalues = [1, 2]\n[[axis]]\nkey = \"b\"\nvalues = [3]\n").unwrap_err();
        assert_eq!(e.key, "axis[1]");
        let body = "design = \"latin-hypercube\"\npoints = 10\nseed = 3\n[[axis]]\nkey = \"a\"\nmin = 1\nmax = 10\n[[axis]]\nkey = \"b\"\nmin = 0.0\nmax = 1.0\n";
        let a = sweep(body).unwrap();
        assert_eq!(
            a.points,
            sweep(body).unwrap().points,
            "same seed, same points"
        );
        let mut ints: Vec<i64> = a
            .points
            .iter()
            .map(|p| p[0].as_integer().unwrap())
            .collect();
        ints.sort();
        assert_eq!(ints, (1..=10).collect::<Vec<_>>(), "one draw per stratum");
        let mut bins: Vec<usize> = a
            .points
            .iter()
            .map(|p| (p[1].as_float().unwrap() * 10.0) as usize)
            .collect();
        bins.sort();
        assert_eq!(bins, (0..10).collect::<Vec<_>>());
    }

    proptest::proptest! {
        /// A Latin hypercube puts exactly one draw in each of its `points` strata, on every
        /// axis, for any size and seed.
        #[test]
        fn latin_hypercube_fills_every_stratum(n in 1usize..40, seed in 0u64..1000) {
            let body = format!("design = \"latin-hypercube\"\npoints = {n}\nseed = {seed}\n[[axis]]\nkey = \"a\"\nmin = 0.0\nmax = 1.0\n[[axis]]\nkey = \"b\"\nmin = 1\nmax = {n}\n");
            let s = sweep(&body).unwrap();
            let mut bins: Vec<usize> = s.points.iter().map(|p| (p[0].as_float().unwrap() * n as f64) as usize).collect();
            bins.sort();
            proptest::prop_assert_eq!(bins, (0..n).collect::<Vec<_>>());
            let mut ints: Vec<i64> = s.points.iter().map(|p| p[1].as_integer().unwrap()).collect();
            ints.sort();
            proptest::prop_assert_eq!(ints, (1..=n as i64).collect::<Vec<_>>());
        }
    }

    #[test]
    fn bad_axes_point_at_the_axis() {
        let e = sweep("[[axis]]\nkey = \"a\"\nvalues = []\n").unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("axis[0].values", Some(4)));
        let e = sweep("[[axis]]\nkey = \"a\"\nmin = 1\nmax = 2\n").unwrap_err();
        assert_eq!(e.key, "axis[0]");
        let e = sweep("[[axis]]\nkey = \"a\"\nvalues = [1]\nmonotone = \"up\"\n").unwrap_err();
        assert_eq!(e.key, "axis[0].monotone");
    }
}

//! Sharding: `--shard I/N` runs the points whose index mod N is I (the numbering of Kubernetes'
//! `JOB_COMPLETION_INDEX`); `capsim merge` joins the shards' `sweep.csv` files into the bytes an
//! unsharded run writes.

use crate::cli::error::CliError;
use crate::cli::output::Staged;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One slice of a sweep's points: those whose index mod `count` is `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// I, from 0 to N − 1.
    pub index: usize,
    /// N.
    pub count: usize,
}

impl Shard {
    /// Parses `I/N`.
    pub fn parse(s: &str) -> Result<Shard, CliError> {
        let bad = |why: &str| {
            CliError::Input(format!(
                "--shard {s}: expected I/N with 0 ≤ I < N, such as 0/3 (I is Kubernetes' JOB_COMPLETION_INDEX, counted from 0){why}"
            ))
        };
        let (i, n) = s.split_once('/').ok_or_else(|| bad(""))?;
        let (Ok(index), Ok(count)) = (i.trim().parse::<usize>(), n.trim().parse::<usize>()) else {
            return Err(bad(""));
        };
        if count == 0 {
            return Err(bad(", found N = 0"));
        }
        if index >= count {
            return Err(bad(&format!(
                ", found I = {index} with N = {count}: the shards of {count} are 0 to {}",
                count - 1
            )));
        }
        Ok(Shard { index, count })
    }

    /// Whether point `p` belongs to this shard.
    pub fn owns(&self, p: usize) -> bool {
        p % self.count == self.index
    }
}

/// `manifest.json`: what wrote a `sweep.csv`, so shards can be checked before merging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// capsim's version.
    pub capsim_version: String,
    /// FNV-1a of the sweep file.
    pub sweep_hash: String,
    /// FNV-1a of the base scenario file.
    pub scenario_hash: String,
    /// Points in the whole sweep.
    pub points: usize,
    /// The shard (0/1 for a whole sweep).
    pub shard: Shard,
}

impl Manifest {
    /// The manifest as written (fixed key order).
    pub fn to_json(&self) -> String {
        format!(
            "{{\n  \"capsim_version\": \"{}\",\n  \"sweep_hash\": \"{}\",\n  \"scenario_hash\": \"{}\",\n  \"points\": {},\n  \"shard_index\": {},\n  \"shard_count\": {}\n}}\n",
            self.capsim_version,
            self.sweep_hash,
            self.scenario_hash,
            self.points,
            self.shard.index,
            self.shard.count
        )
    }

    /// Reads `dir/manifest.json`.
    pub fn read(dir: &Path) -> Result<Manifest, CliError> {
        let path = dir.join("manifest.json");
        let shown = path.display().to_string();
        let text = crate::cli::read_text(&path).map_err(|e| {
            CliError::Input(format!(
                "{shown}: cannot read the shard's manifest ({e}); expected a folder `capsim sweep --shard I/N --out` wrote"
            ))
        })?;
        let doc: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| CliError::Input(format!("{shown}: expected a JSON manifest: {e}")))?;
        let s = |k: &str| {
            doc[k]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| CliError::Input(format!("{shown}: key `{k}`: expected a string")))
        };
        let n = |k: &str| {
            doc[k].as_u64().map(|x| x as usize).ok_or_else(|| {
                CliError::Input(format!("{shown}: key `{k}`: expected a whole number"))
            })
        };
        let shard = Shard {
            index: n("shard_index")?,
            count: n("shard_count")?,
        };
        if shard.count == 0 || shard.index >= shard.count {
            return Err(CliError::Input(format!(
                "{shown}: expected shard_index below shard_count, found {}/{}",
                shard.index, shard.count
            )));
        }
        Ok(Manifest {
            capsim_version: s("capsim_version")?,
            sweep_hash: s("sweep_hash")?,
            scenario_hash: s("scenario_hash")?,
            points: n("points")?,
            shard,
        })
    }
}

/// The cells of one CSV line (cells may be quoted).
fn cells(line: &str) -> Option<csv::StringRecord> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.as_bytes())
        .records()
        .next()?
        .ok()
}

/// `capsim merge DIR... --out DIR`: joins shard outputs into the bytes one unsharded run writes.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<(), CliError> {
    if dirs.is_empty() {
        return Err(CliError::Input(
            "merge: expected at least one shard folder".into(),
        ));
    }
    // The output folder must not be one of the shards: its sweep.csv is an input.
    if let Ok(out_full) = out.canonicalize() {
        for d in dirs {
            if d.canonicalize().is_ok_and(|full| full == out_full) {
                return Err(CliError::Input(format!(
                    "--out {}: it is the input shard folder {}; merging would overwrite that shard's sweep.csv: choose another folder",
                    out.display(),
                    d.display()
                )));
            }
        }
    }
    let mut shards: BTreeMap<usize, (PathBuf, Manifest)> = BTreeMap::new();
    let mut first: Option<(PathBuf, Manifest)> = None;
    for d in dirs {
        let m = Manifest::read(d)?;
        if m.capsim_version != sim_core::results::VERSION {
            return Err(CliError::Input(format!(
                "{}: written by capsim {}, this is capsim {}; rerun that shard with this version",
                d.display(),
                m.capsim_version,
                sim_core::results::VERSION
            )));
        }
        if let Some((fd, f)) = &first {
            let differs = |what: &str, a: &str, b: &str| {
                CliError::Input(format!(
                    "{} and {}: shards of different {what} ({a} and {b}); merge only shards of one sweep",
                    fd.display(),
                    d.display()
                ))
            };
            if f.sweep_hash != m.sweep_hash {
                return Err(differs("sweep files", &f.sweep_hash, &m.sweep_hash));
            }
            if f.scenario_hash != m.scenario_hash {
                return Err(differs(
                    "base scenarios",
                    &f.scenario_hash,
                    &m.scenario_hash,
                ));
            }
            if f.shard.count != m.shard.count || f.points != m.points {
                return Err(differs(
                    "shard counts",
                    &format!("{}/{} points", f.shard.count, f.points),
                    &format!("{}/{} points", m.shard.count, m.points),
                ));
            }
        } else {
            first = Some((d.clone(), m.clone()));
        }
        if let Some((other, _)) = shards.get(&m.shard.index) {
            return Err(CliError::Input(format!(
                "{} and {}: both are shard {}/{}; expected each shard once",
                other.display(),
                d.display(),
                m.shard.index,
                m.shard.count
            )));
        }
        shards.insert(m.shard.index, (d.clone(), m));
    }
    let (_, f) = first.expect("at least one shard");
    let missing: Vec<String> = (0..f.shard.count)
        .filter(|i| !shards.contains_key(i))
        .map(|i| format!("{i}/{}", f.shard.count))
        .collect();
    if !missing.is_empty() {
        return Err(CliError::Input(format!(
            "merge: missing shard(s) {}; expected all {} shards",
            missing.join(", "),
            f.shard.count
        )));
    }
    let mut header: Option<String> = None;
    let mut rows: Vec<(usize, usize, String)> = Vec::new();
    // (point, policy) → the file that holds its row.
    let mut seen: BTreeMap<(usize, String), String> = BTreeMap::new();
    for (d, m) in shards.values() {
        let path = d.join("sweep.csv");
        let shown = path.display().to_string();
        let text = crate::cli::read_text(&path)
            .map_err(|e| CliError::Input(format!("{shown}: cannot read: {e}")))?;
        let mut lines = text.lines();
        let h = lines.next().unwrap_or_default().to_string();
        let policy_col = cells(&h).and_then(|c| c.iter().position(|c| c == "policy"));
        match &header {
            None => header = Some(h),
            Some(x) if *x != h => {
                return Err(CliError::Input(format!(
                    "{shown}: line 1: expected the same columns as the other shards"
                )))
            }
            Some(_) => {}
        }
        for (n, line) in lines.enumerate() {
            let p: usize = line
                .split(',')
                .next()
                .and_then(|x| x.parse().ok())
                .filter(|p| *p < m.points && m.shard.owns(*p))
                .ok_or_else(|| {
                    CliError::Input(format!(
                        "{shown}: line {}: expected a point index of shard {}/{} in column `point`",
                        n + 2,
                        m.shard.index,
                        m.shard.count
                    ))
                })?;
            let policy = policy_col
                .and_then(|i| cells(line)?.get(i).map(str::to_string))
                .ok_or_else(|| {
                    CliError::Input(format!(
                        "{shown}: line {}: expected a `policy` column",
                        n + 2
                    ))
                })?;
            if let Some(first) = seen.insert((p, policy.clone()), shown.clone()) {
                return Err(CliError::Input(format!(
                    "{shown}: line {}: point {p} (policy {policy}) is also in {first}; expected each point once",
                    n + 2
                )));
            }
            rows.push((p, rows.len(), line.to_string()));
        }
    }
    let missing: Vec<String> = (0..f.points)
        .filter(|p| {
            seen.range((*p, String::new())..)
                .next()
                .is_none_or(|((q, _), _)| q != p)
        })
        .map(|p| p.to_string())
        .collect();
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(10).map(String::as_str).collect();
        return Err(CliError::Input(format!(
            "merge: {} point(s) in no shard's sweep.csv: {}{}; expected every point of the sweep once (rerun the shard that owns them)",
            missing.len(),
            shown.join(", "),
            if missing.len() > 10 { ", …" } else { "" }
        )));
    }
    rows.sort_by_key(|(p, seq, _)| (*p, *seq));
    let mut csv = header.unwrap_or_default();
    csv.push('\n');
    for (_, _, line) in &rows {
        csv.push_str(line);
        csv.push('\n');
    }
    let manifest = Manifest {
        shard: Shard { index: 0, count: 1 },
        ..f
    };
    std::fs::create_dir_all(out).map_err(|e| {
        CliError::Io(format!(
            "{}: cannot create the output folder: {e}",
            out.display()
        ))
    })?;
    let mut staged = Staged::new();
    staged.write(&out.join("sweep.csv"), &csv)?;
    staged.write(&out.join("manifest.json"), manifest.to_json())?;
    // The sweep file and base scenario are the same in every shard (the hashes matched).
    if let Some((d, _)) = shards.values().next() {
        for name in super::PROVENANCE_COPIES {
            if let Ok(bytes) = std::fs::read(d.join(name)) {
                staged.write(&out.join(name), bytes)?;
            }
        }
    }
    staged.commit()?;
    println!(
        "capsim merge: {} shards, {} rows of {} points\nwrote        {}/sweep.csv, manifest.json",
        manifest_count(&shards),
        rows.len(),
        manifest.points,
        out.display()
    );
    Ok(())
}

fn manifest_count(s: &BTreeMap<usize, (PathBuf, Manifest)>) -> usize {
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_syntax() {
        assert_eq!(Shard::parse("1/3").unwrap(), Shard { index: 1, count: 3 });
        let e = Shard::parse("3/3").unwrap_err().to_string();
        assert!(e.contains("found I = 3 with N = 3"), "{e}");
        assert!(Shard::parse("0/0").is_err());
        assert!(Shard::parse("x").is_err());
        let s = Shard { index: 2, count: 3 };
        assert!(s.owns(5) && !s.owns(4));
    }

    #[test]
    fn manifest_round_trip() {
        let m = Manifest {
            capsim_version: "0.1.0".into(),
            sweep_hash: "ab".into(),
            scenario_hash: "cd".into(),
            points: 24,
            shard: Shard { index: 1, count: 3 },
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("manifest.json"), m.to_json()).unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), m);
    }
}

//! A `capsim pack` folder (`pack.csv` of the packing experiment, or `replay.csv` of the replay)
//! read into curves per policy, averaged over seeds, and its page: allocation and fragmentation
//! curves per policy, the table of results at 100% arrived, and provenance.

use crate::chart::{Chart, Line};
use crate::fmt::{esc, fixed, qty, NBSP};
use crate::html::{close, figure, kv, open, table};
use crate::model::{fnv1a64, InputFile, ReportError};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Which experiment wrote the folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackKind {
    /// The FGD packing protocol: x is the arrived GPU request in % of capacity.
    Pack,
    /// The replay over time: x is the time in seconds.
    Replay,
}

impl PackKind {
    fn file(self) -> &'static str {
        match self {
            PackKind::Pack => "pack.csv",
            PackKind::Replay => "replay.csv",
        }
    }
    fn x_column(self) -> &'static str {
        match self {
            PackKind::Pack => "arrived_pct",
            PackKind::Replay => "time_s",
        }
    }
}

/// One policy's curves: for each x, the mean over seeds of each y column.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyCurves {
    /// Policy name.
    pub policy: String,
    /// Seeds seen.
    pub seeds: usize,
    /// (x, mean allocated %, mean fragmented %) in x order.
    pub points: Vec<(f64, f64, f64)>,
}

/// A pack folder, read.
#[derive(Clone, Debug, PartialEq)]
pub struct PackResults {
    /// Which experiment.
    pub kind: PackKind,
    /// Per policy, in file order.
    pub policies: Vec<PolicyCurves>,
    /// The file read, with its hash.
    pub file: InputFile,
}

/// Which experiment's output `dir` holds, if any.
pub fn pack_kind(dir: &Path) -> Option<PackKind> {
    [PackKind::Pack, PackKind::Replay]
        .into_iter()
        .find(|k| dir.join(k.file()).is_file())
}

/// Parses `pack.csv` or `replay.csv` text; `shown` names the file in errors.
pub fn parse_pack_csv(
    text: &str,
    kind: PackKind,
    shown: &str,
) -> Result<Vec<PolicyCurves>, ReportError> {
    let bad = |m: String| ReportError {
        message: m,
        bad_input: true,
    };
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, h)| h.split(',').collect())
        .unwrap_or_default();
    let col = |name: &str| {
        header.iter().position(|h| *h == name).ok_or_else(|| {
            bad(format!(
                "{shown}: line 1: expected a `{name}` column, found {}",
                header.join(",")
            ))
        })
    };
    let (pc, sc, xc) = (col("policy")?, col("seed")?, col(kind.x_column())?);
    let (ac, fc) = (col("alloc_gpu_pct")?, col("frag_gpu_pct")?);
    // policy -> (seeds, x bits -> (x, sum alloc, sum frag, n))
    type Acc = (
        std::collections::BTreeSet<u64>,
        BTreeMap<u64, (f64, f64, f64, u32)>,
    );
    let mut order: Vec<String> = Vec::new();
    let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
    for (i, line) in lines.filter(|(_, l)| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != header.len() {
            return Err(bad(format!(
                "{shown}: line {}: expected {} fields, found {}",
                i + 1,
                header.len(),
                f.len()
            )));
        }
        let num = |j: usize| {
            f[j].trim().parse::<f64>().map_err(|_| {
                bad(format!(
                    "{shown}: line {}, column `{}`: expected a number, found `{}`",
                    i + 1,
                    header[j],
                    f[j]
                ))
            })
        };
        let (seed, x, a, fr) = (num(sc)? as u64, num(xc)?, num(ac)?, num(fc)?);
        let policy = f[pc].to_string();
        if !acc.contains_key(&policy) {
            order.push(policy.clone());
        }
        let e = acc.entry(policy).or_default();
        e.0.insert(seed);
        // Non-negative x values order the same as their bit patterns.
        let p = e.1.entry(x.max(0.0).to_bits()).or_insert((x, 0.0, 0.0, 0));
        p.1 += a;
        p.2 += fr;
        p.3 += 1;
    }
    Ok(order
        .into_iter()
        .map(|policy| {
            let (seeds, pts) = &acc[&policy];
            PolicyCurves {
                seeds: seeds.len(),
                points: pts
                    .values()
                    .map(|&(x, a, f, n)| (x, a / n as f64, f / n as f64))
                    .collect(),
                policy,
            }
        })
        .collect())
}

/// Reads a pack folder (`pack.csv` when it has both files).
pub fn load_pack(dir: &Path) -> Result<PackResults, ReportError> {
    let Some(kind) = pack_kind(dir) else {
        return Err(ReportError {
            message: format!(
                "{}: no pack.csv or replay.csv (expected a folder `capsim pack` wrote)",
                dir.display()
            ),
            bad_input: true,
        });
    };
    load_pack_kind(dir, kind)
}

/// Reads one experiment's file of a pack folder.
pub fn load_pack_kind(dir: &Path, kind: PackKind) -> Result<PackResults, ReportError> {
    let path = dir.join(kind.file());
    let bytes = std::fs::read(&path).map_err(|e| ReportError {
        message: format!("{}: cannot read: {e}", path.display()),
        bad_input: false,
    })?;
    let policies = parse_pack_csv(
        &String::from_utf8_lossy(&bytes),
        kind,
        &path.display().to_string(),
    )?;
    Ok(PackResults {
        kind,
        policies,
        file: InputFile {
            role: "result".to_string(),
            path: kind.file().to_string(),
            bytes: bytes.len() as u64,
            fnv1a64: format!("{:016x}", fnv1a64(&bytes)),
        },
    })
}

/// The allocation and fragmentation curves, one line per policy.
pub fn pack_charts(res: &PackResults) -> Vec<Chart> {
    let (x_label, div, what) = match res.kind {
        PackKind::Pack => (
            "arrived GPU request (% of GPU capacity)".to_string(),
            1.0,
            "as the arrived GPU request grows",
        ),
        PackKind::Replay => {
            let max = res
                .policies
                .iter()
                .flat_map(|p| p.points.iter().map(|q| q.0))
                .fold(0.0f64, f64::max);
            if max > 5.0 * 86_400.0 {
                ("time (days)".to_string(), 86_400.0, "over the replay")
            } else {
                ("time (h)".to_string(), 3600.0, "over the replay")
            }
        }
    };
    let lines = |pick: fn(&(f64, f64, f64)) -> f64| -> Vec<Line> {
        res.policies
            .iter()
            .map(|p| Line {
                name: p.policy.clone(),
                points: p
                    .points
                    .iter()
                    .map(|q| (q.0 / div, Some(pick(q))))
                    .collect(),
                ci: Vec::new(),
                verdicts: Vec::new(),
            })
            .collect()
    };
    let chart = |id: &str, title: &str, caption: String, y: &str, lines: Vec<Line>| Chart {
        id: id.to_string(),
        title: title.to_string(),
        caption,
        x_label: x_label.clone(),
        y_label: y.to_string(),
        lines,
        targets: Vec::new(),
        markers: Vec::new(),
        points: Vec::new(),
        bands: Vec::new(),
        stacked: false,
        ..Default::default()
    };
    vec![
        chart(
            "pack-alloc",
            "GPU allocation per policy",
            format!("Allocated GPU share {what}, mean over seeds; higher is better once the cluster is full."),
            "allocated GPU (% of capacity)",
            lines(|q| q.1),
        ),
        chart(
            "pack-frag",
            "GPU fragmentation per policy",
            format!("GPU capacity no pod of the target workload can use {what}, mean over seeds; lower is better."),
            "fragmented GPU (% of capacity)",
            lines(|q| q.2),
        ),
    ]
}

/// The whole page for a pack folder.
pub fn pack_page(res: &PackResults) -> String {
    let mut o = String::with_capacity(32 * 1024);
    open(
        &mut o,
        match res.kind {
            PackKind::Pack => "GPU packing experiment",
            PackKind::Replay => "GPU packing replay",
        },
    );
    let seeds = res.policies.iter().map(|p| p.seeds).max().unwrap_or(0);
    let _ = writeln!(
        o,
        "<p class=\"meta\">{} policies · {seeds} seeds each · curves are means over seeds</p>",
        res.policies.len()
    );
    o.push_str("<h2 id=\"results\">Results</h2>\n");
    let rows: Vec<Vec<String>> = res
        .policies
        .iter()
        .map(|p| {
            let at = match res.kind {
                // The first point at or past 100% arrived: the paper's headline figure.
                PackKind::Pack => p.points.iter().find(|q| q.0 >= 100.0).or(p.points.last()),
                PackKind::Replay => p.points.last(),
            };
            let peak = p.points.iter().map(|q| q.1).fold(0.0f64, f64::max);
            vec![
                p.policy.clone(),
                p.seeds.to_string(),
                qty(at.map(|q| 100.0 - q.1), 2, "%"),
                qty(at.map(|q| q.2), 2, "%"),
                format!("{}{NBSP}%", fixed(peak, 2)),
            ]
        })
        .collect();
    let at = match res.kind {
        PackKind::Pack => "at 100% arrived",
        PackKind::Replay => "at the end",
    };
    let h = [
        "policy".to_string(),
        "seeds".to_string(),
        format!("unallocated GPU {at}"),
        format!("fragmented GPU {at}"),
        "peak allocation".to_string(),
    ];
    let h: Vec<&str> = h.iter().map(String::as_str).collect();
    table(&mut o, &h, &rows, 1);
    o.push_str("<div class=\"charts\">\n");
    for c in pack_charts(res) {
        figure(&mut o, &c);
    }
    o.push_str("</div>\n<h2 id=\"provenance\">Provenance</h2>\n");
    let mut p = Vec::new();
    kv(
        &mut p,
        "capsim that wrote this report",
        crate::VERSION.to_string(),
    );
    kv(
        &mut p,
        &res.file.path,
        format!(
            "{} bytes, FNV-1a 64 {}",
            res.file.bytes,
            esc(&res.file.fnv1a64)
        ),
    );
    table(&mut o, &["what", "value"], &p, 2);
    close(&mut o);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "policy,seed,arrived_pct,alloc_gpu_pct,frag_gpu_pct,unallocated_gpu_pct\n\
        fgd,1,0,0,10,100\nfgd,1,100,90,4,10\nfgd,2,0,0,12,100\nfgd,2,100,94,6,6\n\
        random,1,0,0,10,100\nrandom,1,100,80,14,20\n";

    #[test]
    fn curves_are_means_over_seeds() {
        let p = parse_pack_csv(CSV, PackKind::Pack, "pack.csv").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].policy, "fgd");
        assert_eq!(p[0].seeds, 2);
        assert_eq!(p[0].points, [(0.0, 0.0, 11.0), (100.0, 92.0, 5.0)]);
        let res = PackResults {
            kind: PackKind::Pack,
            policies: p,
            file: InputFile {
                role: "result".into(),
                path: "pack.csv".into(),
                bytes: 1,
                fnv1a64: "0".into(),
            },
        };
        let charts = pack_charts(&res);
        assert_eq!(charts[0].lines[1].points[1], (100.0, Some(80.0)));
        let page = pack_page(&res);
        assert!(page.contains("8.00\u{a0}%"), "fgd unallocated at 100%");
        assert_eq!(page, pack_page(&res));
    }

    #[test]
    fn missing_columns_and_bad_cells_are_named() {
        let e = parse_pack_csv("policy,seed\n", PackKind::Pack, "p.csv").unwrap_err();
        assert!(e.message.contains("`arrived_pct`"), "{}", e.message);
        let e = parse_pack_csv(
            "policy,seed,arrived_pct,alloc_gpu_pct,frag_gpu_pct\nfgd,1,x,0,0\n",
            PackKind::Pack,
            "p.csv",
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "p.csv: line 2, column `arrived_pct`: expected a number, found `x`"
        );
    }
}

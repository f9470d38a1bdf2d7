//! The openb trace's CSV files: `openb_node_list_*.csv` (`sn,cpu_milli,memory_mib,gpu,model`) and
//! `openb_pod_list_*.csv` (`name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,...]`).
//!
//! Columns are found by name, extra columns are ignored, and `gpu_spec` is optional (the multigpu
//! files lack it). So are `creation_time` and `deletion_time` (whole seconds), which only the replay
//! needs: when the file has them, a creation time must be a whole number, a deletion time a whole
//! number not before the creation time, or empty (or `nan`) for a pod still running at the end. Only GPU nodes (`gpu > 0`) are kept. Every malformed value is reported with the
//! file, the data row (1 = first row after the header), the column and what was expected.

use super::share::{GpuNode, ModelSet, PodShape, MAX_GPUS, MILLI};
use std::fmt;

/// A malformed trace file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError {
    /// The file as the user named it.
    pub file: String,
    /// The data row (1-based, header excluded), or 0 for the header or the file as a whole.
    pub row: usize,
    /// The column concerned, if any.
    pub column: Option<String>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.row > 0 {
            write!(f, ": row {}", self.row)?;
        }
        if let Some(c) = &self.column {
            write!(f, ", column `{c}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for TraceError {}

/// Nodes and pods of one experiment, with the GPU model names they share.
#[derive(Clone, Debug, PartialEq)]
pub struct PackTrace {
    /// GPU model names; a model's index is its position here.
    pub models: Vec<String>,
    /// GPU nodes in file order, each with its name.
    pub nodes: Vec<(String, GpuNode)>,
    /// Pods in file order: the original workload.
    pub pods: Vec<PodShape>,
    /// Each pod's creation and deletion time, in file order, when the pod list has them.
    pub times: Option<Vec<PodTimes>>,
}

/// When a pod of the trace was created and deleted, in whole seconds from the trace's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodTimes {
    /// Creation time.
    pub creation_s: u64,
    /// Deletion time, not before the creation; `None` for a pod still running when the trace ends.
    pub deletion_s: Option<u64>,
}

impl PackTrace {
    /// Total GPU capacity in milli-GPU.
    pub fn capacity_milli(&self) -> u64 {
        self.nodes
            .iter()
            .map(|(_, n)| n.gpus as u64 * MILLI as u64)
            .sum()
    }
}

struct Table<'a> {
    file: &'a str,
    headers: csv::StringRecord,
    reader: csv::Reader<&'a [u8]>,
}

impl<'a> Table<'a> {
    fn open(file: &'a str, text: &'a str) -> Result<Self, TraceError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| err(file, 0, None, format!("cannot read the header: {e}")))?
            .clone();
        Ok(Table {
            file,
            headers,
            reader,
        })
    }

    fn column(&self, name: &str, required: bool) -> Result<Option<usize>, TraceError> {
        let i = self.headers.iter().position(|h| h.trim() == name);
        if i.is_none() && required {
            let have: Vec<&str> = self.headers.iter().collect();
            return Err(err(
                self.file,
                0,
                Some(name),
                format!("missing column (the header has: {})", have.join(",")),
            ));
        }
        Ok(i)
    }
}

fn err(file: &str, row: usize, column: Option<&str>, message: String) -> TraceError {
    TraceError {
        file: file.to_string(),
        row,
        column: column.map(str::to_string),
        message,
    }
}

fn int_field(
    file: &str,
    row: usize,
    rec: &csv::StringRecord,
    idx: usize,
    name: &str,
    max: u64,
) -> Result<u64, TraceError> {
    let raw = rec.get(idx).unwrap_or("").trim();
    let v: u64 = raw.parse().map_err(|_| {
        err(
            file,
            row,
            Some(name),
            format!("expected a whole number from 0 to {max}, found `{raw}`"),
        )
    })?;
    if v > max {
        return Err(err(
            file,
            row,
            Some(name),
            format!("expected a whole number from 0 to {max}, found {v}"),
        ));
    }
    Ok(v)
}

fn intern(models: &mut Vec<String>, name: &str) -> Option<u8> {
    if let Some(i) = models.iter().position(|m| m == name) {
        return Some(i as u8);
    }
    if models.len() >= 64 {
        return None;
    }
    models.push(name.to_string());
    Some((models.len() - 1) as u8)
}

/// Parses a node list; `file` names it in errors. Returns the model names and the GPU nodes.
pub fn parse_nodes(file: &str, text: &str) -> Result<PackTrace, TraceError> {
    let mut t = Table::open(file, text)?;
    let c_name = t.column("sn", true)?.unwrap_or(0);
    let c_cpu = t.column("cpu_milli", true)?.unwrap_or(0);
    let c_mem = t.column("memory_mib", true)?.unwrap_or(0);
    let c_gpu = t.column("gpu", true)?.unwrap_or(0);
    let c_model = t.column("model", true)?.unwrap_or(0);
    let mut models = Vec::new();
    let mut nodes = Vec::new();
    for (i, rec) in t.reader.records().enumerate() {
        let row = i + 1;
        let rec = rec.map_err(|e| err(file, row, None, format!("malformed CSV row: {e}")))?;
        let name = rec.get(c_name).unwrap_or("").trim().to_string();
        let cpu = int_field(file, row, &rec, c_cpu, "cpu_milli", u32::MAX as u64)? as u32;
        let mem = int_field(file, row, &rec, c_mem, "memory_mib", u64::MAX >> 1)?;
        let gpus = int_field(file, row, &rec, c_gpu, "gpu", MAX_GPUS as u64)? as u8;
        if gpus == 0 {
            continue; // CPU-only node: the experiment uses GPU nodes only.
        }
        let model_name = rec.get(c_model).unwrap_or("").trim();
        if model_name.is_empty() || model_name == "nan" {
            return Err(err(
                file,
                row,
                Some("model"),
                "a GPU node needs a GPU model name".into(),
            ));
        }
        let model = intern(&mut models, model_name).ok_or_else(|| {
            err(
                file,
                row,
                Some("model"),
                "more than 64 distinct GPU models".into(),
            )
        })?;
        nodes.push((name, GpuNode::new(cpu, mem, gpus, model)));
    }
    if nodes.is_empty() {
        return Err(err(
            file,
            0,
            None,
            "no GPU nodes (gpu > 0) in the file".into(),
        ));
    }
    Ok(PackTrace {
        models,
        nodes,
        pods: Vec::new(),
        times: None,
    })
}

/// Parses a pod list into `trace.pods`; `file` names it in errors. Model names in `gpu_spec`
/// (`A|B`) are matched against the node list's; a name no node has is kept and never matches.
pub fn parse_pods(file: &str, text: &str, trace: &mut PackTrace) -> Result<(), TraceError> {
    let mut t = Table::open(file, text)?;
    let c_cpu = t.column("cpu_milli", true)?.unwrap_or(0);
    let c_mem = t.column("memory_mib", true)?.unwrap_or(0);
    let c_num = t.column("num_gpu", true)?.unwrap_or(0);
    let c_milli = t.column("gpu_milli", true)?.unwrap_or(0);
    let c_spec = t.column("gpu_spec", false)?;
    let c_created = t.column("creation_time", false)?;
    let c_deleted = t.column("deletion_time", false)?;
    let timed = match (c_created, c_deleted) {
        (Some(c), Some(d)) => Some((c, d)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(err(
                file,
                0,
                Some("deletion_time"),
                "missing column (a pod list with creation_time needs deletion_time too)".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(err(
                file,
                0,
                Some("creation_time"),
                "missing column (a pod list with deletion_time needs creation_time too)".into(),
            ))
        }
    };
    let mut times = Vec::new();
    let mut pods = Vec::new();
    for (i, rec) in t.reader.records().enumerate() {
        let row = i + 1;
        let rec = rec.map_err(|e| err(file, row, None, format!("malformed CSV row: {e}")))?;
        let cpu = int_field(file, row, &rec, c_cpu, "cpu_milli", u32::MAX as u64)? as u32;
        let mem = int_field(file, row, &rec, c_mem, "memory_mib", u64::MAX >> 1)?;
        let num = int_field(file, row, &rec, c_num, "num_gpu", MAX_GPUS as u64)? as u8;
        let milli = int_field(file, row, &rec, c_milli, "gpu_milli", MILLI as u64)? as u16;
        if num == 0 && milli != 0 {
            return Err(err(
                file,
                row,
                Some("gpu_milli"),
                format!("expected 0 for a pod with num_gpu 0, found {milli}"),
            ));
        }
        if num == 1 && milli == 0 {
            return Err(err(
                file,
                row,
                Some("gpu_milli"),
                "expected 1 to 1000 for a pod with num_gpu 1, found 0".into(),
            ));
        }
        if num > 1 && milli != MILLI {
            return Err(err(
                file,
                row,
                Some("gpu_milli"),
                format!("expected 1000 (whole GPUs) for a pod with num_gpu {num}, found {milli}"),
            ));
        }
        let mut models = ModelSet::ANY;
        if let Some(c) = c_spec {
            let spec = rec.get(c).unwrap_or("").trim();
            if !spec.is_empty() && spec != "nan" {
                let mut set = ModelSet {
                    any: false,
                    mask: 0,
                };
                for name in spec.split('|').map(str::trim).filter(|s| !s.is_empty()) {
                    let m = intern(&mut trace.models, name).ok_or_else(|| {
                        err(
                            file,
                            row,
                            Some("gpu_spec"),
                            "more than 64 distinct GPU models".into(),
                        )
                    })?;
                    set.mask |= 1u64 << m;
                }
                if set.mask != 0 {
                    models = set;
                }
            }
        }
        if let Some((c, d)) = timed {
            const MAX_S: u64 = 1 << 40;
            let creation_s = int_field(file, row, &rec, c, "creation_time", MAX_S)?;
            let raw = rec.get(d).unwrap_or("").trim();
            let deletion_s = if raw.is_empty() || raw == "nan" {
                None
            } else {
                let v = int_field(file, row, &rec, d, "deletion_time", MAX_S)?;
                if v < creation_s {
                    return Err(err(
                        file,
                        row,
                        Some("deletion_time"),
                        format!(
                            "expected a time not before creation_time {creation_s}, found {v} \
                             (leave it empty for a pod that runs to the end)"
                        ),
                    ));
                }
                Some(v)
            };
            times.push(PodTimes {
                creation_s,
                deletion_s,
            });
        }
        pods.push(PodShape {
            cpu_milli: cpu,
            memory_mib: mem,
            num_gpu: num,
            gpu_milli: milli,
            models,
        });
    }
    if pods.is_empty() {
        return Err(err(file, 0, None, "no pods in the file".into()));
    }
    trace.pods = pods;
    trace.times = timed.map(|_| times);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,32000,1000,0,\nn2,96000,786432,8,V100M32\n";

    #[test]
    fn parses_gpu_nodes_and_pods() {
        let mut t = parse_nodes("nodes.csv", NODES).unwrap();
        assert_eq!(t.nodes.len(), 2);
        assert_eq!(t.models, vec!["P100", "V100M32"]);
        assert_eq!(t.capacity_milli(), 10_000);
        let pods = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\np0,1000,10,1,500,\np1,2000,10,2,1000,V100M32|X\np2,100,1,0,0,nan\n";
        parse_pods("pods.csv", pods, &mut t).unwrap();
        assert_eq!(t.pods.len(), 3);
        assert!(t.pods[0].models.any);
        assert!(t.pods[1].models.allows(1) && !t.pods[1].models.allows(0));
        assert_eq!(t.models.len(), 3);
    }

    #[test]
    fn bad_values_name_file_row_and_column() {
        let mut t = parse_nodes("nodes.csv", NODES).unwrap();
        let e = parse_pods(
            "pods.csv",
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,10,1,500\np1,x,10,1,5\n",
            &mut t,
        )
        .unwrap_err();
        assert_eq!(e.row, 2);
        assert_eq!(e.column.as_deref(), Some("cpu_milli"));
        assert!(
            e.to_string()
                .starts_with("pods.csv: row 2, column `cpu_milli`"),
            "{e}"
        );
        let e = parse_pods(
            "pods.csv",
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,10,2,500\n",
            &mut t,
        )
        .unwrap_err();
        assert_eq!(e.column.as_deref(), Some("gpu_milli"));
        let e = parse_pods("pods.csv", "name,cpu_milli,memory_mib,num_gpu\n", &mut t).unwrap_err();
        assert!(e.to_string().contains("gpu_milli"), "{e}");
        let e = parse_pods(
            "pods.csv",
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time,deletion_time\np0,1,1,0,0,5,\np1,1,1,0,0,1h,9\n",
            &mut t,
        )
        .unwrap_err();
        assert_eq!((e.row, e.column.as_deref()), (2, Some("creation_time")));
        let e = parse_pods(
            "pods.csv",
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time,deletion_time\np0,1,1,0,0,5,4\n",
            &mut t,
        )
        .unwrap_err();
        assert_eq!((e.row, e.column.as_deref()), (1, Some("deletion_time")));
        assert!(e.to_string().contains("not before creation_time 5"), "{e}");
        parse_pods(
            "pods.csv",
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time,deletion_time\np0,1,1,0,0,5,\np1,1,1,0,0,6,6\n",
            &mut t,
        )
        .unwrap();
        assert_eq!(
            t.times,
            Some(vec![
                PodTimes {
                    creation_s: 5,
                    deletion_s: None
                },
                PodTimes {
                    creation_s: 6,
                    deletion_s: Some(6)
                }
            ])
        );
        let e =
            parse_nodes("n.csv", "sn,cpu_milli,memory_mib,gpu,model\na,1,1,9,T4\n").unwrap_err();
        assert_eq!(e.column.as_deref(), Some("gpu"));
    }
}

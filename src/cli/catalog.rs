//! `capsim catalog`: the built-in catalogs (GPUs, instance types, LLM models, MIG profiles) as a
//! table, CSV, JSON or a Markdown table, with each entry's source and, for prices, their date;
//! with `--scenario`, the catalogs as that scenario sees them (its catalog files and `[[model]]`
//! tables applied).

use super::error::CliError;
use serde_json::{json, Map, Value};
use sim_core::catalog::Catalog;
use sim_core::gpu::mig::MigCatalog;

/// Which catalog `capsim catalog` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// GPU models (`sim-core/catalog/gpus.toml`).
    Gpus,
    /// Cloud instance types and their prices (`sim-core/catalog/instances.toml`).
    Instances,
    /// LLM architectures (`sim-core/catalog/models.toml`).
    Models,
    /// MIG profiles per GPU model (`sim-core/catalog/mig.toml`).
    Mig,
}

/// How `capsim catalog` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array of objects, one per row.
    Json,
    /// A Markdown table.
    Markdown,
}

/// Columns and rows of one catalog, each cell a JSON value (a string, number, boolean or null).
struct Rows {
    columns: Vec<&'static str>,
    rows: Vec<Vec<Value>>,
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

fn gib(bytes: u64) -> Value {
    json!(bytes as f64 / GIB)
}

fn gpus(cat: &Catalog, gpu: Option<&str>) -> Rows {
    Rows {
        columns: vec![
            "id",
            "name",
            "memory_gib",
            "memory_bandwidth_gb_per_s",
            "bf16_dense_tflops",
            "sms",
            "mig",
            "verified",
            "source",
        ],
        rows: cat
            .gpus
            .iter()
            .filter(|g| gpu.is_none_or(|id| g.id == id))
            .map(|g| {
                vec![
                    json!(g.id),
                    json!(g.name),
                    gib(g.memory_bytes),
                    json!(g.memory_bandwidth_gb_per_s),
                    json!(g.bf16_dense_tflops),
                    json!(g.sms),
                    json!(g.mig),
                    json!(g.verified),
                    json!(g.source),
                ]
            })
            .collect(),
    }
}

fn instances(cat: &Catalog, gpu: Option<&str>) -> Rows {
    Rows {
        columns: vec![
            "id",
            "provider",
            "region",
            "vcpu",
            "memory_gib",
            "gpu",
            "gpu_count",
            "on_demand_usd_per_hour",
            "spot_usd_per_hour",
            "price_date",
            "price_verified",
            "price_source",
        ],
        rows: cat
            .instances
            .iter()
            .filter(|i| gpu.is_none_or(|id| i.gpu.as_deref() == Some(id)))
            .map(|i| {
                vec![
                    json!(i.id),
                    json!(i.provider),
                    json!(i.region),
                    json!(i.vcpu),
                    gib(i.memory_bytes),
                    json!(i.gpu),
                    json!(i.gpu_count),
                    json!(i.on_demand_usd_per_hour),
                    json!(i.spot_usd_per_hour),
                    json!(i.price_date),
                    json!(i.price_verified),
                    json!(i.price_source),
                ]
            })
            .collect(),
    }
}

fn models(cat: &Catalog) -> Rows {
    let round = |x: f64, digits: i32| {
        let f = 10f64.powi(digits);
        (x * f).round() / f
    };
    Rows {
        columns: vec![
            "id",
            "name",
            "params_billions",
            "layers",
            "hidden_size",
            "attention_heads",
            "kv_heads",
            "head_dim",
            "ffn_size",
            "vocab_size",
            "experts",
            "experts_per_token",
            "bytes_per_weight",
            "bytes_per_kv",
            "weights_gib",
            "kv_kib_per_token",
            "source",
        ],
        rows: cat
            .models()
            .iter()
            .map(|m| {
                vec![
                    json!(m.id),
                    json!(m.name),
                    json!(round(m.params() as f64 / 1e9, 2)),
                    json!(m.layers),
                    json!(m.hidden_size),
                    json!(m.attention_heads),
                    json!(m.kv_heads),
                    json!(m.head_dim),
                    json!(m.ffn_size),
                    json!(m.vocab_size),
                    json!(m.experts),
                    json!(m.experts_per_token),
                    json!(m.bytes_per_weight),
                    json!(m.bytes_per_kv),
                    json!(round(m.weight_bytes() / GIB, 2)),
                    json!(round(m.kv_bytes_per_token() / 1024.0, 1)),
                    json!(m.source),
                ]
            })
            .collect(),
    }
}

fn mig(gpu: Option<&str>) -> Result<Rows, CliError> {
    let cat = MigCatalog::builtin();
    let models = match gpu {
        Some(id) => vec![cat
            .for_gpu(id)
            .map_err(|e| CliError::Input(format!("--gpu: {e}")))?],
        None => cat.models.iter().collect(),
    };
    let mut rows = Vec::new();
    for m in models {
        for p in &m.profiles {
            let starts: Vec<String> = p.starts.iter().map(u8::to_string).collect();
            rows.push(vec![
                json!(m.id),
                json!(m.gpus.join(" ")),
                json!(p.name),
                json!(p.id),
                json!(p.compute_slices),
                json!(p.memory_slices),
                json!(p.sms),
                json!(p.memory_gib),
                json!(p.max_instances),
                json!(starts.join(" ")),
                json!(p.verified),
                json!(m.source),
            ]);
        }
    }
    Ok(Rows {
        columns: vec![
            "mig_model",
            "gpus",
            "profile",
            "profile_id",
            "compute_slices",
            "memory_slices",
            "sms",
            "memory_gib",
            "max_instances",
            "starts",
            "verified",
            "source",
        ],
        rows,
    })
}

/// A cell as text: strings bare, null as `-`, numbers as JSON writes them.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Renders `rows` in `format`, every line ending in a newline.
fn render(rows: &Rows, format: Format) -> String {
    let cells: Vec<Vec<String>> = rows
        .rows
        .iter()
        .map(|r| r.iter().map(text).collect())
        .collect();
    let mut out = String::new();
    match format {
        Format::Json => {
            let objects: Vec<Value> = rows
                .rows
                .iter()
                .map(|r| {
                    let m: Map<String, Value> = rows
                        .columns
                        .iter()
                        .map(|c| c.to_string())
                        .zip(r.iter().cloned())
                        .collect();
                    Value::Object(m)
                })
                .collect();
            out = serde_json::to_string_pretty(&objects).expect("JSON values serialise");
            out.push('\n');
        }
        Format::Csv => {
            for line in std::iter::once(rows.columns.iter().map(|c| c.to_string()).collect())
                .chain(cells)
                .map(|r: Vec<String>| r.iter().map(|c| csv_field(c)).collect::<Vec<_>>())
            {
                out += &line.join(",");
                out.push('\n');
            }
        }
        Format::Markdown => {
            let esc = |s: &str| s.replace('|', "\\|");
            out += &format!("| {} |\n", rows.columns.join(" | "));
            out += &format!("|{}\n", " --- |".repeat(rows.columns.len()));
            for r in &cells {
                let r: Vec<String> = r.iter().map(|c| esc(c)).collect();
                out += &format!("| {} |\n", r.join(" | "));
            }
        }
        Format::Table => {
            // The source column (last) is long: it goes under the row instead.
            let n = rows.columns.len() - 1;
            let mut width: Vec<usize> = rows.columns[..n].iter().map(|c| c.len()).collect();
            for r in &cells {
                for (w, c) in width.iter_mut().zip(r) {
                    *w = (*w).max(c.chars().count());
                }
            }
            let line = |r: &[String]| {
                let padded: Vec<String> = r[..n]
                    .iter()
                    .zip(&width)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                padded.join("  ").trim_end().to_string() + "\n"
            };
            let head: Vec<String> = rows.columns.iter().map(|c| c.to_string()).collect();
            out += &line(&head);
            let mut last: Option<&String> = None;
            for r in &cells {
                out += &line(r);
                // Printed once for a run of rows that share it (a MIG model's profiles).
                if last != Some(&r[n]) {
                    out += &format!("    {}: {}\n", rows.columns[n], r[n]);
                }
                last = Some(&r[n]);
            }
        }
    }
    out
}

/// Prints one catalog: the built-in one, or with `scenario` the one that scenario's runs use
/// (the instance and GPU files its `[cluster]` names, then its `[[model]]` tables); `--gpu`
/// keeps one GPU's entries (GPUs, instance types, MIG).
pub fn catalog(
    which: Which,
    gpu: Option<&str>,
    format: Format,
    scenario: Option<&std::path::Path>,
) -> Result<(), CliError> {
    let cat = match scenario {
        None => Catalog::builtin(),
        Some(path) => {
            let shown = path.display().to_string();
            let text = crate::cli::read_text(path)
                .map_err(|e| CliError::Input(format!("{shown}: cannot read the scenario: {e}")))?;
            let base = path.parent().unwrap_or(std::path::Path::new("."));
            let cat = super::load::load_catalog(&text, &shown, base)?;
            sim_core::scenario::model::scenario_catalog(&text, &shown, &cat)
                .map_err(|e| CliError::Input(e.to_string()))?
        }
    };
    if let Some(id) = gpu {
        if which == Which::Models {
            return Err(CliError::Input(
                "--gpu: applies to `gpus`, `instances` and `mig`, not to `models`".to_string(),
            ));
        }
        if cat.gpu(id).is_none() && MigCatalog::builtin().for_gpu(id).is_err() {
            let ids = cat.gpu_ids().join(", ");
            return Err(CliError::Input(format!(
                "--gpu: unknown GPU `{id}`: expected one of {ids}"
            )));
        }
    }
    let rows = match which {
        Which::Gpus => gpus(&cat, gpu),
        Which::Instances => instances(&cat, gpu),
        Which::Models => models(&cat),
        Which::Mig => mig(gpu)?,
    };
    print!("{}", render(&rows, format));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Rows {
        Rows {
            columns: vec!["id", "price", "source"],
            rows: vec![
                vec![json!("a|b"), json!(1.5), json!("x, \"y\"")],
                vec![json!("c"), Value::Null, json!("z")],
            ],
        }
    }

    #[test]
    fn csv_quotes_fields_with_commas_and_quotes() {
        assert_eq!(
            render(&small(), Format::Csv),
            "id,price,source\na|b,1.5,\"x, \"\"y\"\"\"\nc,-,z\n"
        );
    }

    #[test]
    fn table_aligns_columns_and_puts_the_source_under_each_row() {
        assert_eq!(
            render(&small(), Format::Table),
            "id   price\na|b  1.5\n    source: x, \"y\"\nc    -\n    source: z\n"
        );
        let mut same = small();
        same.rows[1][2] = json!("x, \"y\"");
        assert_eq!(
            render(&same, Format::Table),
            "id   price\na|b  1.5\n    source: x, \"y\"\nc    -\n"
        );
    }

    #[test]
    fn markdown_escapes_pipes_and_json_keeps_types() {
        let md = render(&small(), Format::Markdown);
        assert!(md.starts_with("| id | price | source |\n| --- | --- | --- |\n| a\\|b | 1.5 |"));
        let v: Value = serde_json::from_str(&render(&small(), Format::Json)).unwrap();
        assert_eq!(v[0]["price"], json!(1.5));
        assert_eq!(v[1]["price"], Value::Null);
    }

    #[test]
    fn every_catalog_has_rows_and_the_gpu_filter_keeps_one_gpu() {
        let cat = Catalog::builtin();
        assert_eq!(gpus(&cat, Some("h100-sxm")).rows.len(), 1);
        let inst = instances(&cat, Some("l4"));
        assert!(!inst.rows.is_empty());
        assert!(inst.rows.iter().all(|r| r[5] == json!("l4")));
        assert!(!models(&Catalog::builtin()).rows.is_empty());
        let h100 = mig(Some("h100-sxm")).unwrap();
        assert!(h100.rows.iter().all(|r| r[0] == json!("h100-80gb")));
        assert!(mig(None).unwrap().rows.len() > h100.rows.len());
        assert!(mig(Some("l4")).is_err());
    }
}

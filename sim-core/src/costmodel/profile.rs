//! Measured step-time tables that replace the roofline: one decode table (batch × context → ms)
//! and one prefill table (batch × prompt → ms) per model, in the CSV format of capsim's
//! calibration files, interpolated.

use super::batch::StepBatch;
use super::roofline::Roofline;

/// Which measured table a CSV file holds, told apart by its fourth column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileKind {
    /// `model,params_gb,batch,context,ms`: one decode step of `batch` sequences of `context` tokens.
    Decode,
    /// `model,params_gb,batch,prompt,ms`: one prefill of `batch` prompts of `prompt` tokens.
    Prefill,
}

impl ProfileKind {
    /// The name of the column after `batch`.
    pub fn column(self) -> &'static str {
        match self {
            ProfileKind::Decode => "context",
            ProfileKind::Prefill => "prompt",
        }
    }
}

/// One measured row.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileRow {
    /// Model id (a catalog id).
    pub model: String,
    /// The measured model's weight size in GB, as recorded (informational).
    pub params_gb: f64,
    /// Sequences in the step.
    pub batch: u64,
    /// Context (decode) or prompt (prefill) tokens per sequence.
    pub tokens: u64,
    /// Measured milliseconds.
    pub ms: f64,
    /// 1-based line in the file.
    pub line: u64,
}

/// A problem with a measured-timings CSV file, naming the file, row and column: the same error
/// a trace file gets.
pub type ProfileError = crate::traffic::TraceError;

/// An error in `file` at `row`/`column`.
pub(super) fn error(
    file: &str,
    row: Option<u64>,
    column: Option<&str>,
    message: String,
) -> ProfileError {
    ProfileError {
        file: file.to_string(),
        row,
        column: column.map(str::to_string),
        message,
    }
}

/// The 1-based line of byte offset `byte` in `text` (the csv crate miscounts CRLF files).
pub(super) fn line_at(text: &str, byte: u64) -> u64 {
    let bytes = text.as_bytes();
    let mut end = usize::try_from(byte).map_or(bytes.len(), |b| b.min(bytes.len()));
    // A record's reported start may be the line break before it.
    while end < bytes.len() && (bytes[end] == b'\r' || bytes[end] == b'\n') {
        end += 1;
    }
    bytes[..end].iter().filter(|&&c| c == b'\n').count() as u64 + 1
}

/// Reads a decode or prefill timings file (`text`, named `file` in errors).
pub fn read_profile_csv(
    text: &str,
    file: &str,
) -> Result<(ProfileKind, Vec<ProfileRow>), ProfileError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| error(file, Some(1), None, format!("cannot read the header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let kind = if headers.iter().any(|h| h == "context") {
        ProfileKind::Decode
    } else if headers.iter().any(|h| h == "prompt") {
        ProfileKind::Prefill
    } else {
        return Err(error(
            file,
            Some(1),
            None,
            format!(
                "expected the header `model,params_gb,batch,context,ms` (decode) or \
                 `model,params_gb,batch,prompt,ms` (prefill), found `{}`",
                headers.join(",")
            ),
        ));
    };
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            error(
                file,
                Some(1),
                Some(name),
                format!(
                    "missing column: expected `{name}`, found `{}`",
                    headers.join(",")
                ),
            )
        })
    };
    let (c_model, c_params, c_batch, c_tokens, c_ms) = (
        col("model")?,
        col("params_gb")?,
        col("batch")?,
        col(kind.column())?,
        col("ms")?,
    );
    let mut rows = Vec::new();
    for record in rdr.records() {
        let record = record.map_err(|e| {
            let row = e.position().map(|p| line_at(text, p.byte()));
            error(file, row, None, format!("malformed CSV row: {e}"))
        })?;
        let line = record.position().map_or(0, |p| line_at(text, p.byte()));
        let field = |i: usize| record.get(i).unwrap_or("");
        let whole = |i: usize, name: &str, what: &str| -> Result<u64, ProfileError> {
            match field(i).parse::<u64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(error(
                    file,
                    Some(line),
                    Some(name),
                    format!(
                        "expected {what}, a whole number above zero, found `{}`",
                        field(i)
                    ),
                )),
            }
        };
        let positive = |i: usize, name: &str, what: &str| -> Result<f64, ProfileError> {
            match field(i).parse::<f64>() {
                Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
                _ => Err(error(
                    file,
                    Some(line),
                    Some(name),
                    format!("expected {what}, a number above zero, found `{}`", field(i)),
                )),
            }
        };
        let model = field(c_model).to_string();
        if model.is_empty() {
            return Err(error(
                file,
                Some(line),
                Some("model"),
                "expected a model id, found an empty field".into(),
            ));
        }
        rows.push(ProfileRow {
            model,
            params_gb: positive(c_params, "params_gb", "the weights in GB")?,
            batch: whole(c_batch, "batch", "the batch size")?,
            tokens: whole(c_tokens, kind.column(), "a token count")?,
            ms: positive(c_ms, "ms", "the step time in milliseconds")?,
            line,
        });
    }
    if rows.is_empty() {
        return Err(error(
            file,
            None,
            None,
            "expected at least one row of timings, found none".into(),
        ));
    }
    Ok((kind, rows))
}

/// Linear interpolation through points sorted by x: clamped below the first point (step times
/// have a floor), extrapolated along the last segment above the last one (never below it).
fn interpolate(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    let n = xs.len();
    if n == 1 || x <= xs[0] {
        return ys[0];
    }
    let i = match xs.iter().position(|&v| v >= x) {
        Some(i) => i,
        None => n - 1,
    };
    let (x0, x1, y0, y1) = (xs[i - 1], xs[i], ys[i - 1], ys[i]);
    let y = y0 + (y1 - y0) * (x - x0) / (x1 - x0);
    if x > xs[n - 1] {
        y.max(ys[n - 1])
    } else {
        y
    }
}

/// A measured table of step times over (batch, tokens), interpolated: linearly in batch within
/// each measured token count, then linearly in tokens between them. Missing grid cells are
/// fine; repeated cells are averaged.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileTable {
    /// Decode or prefill.
    pub kind: ProfileKind,
    /// Distinct token counts, ascending.
    tokens: Vec<f64>,
    /// `lines[i]..lines[i + 1]` index the batch points of `tokens[i]`.
    lines: Vec<usize>,
    /// Batch sizes, ascending within each token count.
    batches: Vec<f64>,
    /// Milliseconds at each batch point.
    ms: Vec<f64>,
}

/// Token counts a table may hold (lookups interpolate on the stack).
const MAX_TOKEN_LINES: usize = 64;

impl ProfileTable {
    /// A table from rows of one kind (all for one model). Errors name the first row of a table
    /// with more than 64 distinct token counts.
    pub fn from_rows(
        kind: ProfileKind,
        rows: &[ProfileRow],
        file: &str,
    ) -> Result<ProfileTable, ProfileError> {
        let mut sorted: Vec<(u64, u64, f64)> =
            rows.iter().map(|r| (r.tokens, r.batch, r.ms)).collect();
        sorted.sort_by_key(|a| (a.0, a.1));
        let mut t = ProfileTable {
            kind,
            tokens: Vec::new(),
            lines: Vec::new(),
            batches: Vec::new(),
            ms: Vec::new(),
        };
        let mut i = 0;
        while i < sorted.len() {
            let (tok, batch, _) = sorted[i];
            let mut j = i;
            let mut sum = 0.0;
            while j < sorted.len() && sorted[j].0 == tok && sorted[j].1 == batch {
                sum += sorted[j].2;
                j += 1;
            }
            if t.tokens.last() != Some(&(tok as f64)) {
                t.tokens.push(tok as f64);
                t.lines.push(t.batches.len());
            }
            t.batches.push(batch as f64);
            t.ms.push(sum / (j - i) as f64);
            i = j;
        }
        t.lines.push(t.batches.len());
        if t.tokens.len() > MAX_TOKEN_LINES {
            return Err(error(
                file,
                rows.first().map(|r| r.line),
                Some(kind.column()),
                format!(
                    "expected at most {MAX_TOKEN_LINES} distinct token counts, found {}",
                    t.tokens.len()
                ),
            ));
        }
        Ok(t)
    }

    /// Milliseconds for `batch` sequences of `tokens` tokens each.
    pub fn ms(&self, batch: f64, tokens: f64) -> f64 {
        let mut at = [0.0; MAX_TOKEN_LINES];
        let n = self.tokens.len();
        for (i, slot) in at.iter_mut().enumerate().take(n) {
            let r = self.lines[i]..self.lines[i + 1];
            *slot = interpolate(&self.batches[r.clone()], &self.ms[r], batch);
        }
        interpolate(&self.tokens, &at[..n], tokens)
    }
}

/// A step-time model that uses measured tables where it has them and the roofline elsewhere.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfiledCost {
    /// For the phases no table covers.
    pub roofline: Roofline,
    /// Decode timings, if measured.
    pub decode: Option<ProfileTable>,
    /// Prefill timings, if measured.
    pub prefill: Option<ProfileTable>,
}

impl ProfiledCost {
    /// Seconds one step of `batch` takes. Decode sequences are looked up at their mean context;
    /// prefill chunks at their mean length. A step with both phases pays both, less the smaller
    /// of the two and the decode table's smallest entry (the weights are read once per step).
    pub fn step_time(&self, batch: &StepBatch) -> f64 {
        let decode = if batch.decode_seqs == 0 {
            0.0
        } else {
            let d = batch.decode_seqs as f64;
            match &self.decode {
                Some(t) => t.ms(d, batch.decode_context_tokens as f64 / d) * 1e-3,
                None => self.roofline.step_time(&StepBatch {
                    decode_seqs: batch.decode_seqs,
                    decode_context_tokens: batch.decode_context_tokens,
                    logits_rows: batch.decode_seqs,
                    ..StepBatch::default()
                }),
            }
        };
        let prefill = if batch.prefill_seqs == 0 || batch.prefill_tokens == 0 {
            0.0
        } else {
            let p = batch.prefill_seqs as f64;
            match &self.prefill {
                Some(t) => t.ms(p, batch.prefill_tokens as f64 / p) * 1e-3,
                None => self.roofline.step_time(&StepBatch {
                    decode_seqs: 0,
                    decode_context_tokens: 0,
                    logits_rows: batch.logits_rows.saturating_sub(batch.decode_seqs),
                    ..*batch
                }),
            }
        };
        if decode > 0.0 && prefill > 0.0 {
            let base = match &self.decode {
                Some(t) => t.ms(1.0, 1.0) * 1e-3,
                None => self.roofline.step_time(&StepBatch::decode(1, 1)),
            };
            decode + prefill - base.min(decode).min(prefill)
        } else {
            decode + prefill
        }
    }
}

/// One measured table for `model` from a calibration-format CSV (`text`, named `file`), which
/// must be of `kind`; rows of other models are left out (an error when none is left).
pub fn table_for_model(
    text: &str,
    file: &str,
    kind: ProfileKind,
    model: &str,
) -> Result<ProfileTable, ProfileError> {
    let (found, rows) = read_profile_csv(text, file)?;
    if found != kind {
        let want = match kind {
            ProfileKind::Decode => "a decode table (`model,params_gb,batch,context,ms`)",
            ProfileKind::Prefill => "a prefill table (`model,params_gb,batch,prompt,ms`)",
        };
        return Err(error(
            file,
            Some(1),
            None,
            format!("expected {want}, found a {} table", found.column()),
        ));
    }
    let rows: Vec<ProfileRow> = rows.into_iter().filter(|r| r.model == model).collect();
    if rows.is_empty() {
        let (_, all) = read_profile_csv(text, file)?;
        let mut models: Vec<&str> = all.iter().map(|r| r.model.as_str()).collect();
        models.sort_unstable();
        models.dedup();
        return Err(error(
            file,
            None,
            Some("model"),
            format!(
                "no rows for the service's model `{model}`: the file has {}",
                if models.is_empty() {
                    "no rows".to_string()
                } else {
                    models.join(", ")
                }
            ),
        ));
    }
    ProfileTable::from_rows(kind, &rows, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_taken_for_one_model_and_kind() {
        let text = format!("{DECODE}other,1.0,1,128,9.0\n");
        let t = table_for_model(&text, "d.csv", ProfileKind::Decode, "m").unwrap();
        assert_eq!(t.ms(1.0, 128.0), 1.0);
        let e = table_for_model(&text, "d.csv", ProfileKind::Prefill, "m").unwrap_err();
        assert!(e.message.contains("expected a prefill table"), "{e}");
        let e = table_for_model(&text, "d.csv", ProfileKind::Decode, "x").unwrap_err();
        assert!(e.message.contains("the file has m, other"), "{e}");
    }

    const DECODE: &str = "model,params_gb,batch,context,ms\n\
        m,3.0,1,128,1.0\nm,3.0,4,128,2.0\nm,3.0,1,512,1.5\nm,3.0,4,512,3.0\n";

    #[test]
    fn reads_and_interpolates_bilinearly() {
        let (kind, rows) = read_profile_csv(DECODE, "d.csv").unwrap();
        assert_eq!(kind, ProfileKind::Decode);
        let t = ProfileTable::from_rows(kind, &rows, "d.csv").unwrap();
        assert_eq!(t.ms(1.0, 128.0), 1.0);
        assert_eq!(t.ms(4.0, 512.0), 3.0);
        assert!((t.ms(2.5, 128.0) - 1.5).abs() < 1e-12);
        assert!((t.ms(2.5, 320.0) - 1.875).abs() < 1e-12);
        // Clamped below, extrapolated above.
        assert_eq!(t.ms(0.5, 64.0), 1.0);
        assert!((t.ms(7.0, 128.0) - 3.0).abs() < 1e-12);
        assert!((t.ms(1.0, 896.0) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn errors_name_row_and_column() {
        let bad = "model,params_gb,batch,context,ms\nm,3.0,1,128,1.0\nm,3.0,x,128,1.0\n";
        let e = read_profile_csv(bad, "d.csv").unwrap_err();
        assert_eq!((e.row, e.column.as_deref()), (Some(3), Some("batch")));
        assert!(e.to_string().starts_with("d.csv:3: column `batch`"), "{e}");
        let crlf = bad.replace('\n', "\r\n");
        assert_eq!(read_profile_csv(&crlf, "d.csv").unwrap_err().row, Some(3));
        let e = read_profile_csv("a,b\n1,2\n", "x.csv").unwrap_err();
        assert_eq!(e.row, Some(1));
        let e = read_profile_csv("model,params_gb,batch,prompt,ms\nm,3,1,64,-1\n", "p.csv")
            .unwrap_err();
        assert_eq!(e.column.as_deref(), Some("ms"));
    }
}

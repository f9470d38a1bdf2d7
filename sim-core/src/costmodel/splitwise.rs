//! SplitwiseSim's measured performance model (`perf_model.csv` of Mutinifni/splitwise-sim):
//! prompt time as a function of the prompt tokens in a batch and token (decode iteration) time
//! as a function of the batch size, each interpolated linearly between the medians of the
//! measured rows ([`SplitwiseLookup::Capsim`], the default), or keyed and looked up exactly as
//! SplitwiseSim's `DatabasePerformanceModel.get_iteration_duration` does
//! ([`SplitwiseLookup::Splitwise`]).

use super::batch::StepBatch;
use super::profile::{error, line_at, ProfileError};

/// How a step is looked up in SplitwiseSim's curves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SplitwiseLookup {
    /// capsim's reading: token time over the batch size, a step's prefill tokens alone on the
    /// prompt curve.
    #[default]
    Capsim,
    /// SplitwiseSim's own (`performance_model.py`, `get_iteration_duration`): both curves keyed
    /// by prompt_size × batch_size and looked up at the step's tokens (prefill tokens plus one
    /// per decode), so a decode-only step is read at its number of decodes.
    Splitwise,
}

/// SplitwiseSim's prompt and token curves for one (model, hardware, tensor-parallel degree).
#[derive(Clone, Debug, PartialEq)]
pub struct SplitwiseProfile {
    /// Prompt tokens in a batch (prompt_size × batch_size), ascending.
    prompt_tokens: Vec<f64>,
    /// Median prompt-phase milliseconds at each.
    prompt_ms: Vec<f64>,
    /// Batch sizes, ascending.
    token_batch: Vec<f64>,
    /// Median token-phase (one decode iteration) milliseconds at each.
    token_ms: Vec<f64>,
    /// Prompt tokens in a batch, ascending (the token curve's key under SplitwiseSim's lookup).
    token_tokens: Vec<f64>,
    /// Median token-phase milliseconds at each of `token_tokens`.
    token_tokens_ms: Vec<f64>,
    /// Which lookup [`step_time`](Self::step_time) uses.
    lookup: SplitwiseLookup,
}

/// Columns the file must have.
const COLUMNS: [&str; 7] = [
    "model",
    "hardware",
    "prompt_size",
    "batch_size",
    "prompt_time",
    "token_time",
    "tensor_parallel",
];

/// The median of `v` (not empty).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Medians of `ys` grouped by equal `x`, sorted by `x`.
fn curve(mut points: Vec<(f64, f64)>) -> (Vec<f64>, Vec<f64>) {
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < points.len() {
        let mut group: Vec<f64> = points[i..]
            .iter()
            .take_while(|p| p.0 == points[i].0)
            .map(|p| p.1)
            .collect();
        let n = group.len();
        xs.push(points[i].0);
        ys.push(median(&mut group));
        i += n;
    }
    (xs, ys)
}

/// Linear interpolation, extrapolated along the end segments (as scipy's `interp1d` with
/// `fill_value="extrapolate"`), never below zero.
fn interp(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    if xs.len() == 1 {
        return ys[0];
    }
    let i = xs
        .iter()
        .position(|&v| v >= x)
        .unwrap_or(xs.len() - 1)
        .max(1);
    let (x0, x1, y0, y1) = (xs[i - 1], xs[i], ys[i - 1], ys[i]);
    (y0 + (y1 - y0) * (x - x0) / (x1 - x0)).max(0.0)
}

impl SplitwiseProfile {
    /// The curves for `model` on `hardware` with `tensor_parallel` GPUs, from the text of a
    /// `perf_model.csv` (named `file` in errors).
    pub fn parse(
        text: &str,
        file: &str,
        model: &str,
        hardware: &str,
        tensor_parallel: u32,
    ) -> Result<SplitwiseProfile, ProfileError> {
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
        let mut idx = [0usize; 7];
        for (slot, name) in idx.iter_mut().zip(COLUMNS) {
            *slot = headers.iter().position(|h| h == name).ok_or_else(|| {
                error(
                    file,
                    Some(1),
                    Some(name),
                    format!("missing column: expected SplitwiseSim's perf_model.csv header with `{name}`"),
                )
            })?;
        }
        let (mut prompt, mut token, mut token_by_tokens) = (Vec::new(), Vec::new(), Vec::new());
        for record in rdr.records() {
            let record = record.map_err(|e| {
                error(
                    file,
                    e.position().map(|p| line_at(text, p.byte())),
                    None,
                    format!("malformed CSV row: {e}"),
                )
            })?;
            // Found only for an error: counting lines for every row is quadratic in the file.
            let line = || record.position().map_or(0, |p| line_at(text, p.byte()));
            let get = |c: usize| record.get(idx[c]).unwrap_or("");
            let num = |c: usize| -> Result<f64, ProfileError> {
                match get(c).parse::<f64>() {
                    Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
                    _ => Err(error(
                        file,
                        Some(line()),
                        Some(COLUMNS[c]),
                        format!("expected a number that is not negative, found `{}`", get(c)),
                    )),
                }
            };
            let tp = num(6)?;
            if get(0) != model || get(1) != hardware || tp != f64::from(tensor_parallel) {
                continue;
            }
            let (p, b) = (num(2)?, num(3)?);
            prompt.push((p * b, num(4)?));
            token.push((b, num(5)?));
            token_by_tokens.push((p * b, num(5)?));
        }
        if prompt.is_empty() {
            return Err(error(
                file,
                None,
                Some("model"),
                format!("no rows for model `{model}`, hardware `{hardware}`, tensor_parallel {tensor_parallel}"),
            ));
        }
        let (prompt_tokens, prompt_ms) = curve(prompt);
        let (token_batch, token_ms) = curve(token);
        let (token_tokens, token_tokens_ms) = curve(token_by_tokens);
        Ok(SplitwiseProfile {
            prompt_tokens,
            prompt_ms,
            token_batch,
            token_ms,
            token_tokens,
            token_tokens_ms,
            lookup: SplitwiseLookup::Capsim,
        })
    }

    /// The same curves looked up by `lookup`.
    pub fn with_lookup(mut self, lookup: SplitwiseLookup) -> Self {
        self.lookup = lookup;
        self
    }

    /// Seconds for a step: the prompt curve at the step's prefill tokens, or the token curve at
    /// its decode batch size; a step with both costs the prompt time × 1.1 (SplitwiseSim's rule
    /// for mixed batches).
    /// Under [`SplitwiseLookup::Splitwise`], SplitwiseSim's rules instead: the step's tokens
    /// are its prefill tokens plus one per decode; a step with prefills reads the prompt curve
    /// there (× 1.1 with decodes too), a decode-only step the token curve keyed by
    /// prompt_size × batch_size.
    pub fn step_time(&self, batch: &StepBatch) -> f64 {
        if self.lookup == SplitwiseLookup::Splitwise {
            let tokens = (batch.prefill_tokens + batch.decode_seqs) as f64;
            let ms = if batch.prefill_tokens > 0 {
                let p = interp(&self.prompt_tokens, &self.prompt_ms, tokens);
                if batch.decode_seqs > 0 {
                    p * 1.1
                } else {
                    p
                }
            } else if batch.decode_seqs > 0 {
                interp(&self.token_tokens, &self.token_tokens_ms, tokens)
            } else {
                0.0
            };
            return ms * 1e-3;
        }
        let ms = if batch.prefill_tokens > 0 {
            let p = interp(
                &self.prompt_tokens,
                &self.prompt_ms,
                batch.prefill_tokens as f64,
            );
            if batch.decode_seqs > 0 {
                p * 1.1
            } else {
                p
            }
        } else if batch.decode_seqs > 0 {
            interp(&self.token_batch, &self.token_ms, batch.decode_seqs as f64)
        } else {
            0.0
        };
        ms * 1e-3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "model,hardware,prompt_size,batch_size,token_size,peak_power,average_power,prompt_time,token_time,e2e_time,tensor_parallel\n\
        llama2-70b,h100-80gb,512,1,128,1,1,100,20,0,4\n\
        llama2-70b,h100-80gb,512,1,128,1,1,110,22,0,4\n\
        llama2-70b,h100-80gb,512,1,128,1,1,90,21,0,4\n\
        llama2-70b,h100-80gb,512,2,128,1,1,200,30,0,4\n\
        llama2-70b,a100-80gb,512,2,128,1,1,999,99,0,4\n";

    #[test]
    fn medians_and_interpolation() {
        let p = SplitwiseProfile::parse(CSV, "perf.csv", "llama2-70b", "h100-80gb", 4).unwrap();
        assert!((p.step_time(&StepBatch::prefill(1, 512)) - 0.100).abs() < 1e-12);
        assert!((p.step_time(&StepBatch::prefill(1, 768)) - 0.150).abs() < 1e-12);
        assert!((p.step_time(&StepBatch::decode(1, 600)) - 0.021).abs() < 1e-12);
        assert!((p.step_time(&StepBatch::decode(3, 600)) - 0.039).abs() < 1e-12);
        let mut mixed = StepBatch::prefill(1, 512);
        mixed.add_decode(100);
        assert!((p.step_time(&mixed) - 0.110).abs() < 1e-12);
    }

    /// SplitwiseSim's lookup, by hand from `CSV`: prompt curve (512, 100 ms median of 100 /
    /// 110 / 90), (1024, 200 ms); token curve keyed by tokens (512, 21 ms), (1024, 30 ms).
    #[test]
    fn splitwise_lookup_keys_by_tokens() {
        let p = SplitwiseProfile::parse(CSV, "perf.csv", "llama2-70b", "h100-80gb", 4)
            .unwrap()
            .with_lookup(SplitwiseLookup::Splitwise);
        // Prefill only: 768 tokens, halfway: 150 ms.
        assert!((p.step_time(&StepBatch::prefill(1, 768)) - 0.150).abs() < 1e-12);
        // Decode only, 768 sequences: looked up at 768 tokens on the token curve, 25.5 ms.
        assert!((p.step_time(&StepBatch::decode(768, 600)) - 0.0255).abs() < 1e-12);
        // Decode only, 3 sequences: extrapolated from (512, 21) down to 3 tokens:
        // 21 − 9 × 509 / 512 = 12.052734375 ms (capsim's lookup gives 39 ms at batch 3).
        let want = (21.0 - 9.0 * 509.0 / 512.0) * 1e-3;
        assert!((p.step_time(&StepBatch::decode(3, 600)) - want).abs() < 1e-12);
        // Mixed: 512 prefill tokens + 256 decodes = 768 tokens: 150 ms × 1.1.
        let mut mixed = StepBatch::prefill(1, 512);
        mixed.add_decodes(256, 25_600);
        assert!((p.step_time(&mixed) - 0.165).abs() < 1e-12);
        // The default lookup is unchanged: the mixed step costs the prompt time of 512 × 1.1.
        let c = SplitwiseProfile::parse(CSV, "perf.csv", "llama2-70b", "h100-80gb", 4).unwrap();
        assert!((c.step_time(&mixed) - 0.110).abs() < 1e-12);
    }

    #[test]
    fn errors_name_row_and_column() {
        let bad = CSV.replace("512,2,128,1,1,200", "512,2,128,1,1,oops");
        let e =
            SplitwiseProfile::parse(&bad, "perf.csv", "llama2-70b", "h100-80gb", 4).unwrap_err();
        assert_eq!((e.row, e.column.as_deref()), (Some(5), Some("prompt_time")));
        let e = SplitwiseProfile::parse(CSV, "perf.csv", "bloom", "h100-80gb", 4).unwrap_err();
        assert!(e.message.contains("no rows"));
    }
}

//! LLM architectures: the config.json fields the cost model needs, read from `[[model]]` entries.
//!
//! The built-in list is `sim-core/catalog/models.toml`, compiled in. [`RawModel`] is the entry as
//! written, public so that a scenario table of the same shape can deserialize into it and be
//! checked with [`LlmModel::from_raw`].

use super::Checker;
use crate::scenario::limits::{MODEL_DIMENSION, MODEL_PARAMS};
use crate::scenario::model::parse_raw;
use crate::scenario::ScenarioError;
use serde::Deserialize;
use std::sync::OnceLock;

/// The built-in model catalog's text.
pub const BUILTIN_MODELS: &str = include_str!("../../catalog/models.toml");
/// The name errors in the built-in model catalog give as its file.
const BUILTIN_MODELS_FILE: &str = "sim-core/catalog/models.toml";

/// A decoder-only transformer, as its config.json describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmModel {
    /// Short name, such as `llama-3.1-8b`.
    pub id: String,
    /// Full model name.
    pub name: String,
    /// Width of the residual stream (`hidden_size`).
    pub hidden_size: u64,
    /// Decoder layers (`num_hidden_layers`).
    pub layers: u64,
    /// Query heads (`num_attention_heads`).
    pub attention_heads: u64,
    /// Key/value heads (`num_key_value_heads`).
    pub kv_heads: u64,
    /// Width of one head.
    pub head_dim: u64,
    /// Intermediate size of one gated MLP (of one expert for mixture-of-experts models).
    pub ffn_size: u64,
    /// Vocabulary size.
    pub vocab_size: u64,
    /// Whether the LM head shares the input embedding matrix.
    pub tied_embeddings: bool,
    /// Bytes per stored weight (2 for bf16).
    pub bytes_per_weight: f64,
    /// Bytes per cached key or value element (2 for bf16).
    pub bytes_per_kv: f64,
    /// MLP experts per layer (1 for a dense model).
    pub experts: u64,
    /// Experts each token is routed to (1 for a dense model).
    pub experts_per_token: u64,
    /// Where the figures come from.
    pub source: String,
}

/// One `[[model]]` entry as written; every field optional so that errors can name what is missing.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// See [`LlmModel::id`].
    pub id: Option<String>,
    /// See [`LlmModel::name`].
    pub name: Option<String>,
    /// See [`LlmModel::hidden_size`].
    pub hidden_size: Option<u64>,
    /// See [`LlmModel::layers`].
    pub layers: Option<u64>,
    /// See [`LlmModel::attention_heads`].
    pub attention_heads: Option<u64>,
    /// See [`LlmModel::kv_heads`].
    pub kv_heads: Option<u64>,
    /// See [`LlmModel::head_dim`]; defaults to `hidden_size / attention_heads`.
    pub head_dim: Option<u64>,
    /// See [`LlmModel::ffn_size`].
    pub ffn_size: Option<u64>,
    /// See [`LlmModel::vocab_size`].
    pub vocab_size: Option<u64>,
    /// See [`LlmModel::tied_embeddings`].
    pub tied_embeddings: Option<bool>,
    /// See [`LlmModel::bytes_per_weight`]; default 2.
    pub bytes_per_weight: Option<f64>,
    /// See [`LlmModel::bytes_per_kv`]; default 2.
    pub bytes_per_kv: Option<f64>,
    /// See [`LlmModel::experts`]; default 1.
    pub experts: Option<u64>,
    /// See [`LlmModel::experts_per_token`]; default 1.
    pub experts_per_token: Option<u64>,
    /// See [`LlmModel::source`]; optional in a scenario, required in a catalog file.
    pub source: Option<String>,
}

/// A model catalog file: `[[model]]` entries and nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModelFile {
    model: Option<Vec<RawModel>>,
}

impl LlmModel {
    /// Checks a raw entry. `prefix` is its key path (such as `model[2]`) and `file`/`src` the text
    /// it came from, for errors; `need_source` makes `source` required.
    pub fn from_raw(
        raw: RawModel,
        prefix: &str,
        file: &str,
        src: &str,
        need_source: bool,
    ) -> Result<LlmModel, ScenarioError> {
        let c = Checker { file, src };
        let k = |field: &str| format!("{prefix}.{field}");
        let id = c.text(&k("id"), raw.id, "`id`, the model's short name")?;
        let name = match raw.name {
            Some(n) => c.text(&k("name"), Some(n), "the full model name")?,
            None => id.clone(),
        };
        let count = |field: &str, v: Option<u64>, what: &str| -> Result<u64, ScenarioError> {
            let n = c.required(&k(field), v, what)?;
            if n == 0 {
                return Err(c.err(&k(field), format!("expected {what} above zero, found 0")));
            }
            MODEL_DIMENSION
                .check(n)
                .map_err(|m| c.err(&k(field), format!("{what}: {m}")))?;
            Ok(n)
        };
        let hidden_size = count("hidden_size", raw.hidden_size, "the hidden size")?;
        let layers = count("layers", raw.layers, "the number of layers")?;
        let attention_heads = count(
            "attention_heads",
            raw.attention_heads,
            "the number of attention heads",
        )?;
        let kv_heads = count("kv_heads", raw.kv_heads, "the number of key/value heads")?;
        if kv_heads > attention_heads || attention_heads % kv_heads != 0 {
            return Err(c.err(
                &k("kv_heads"),
                format!(
                    "expected a divisor of attention_heads ({attention_heads}), found {kv_heads}"
                ),
            ));
        }
        let head_dim = match raw.head_dim {
            Some(_) => count("head_dim", raw.head_dim, "the head width")?,
            None => {
                if hidden_size % attention_heads != 0 {
                    return Err(c.err(
                        &k("head_dim"),
                        "missing: hidden_size is not a multiple of attention_heads, so give head_dim",
                    ));
                }
                hidden_size / attention_heads
            }
        };
        let ffn_size = count("ffn_size", raw.ffn_size, "the FFN (intermediate) size")?;
        let vocab_size = count("vocab_size", raw.vocab_size, "the vocabulary size")?;
        let tied_embeddings = c.required(
            &k("tied_embeddings"),
            raw.tied_embeddings,
            "`tied_embeddings = true` or `false`",
        )?;
        let bytes = |field: &str, v: Option<f64>| -> Result<f64, ScenarioError> {
            match v {
                None => Ok(2.0),
                Some(b) if b.is_finite() && b > 0.0 && b <= 8.0 => Ok(b),
                Some(b) => Err(c.err(
                    &k(field),
                    format!("expected bytes per element above 0 and at most 8, found {b}"),
                )),
            }
        };
        let bytes_per_weight = bytes("bytes_per_weight", raw.bytes_per_weight)?;
        let bytes_per_kv = bytes("bytes_per_kv", raw.bytes_per_kv)?;
        let experts = match raw.experts {
            None => 1,
            v => count("experts", v, "the number of experts")?,
        };
        let experts_per_token = match raw.experts_per_token {
            None => 1,
            v => count("experts_per_token", v, "the experts per token")?,
        };
        if experts_per_token > experts {
            return Err(c.err(
                &k("experts_per_token"),
                format!("expected at most `experts` ({experts}), found {experts_per_token}"),
            ));
        }
        // Bounded in floating point first, so that the exact u64 arithmetic of `params()` (and
        // the byte and FLOP counts built on it) cannot overflow.
        let (h, f) = (hidden_size as f64, ffn_size as f64);
        let (q, kv) = (
            (attention_heads * head_dim) as f64,
            (kv_heads * head_dim) as f64,
        );
        let approx_params = layers as f64
            * (h * (q + 2.0 * kv) + q * h + 3.0 * experts as f64 * h * f)
            + 2.0 * vocab_size as f64 * h;
        if approx_params > MODEL_PARAMS.max as f64 {
            return Err(c.err(
                &k("layers"),
                format!(
                    "the model would have about {approx_params:.3e} parameters: {}",
                    MODEL_PARAMS.message(approx_params as u64)
                ),
            ));
        }
        let source = match raw.source {
            Some(s) => c.text(&k("source"), Some(s), "where the figures come from")?,
            None if need_source => {
                return Err(c.err(
                    &k("source"),
                    "missing: expected where the figures come from",
                ))
            }
            None => String::new(),
        };
        Ok(LlmModel {
            id,
            name,
            hidden_size,
            layers,
            attention_heads,
            kv_heads,
            head_dim,
            ffn_size,
            vocab_size,
            tied_embeddings,
            bytes_per_weight,
            bytes_per_kv,
            experts,
            experts_per_token,
            source,
        })
    }

    /// Width of all query heads together.
    pub fn q_dim(&self) -> u64 {
        self.attention_heads * self.head_dim
    }

    /// Width of all key (or value) heads together.
    pub fn kv_dim(&self) -> u64 {
        self.kv_heads * self.head_dim
    }

    /// Attention parameters of one layer: fused QKV and output projections.
    pub fn attention_params_per_layer(&self) -> u64 {
        let h = self.hidden_size;
        h * (self.q_dim() + 2 * self.kv_dim()) + self.q_dim() * h
    }

    /// Parameters of one expert's gated MLP (gate, up and down projections).
    pub fn expert_params(&self) -> u64 {
        3 * self.hidden_size * self.ffn_size
    }

    /// Parameters of one layer: attention, every expert, the router and two norms.
    pub fn params_per_layer(&self) -> u64 {
        let router = if self.experts > 1 {
            self.hidden_size * self.experts
        } else {
            0
        };
        self.attention_params_per_layer()
            + self.experts * self.expert_params()
            + router
            + 2 * self.hidden_size
    }

    /// Parameters of the embedding matrix (and of the LM head, which has the same shape).
    pub fn embedding_params(&self) -> u64 {
        self.vocab_size * self.hidden_size
    }

    /// Total parameters: embeddings, every layer, the final norm and an untied LM head.
    pub fn params(&self) -> u64 {
        let head = if self.tied_embeddings {
            0
        } else {
            self.embedding_params()
        };
        self.embedding_params() + self.layers * self.params_per_layer() + self.hidden_size + head
    }

    /// Bytes of all weights as stored.
    pub fn weight_bytes(&self) -> f64 {
        self.params() as f64 * self.bytes_per_weight
    }

    /// Bytes of KV cache one token occupies across all layers (keys and values).
    pub fn kv_bytes_per_token(&self) -> f64 {
        2.0 * (self.layers * self.kv_dim()) as f64 * self.bytes_per_kv
    }
}

/// The precision weights are stored in, as a serving engine loads them (`weight_dtype`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WeightDtype {
    /// bfloat16: 2 bytes.
    Bf16,
    /// float16: 2 bytes.
    Fp16,
    /// FP8 (E4M3), as vLLM's `--quantization fp8`: 1 byte, FP8 tensor cores where the GPU has them.
    Fp8,
    /// INT8 (W8A8): 1 byte; modelled at the GPU's FP8 tensor-core rate where it has one (Hopper
    /// and Ada run INT8 and FP8 at the same dense rate), else at its BF16 rate.
    Int8,
    /// 4-bit weights (AWQ, GPTQ): half a byte, dequantised to BF16 for the matrix multiplies.
    Int4,
}

impl WeightDtype {
    /// Bytes per stored weight.
    pub fn bytes(self) -> f64 {
        match self {
            WeightDtype::Bf16 | WeightDtype::Fp16 => 2.0,
            WeightDtype::Fp8 | WeightDtype::Int8 => 1.0,
            WeightDtype::Int4 => 0.5,
        }
    }
}

/// The precision of the KV cache, named as vLLM's `--kv-cache-dtype` (`kv_cache_dtype`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KvCacheDtype {
    /// The model's own (its `bytes_per_kv`, 2 for the built-in models).
    Auto,
    /// bfloat16: 2 bytes.
    Bf16,
    /// float16: 2 bytes.
    Fp16,
    /// FP8 (vLLM's `fp8`, an alias of `fp8_e4m3`): 1 byte.
    Fp8,
    /// FP8 E4M3: 1 byte.
    Fp8E4m3,
    /// FP8 E5M2: 1 byte.
    Fp8E5m2,
}

impl KvCacheDtype {
    /// Bytes per cached element, or `None` for the model's own.
    pub fn bytes(self) -> Option<f64> {
        match self {
            KvCacheDtype::Auto => None,
            KvCacheDtype::Bf16 | KvCacheDtype::Fp16 => Some(2.0),
            KvCacheDtype::Fp8 | KvCacheDtype::Fp8E4m3 | KvCacheDtype::Fp8E5m2 => Some(1.0),
        }
    }
}

impl LlmModel {
    /// This model served with weights in `weights` and the KV cache in `kv` (`None` keeps the
    /// model's own bytes). The roofline, the KV-cache sizing and the memory fit follow the bytes.
    pub fn with_precision(
        &self,
        weights: Option<WeightDtype>,
        kv: Option<KvCacheDtype>,
    ) -> LlmModel {
        let mut m = self.clone();
        if let Some(w) = weights {
            m.bytes_per_weight = w.bytes();
        }
        if let Some(b) = kv.and_then(KvCacheDtype::bytes) {
            m.bytes_per_kv = b;
        }
        m
    }
}

/// Parses and checks a model catalog file, sorted by id.
pub fn parse_models(src: &str, file: &str) -> Result<Vec<LlmModel>, ScenarioError> {
    let raw: RawModelFile = parse_raw(src, file)?;
    let mut out = check_entries(raw.model.unwrap_or_default(), file, src, true)?;
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Checks `[[model]]` entries (of a catalog file or a scenario, `file`/`src` in errors at
/// `model[i]`), in their order: each id once, each entry as [`LlmModel::from_raw`] checks it.
pub(super) fn check_entries(
    entries: Vec<RawModel>,
    file: &str,
    src: &str,
    need_source: bool,
) -> Result<Vec<LlmModel>, ScenarioError> {
    let c = Checker { file, src };
    let mut out: Vec<LlmModel> = Vec::with_capacity(entries.len());
    for (i, m) in entries.into_iter().enumerate() {
        let prefix = format!("model[{i}]");
        let id = c.id(
            &format!("{prefix}.id"),
            m.id.clone(),
            out.iter().map(|o| o.id.as_str()),
            "model",
        )?;
        let mut model = LlmModel::from_raw(m, &prefix, file, src, need_source)?;
        model.id = id;
        out.push(model);
    }
    Ok(out)
}

/// `base` with the `[[model]]` entries of `src` (a user's file, named `file` in errors) applied:
/// an entry replaces the model with the same id, a new id adds one. Sorted by id.
pub fn with_models(
    base: &[LlmModel],
    src: &str,
    file: &str,
) -> Result<Vec<LlmModel>, ScenarioError> {
    Ok(super::merged(base, parse_models(src, file)?, |m| &m.id))
}

/// The built-in models, sorted by id. Panics only if the shipped file is invalid, which a unit
/// test rules out.
pub fn builtin_models() -> &'static [LlmModel] {
    static BUILTIN: OnceLock<Vec<LlmModel>> = OnceLock::new();
    BUILTIN.get_or_init(|| {
        parse_models(BUILTIN_MODELS, BUILTIN_MODELS_FILE)
            .unwrap_or_else(|e| panic!("the built-in model catalog is invalid: {e}"))
    })
}

/// The built-in model with this id.
pub fn builtin_model(id: &str) -> Option<&'static LlmModel> {
    builtin_models().iter().find(|m| m.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses_with_the_required_models() {
        for id in [
            "llama-3.2-1b",
            "llama-3.1-8b",
            "llama-3.1-70b",
            "mistral-7b",
            "qwen2.5-32b",
            "mixtral-8x7b",
        ] {
            assert!(builtin_model(id).is_some(), "{id} missing");
        }
    }

    #[test]
    fn parameter_counts_match_published_sizes() {
        let billions = |id: &str| builtin_model(id).unwrap().params() as f64 / 1e9;
        // Published sizes: 1.24B, 8.03B, 70.6B, 7.25B, 32.5B (with biases), 46.7B.
        assert!((billions("llama-3.2-1b") - 1.236).abs() < 0.01);
        assert!((billions("llama-3.1-8b") - 8.030).abs() < 0.01);
        assert!((billions("llama-3.1-70b") - 70.55).abs() < 0.1);
        assert!((billions("mistral-7b") - 7.248).abs() < 0.01);
        assert!((billions("qwen2.5-32b") - 32.76).abs() < 0.3);
        assert!((billions("mixtral-8x7b") - 46.70).abs() < 0.05);
    }

    #[test]
    fn kv_bytes_per_token() {
        // 2 (K and V) x 32 layers x 8 heads x 128 x 2 bytes = 128 KiB.
        let m = builtin_model("llama-3.1-8b").unwrap();
        assert_eq!(m.kv_bytes_per_token(), 131072.0);
        assert_eq!(m.weight_bytes(), m.params() as f64 * 2.0);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let src = "[[model]]\nid = \"x\"\nhidden_size = 64\nlayers = 0\n";
        let e = parse_models(src, "m.toml").unwrap_err();
        assert_eq!(e.key, "model[0].layers");
        assert_eq!(e.line, Some(4));
        let src = "[[model]]\nid = \"x\"\nhiden_size = 64\n";
        let e = parse_models(src, "m.toml").unwrap_err().to_string();
        assert!(e.contains("m.toml:3"), "{e}");
        let src = "[[model]]\nid = \"x\"\nhidden_size = 64\nlayers = 2\nattention_heads = 8\n\
                   kv_heads = 3\nffn_size = 128\nvocab_size = 10\ntied_embeddings = true\nsource = \"s\"\n";
        let e = parse_models(src, "m.toml").unwrap_err();
        assert_eq!(e.key, "model[0].kv_heads");
    }

    #[test]
    fn a_user_file_replaces_and_adds_models() {
        let src = "[[model]]\nid = \"llama-3.2-1b\"\nhidden_size = 64\nlayers = 2\n\
                   attention_heads = 4\nkv_heads = 4\nffn_size = 256\nvocab_size = 1000\n\
                   tied_embeddings = true\nsource = \"mine\"\n";
        let src = format!("{src}\n{}", src.replace("llama-3.2-1b", "tiny"));
        let all = with_models(builtin_models(), &src, "mine.toml").unwrap();
        assert_eq!(all.len(), builtin_models().len() + 1);
        let replaced = all.iter().find(|m| m.id == "llama-3.2-1b").unwrap();
        assert_eq!(replaced.hidden_size, 64);
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    }

    #[test]
    fn a_scenario_table_deserializes_into_raw_model() {
        let raw: RawModel = toml::from_str(
            "id = \"tiny\"\nhidden_size = 64\nlayers = 2\nattention_heads = 4\nkv_heads = 4\n\
             ffn_size = 256\nvocab_size = 1000\ntied_embeddings = true\n",
        )
        .unwrap();
        let m = LlmModel::from_raw(raw, "service.model", "s.toml", "", false).unwrap();
        assert_eq!(m.head_dim, 16);
        assert_eq!(m.experts, 1);
    }
}

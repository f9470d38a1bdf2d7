//! The inputs of a step-time model: what one iteration computes, and what share of which GPUs
//! it runs on.

use crate::engine::f64_of;

/// One engine iteration's work, as sums an engine can update in O(1) per request.
///
/// A prefill chunk of `c` new tokens for a sequence with `p` tokens already cached adds `c` to
/// [`prefill_tokens`](Self::prefill_tokens), `p` to [`prefill_cached_tokens`](Self::prefill_cached_tokens)
/// and `c·p + c·(c+1)/2` (causal query-key pairs) to
/// [`prefill_attention_pairs`](Self::prefill_attention_pairs). A decode sequence whose KV cache
/// holds `n` tokens (the new one included) adds 1 to [`decode_seqs`](Self::decode_seqs) and `n`
/// to [`decode_context_tokens`](Self::decode_context_tokens).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepBatch {
    /// Prefill chunks in the step.
    pub prefill_seqs: u64,
    /// New tokens of all prefill chunks.
    pub prefill_tokens: u64,
    /// Tokens already cached before the chunks (their KV is read by the chunks' attention).
    pub prefill_cached_tokens: u64,
    /// Causal query-key pairs of all prefill chunks.
    pub prefill_attention_pairs: f64,
    /// Decode sequences in the step (one new token each).
    pub decode_seqs: u64,
    /// KV-cache tokens the decode sequences attend to, summed.
    pub decode_context_tokens: u64,
    /// Sequences whose logits are computed this step (decodes plus prefills that finish).
    pub logits_rows: u64,
}

impl StepBatch {
    /// An empty step.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a prefill chunk of `chunk` new tokens after `cached` cached ones; `samples` when it
    /// is the prompt's last chunk, so its logits are computed.
    pub fn add_prefill_chunk(&mut self, chunk: u64, cached: u64, samples: bool) {
        let c = f64_of(chunk);
        self.prefill_seqs += 1;
        self.prefill_tokens += chunk;
        self.prefill_cached_tokens += cached;
        self.prefill_attention_pairs += c * f64_of(cached) + c * (c + 1.0) / 2.0;
        self.logits_rows += u64::from(samples);
    }

    /// Adds a decode sequence whose KV cache holds `context` tokens.
    pub fn add_decode(&mut self, context: u64) {
        self.decode_seqs += 1;
        self.decode_context_tokens += context;
        self.logits_rows += 1;
    }

    /// Adds `seqs` decode sequences whose KV caches hold `context` tokens together.
    #[inline]
    pub fn add_decodes(&mut self, seqs: u64, context: u64) {
        self.decode_seqs += seqs;
        self.decode_context_tokens += context;
        self.logits_rows += seqs;
    }

    /// `batch` decode sequences of `context` tokens each (the measured decode tables' rows).
    pub fn decode(batch: u64, context: u64) -> Self {
        StepBatch {
            decode_seqs: batch,
            decode_context_tokens: batch * context,
            logits_rows: batch,
            ..Self::default()
        }
    }

    /// Whole prefills of `batch` prompts of `prompt` tokens each (the measured prefill tables' rows).
    pub fn prefill(batch: u64, prompt: u64) -> Self {
        let p = prompt as f64;
        StepBatch {
            prefill_seqs: batch,
            prefill_tokens: batch * prompt,
            prefill_attention_pairs: batch as f64 * p * (p + 1.0) / 2.0,
            logits_rows: batch,
            ..Self::default()
        }
    }

    /// Tokens the step pushes through every weight matrix (GEMM rows).
    pub fn tokens(&self) -> u64 {
        self.prefill_tokens + self.decode_seqs
    }

    /// Whether the step does nothing.
    pub fn is_empty(&self) -> bool {
        self.tokens() == 0
    }
}

/// What a replica gets of its GPUs: tensor parallelism across whole devices, or a MIG slice or a
/// time share of one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    /// GPUs the model is split across (tensor parallelism); 1 for one GPU or slice.
    pub tensor_parallel: u32,
    /// Fraction of the GPU's SMs (compute) the replica has: a MIG slice's SMs / the GPU's SMs.
    pub compute_fraction: f64,
    /// Fraction of the GPU's memory bandwidth: a MIG slice's memory slices / 8.
    pub bandwidth_fraction: f64,
    /// Fraction of the GPU's time the replica gets when time-sliced with others (1 alone).
    pub time_fraction: f64,
}

impl Placement {
    /// One whole GPU.
    pub fn whole() -> Self {
        Placement {
            tensor_parallel: 1,
            compute_fraction: 1.0,
            bandwidth_fraction: 1.0,
            time_fraction: 1.0,
        }
    }

    /// `tp` whole GPUs with tensor parallelism.
    pub fn tensor_parallel(tp: u32) -> Self {
        Placement {
            tensor_parallel: tp.max(1),
            ..Self::whole()
        }
    }

    /// A MIG slice with `slice_sms` of the GPU's `gpu_sms` SMs and `memory_slices` of its 8
    /// memory slices.
    pub fn mig(slice_sms: u32, gpu_sms: u32, memory_slices: u32) -> Self {
        Placement {
            compute_fraction: f64::from(slice_sms) / f64::from(gpu_sms.max(1)),
            bandwidth_fraction: f64::from(memory_slices) / 8.0,
            ..Self::whole()
        }
    }

    /// One of the processes time-sharing a GPU, getting `fraction` of its time.
    pub fn time_share(fraction: f64) -> Self {
        Placement {
            time_fraction: fraction,
            ..Self::whole()
        }
    }
}

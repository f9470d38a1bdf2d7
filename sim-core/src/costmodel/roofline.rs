//! The roofline step-time model: each kernel of a decoder step takes a smooth maximum of its
//! FLOPs at the GPU's achievable throughput and its bytes at the achievable bandwidth (GEMMs with
//! tile and wave quantisation, `super::gemm`), plus fixed costs.
//!
//! The formulas, their assumptions and the calibration against measured H100 timings are on the
//! book's "Cost model" page.

use super::batch::{Placement, StepBatch};
use super::gemm::{smooth_max, GemmDevice, GemmShape, ACT_BYTES};
use crate::catalog::{GpuModel, LlmModel};
use std::sync::Arc;

/// Steps of up to this many tokens (GEMM rows) look their layer's GEMM time up in a table.
const LAYER_TABLE: usize = 8192;

/// A step-time model for one (GPU, model, placement), with everything that does not depend on
/// the batch worked out once.
#[derive(Clone, Debug, PartialEq)]
pub struct Roofline {
    /// The replica's share of one GPU as the GEMM model sees it.
    dev: GemmDevice,
    /// The four projections of a layer (per GPU): fused QKV, attention output, gate+up (per
    /// expert), down (per expert); and the LM head's vocabulary slice.
    qkv: GemmShape,
    o: GemmShape,
    gate_up: GemmShape,
    down: GemmShape,
    lm_head: GemmShape,
    /// Seconds of one layer's GEMMs (the four projections, or the routed experts' MLPs) for 0 to
    /// `LAYER_TABLE` rows: exactly what [`Roofline::layer_gemm_modelled`] gives, worked out
    /// once, since every layer has the same shapes and a step's rows are a whole number.
    /// Shared by clones.
    layer_gemm: Arc<[f64]>,
    /// Achievable FLOP/s of prefill attention.
    attention_flops: f64,
    /// Achievable bytes/s of the replica's share of one GPU.
    bandwidth: f64,
    /// Layers.
    layers: f64,
    /// Hidden size.
    hidden: f64,
    /// Bytes of one token's keys and values in one layer, per GPU.
    kv_bytes_per_token_layer: f64,
    /// FLOPs of one query-key pair in one layer (scores and weighted sum), per GPU.
    attention_flops_per_pair: f64,
    /// Activation bytes of elementwise kernels per token per layer, per GPU.
    act_bytes_per_token_layer: f64,
    /// MLP experts and experts per token.
    experts: f64,
    experts_per_token: f64,
    /// Fixed seconds per layer (and once more for the LM head and sampling).
    layer_overhead_s: f64,
    /// Tensor-parallel degree.
    tp: f64,
    /// Interconnect bytes/s and all-reduce latency in seconds.
    link_bandwidth: f64,
    allreduce_latency_s: f64,
    /// Fraction of the GPU's time the replica gets.
    time_fraction: f64,
}

/// Where a step's time goes, in seconds; [`StepBreakdown::total`] is the step time.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepBreakdown {
    /// Projection GEMMs of all layers (weights read once; bound by FLOPs or bytes).
    pub gemm: f64,
    /// Attention: KV-cache reads and writes, and the score FLOPs of prefill chunks.
    pub attention: f64,
    /// Elementwise kernels over activations (norms, residual adds, SwiGLU).
    pub activations: f64,
    /// The LM head over the sequences that sample a token.
    pub lm_head: f64,
    /// Tensor-parallel all-reduces.
    pub allreduce: f64,
    /// Fixed per-layer costs (kernel launches).
    pub overhead: f64,
    /// Divisor for a time-sliced GPU: the total is the sum over this fraction.
    pub time_fraction: f64,
}

impl StepBreakdown {
    /// The step time in seconds.
    pub fn total(&self) -> f64 {
        let busy = self.gemm
            + self.attention
            + self.activations
            + self.lm_head
            + self.allreduce
            + self.overhead;
        busy / self.time_fraction
    }
}

impl Roofline {
    /// The model for `model` on `gpu` with `placement`. Fractions are clamped to (0, 1] and the
    /// tensor-parallel degree to at least 1.
    pub fn new(gpu: &GpuModel, model: &LlmModel, placement: &Placement) -> Roofline {
        let p = &gpu.perf;
        let frac = |x: f64| {
            if x.is_finite() && x > 0.0 {
                x.min(1.0)
            } else {
                1.0
            }
        };
        let tp = f64::from(placement.tensor_parallel.max(1));
        let share = frac(placement.compute_fraction);
        let compute = gpu.bf16_dense_tflops * 1e12 * share;
        // GEMMs of 1-byte weights run on the FP8 tensor cores where the GPU has them.
        let tensor = match gpu.fp8_dense_tflops {
            Some(fp8) if model.bytes_per_weight == 1.0 => fp8 * 1e12 * share,
            _ => compute,
        };
        let bandwidth = gpu.memory_bandwidth_gb_per_s
            * 1e9
            * p.bandwidth_efficiency
            * frac(placement.bandwidth_fraction);
        let dev = GemmDevice {
            flops: tensor * p.gemm_efficiency,
            bandwidth,
            // A MIG slice has its share of the SMs.
            sms: (f64::from(gpu.sms) * share).round().max(1.0),
            squarings: p.overlap_exponent.max(1).trailing_zeros(),
        };
        let h = model.hidden_size as f64;
        let q = model.q_dim() as f64;
        // KV heads are split across GPUs, and replicated once there are more GPUs than heads.
        let kv = (model.kv_heads as f64 / tp).max(1.0) * model.head_dim as f64 * tp;
        let f = model.ffn_size as f64;
        let kpt = model.experts_per_token as f64;
        let w = model.bytes_per_weight;
        let mut roofline = Roofline {
            dev,
            qkv: GemmShape::new(&dev, h, (q + 2.0 * kv) / tp, w),
            o: GemmShape::new(&dev, q / tp, h, w),
            gate_up: GemmShape::new(&dev, h, 2.0 * f / tp, w),
            down: GemmShape::new(&dev, f / tp, h, w),
            lm_head: GemmShape::new(&dev, h, model.vocab_size as f64 / tp, w),
            layer_gemm: Arc::from(Vec::new()),
            attention_flops: compute * p.attention_efficiency,
            bandwidth,
            layers: model.layers as f64,
            hidden: h,
            kv_bytes_per_token_layer: 2.0 * kv * model.bytes_per_kv / tp,
            attention_flops_per_pair: 4.0 * q / tp,
            // Unfused elementwise passes per token: two RMSNorms (read + write h), two residual
            // adds (read 2h, write h), the attention output's relayout (read + write q) and
            // SwiGLU's activation and product (read 3 x ffn, write 2 x ffn) per routed expert.
            act_bytes_per_token_layer: ACT_BYTES * (10.0 * h + (2.0 * q + 5.0 * f * kpt) / tp),
            experts: model.experts as f64,
            experts_per_token: kpt,
            layer_overhead_s: p.layer_overhead_us * 1e-6,
            tp,
            link_bandwidth: p.interconnect_gb_per_s * 1e9,
            allreduce_latency_s: p.allreduce_latency_us * 1e-6,
            time_fraction: frac(placement.time_fraction),
        };
        // A running maximum, though each GEMM already never gets faster with more rows: the
        // table is monotone whatever the rounding.
        let mut last = 0.0f64;
        roofline.layer_gemm = (0..=LAYER_TABLE)
            .map(|m| {
                if m > 0 {
                    last = last.max(roofline.layer_gemm_modelled(m as f64));
                }
                last
            })
            .collect();
        roofline
    }

    /// Seconds of one layer's GEMMs for `m` rows, worked out.
    fn layer_gemm_modelled(&self, m: f64) -> f64 {
        let d = &self.dev;
        self.qkv.time(m, d) + self.o.time(m, d) + self.mlp(m)
    }

    /// Seconds of one layer's GEMMs for a step of `tokens` rows: the table's entry, or worked
    /// out past it (never below the table's last entry).
    #[inline]
    fn layer_gemm(&self, tokens: u64) -> f64 {
        match usize::try_from(tokens)
            .ok()
            .and_then(|i| self.layer_gemm.get(i))
        {
            Some(&t) => t,
            None => self
                .layer_gemm_modelled(tokens as f64)
                .max(self.layer_gemm[LAYER_TABLE]),
        }
    }

    /// Seconds for one layer's MLP over `m` tokens: one dense gated MLP, or the experts the
    /// tokens are routed to (expected distinct experts under uniform routing), each with its
    /// share of the tokens.
    fn mlp(&self, m: f64) -> f64 {
        let d = &self.dev;
        if self.experts <= 1.0 {
            return self.gate_up.time(m, d) + self.down.time(m, d);
        }
        let touched = self.experts * (1.0 - (1.0 - self.experts_per_token / self.experts).powf(m));
        let rows = m * self.experts_per_token / touched;
        touched * (self.gate_up.time(rows, d) + self.down.time(rows, d))
    }

    /// Where the time of `batch` goes.
    pub fn breakdown(&self, batch: &StepBatch) -> StepBreakdown {
        let mut out = StepBreakdown {
            time_fraction: self.time_fraction,
            ..StepBreakdown::default()
        };
        let tokens = batch.tokens();
        if tokens == 0 {
            return out;
        }
        let m = tokens as f64;
        let h = self.hidden;
        let l = self.layers;
        let d = &self.dev;
        out.gemm = l * self.layer_gemm(tokens);
        // Attention: new keys and values are written; decode reads every cached token once
        // (bandwidth-bound); prefill chunks read their cached prefix and do causal score FLOPs.
        let kv = self.kv_bytes_per_token_layer;
        let context = batch.decode_context_tokens as f64;
        let decode = smooth_max(
            context * kv / self.bandwidth,
            context * self.attention_flops_per_pair / self.attention_flops,
            d.squarings,
        );
        let prefill = smooth_max(
            batch.prefill_attention_pairs * self.attention_flops_per_pair / self.attention_flops,
            batch.prefill_cached_tokens as f64 * kv / self.bandwidth,
            d.squarings,
        );
        out.attention = l * (decode + prefill + m * kv / self.bandwidth);
        out.activations = l * m * self.act_bytes_per_token_layer / self.bandwidth;
        out.lm_head = self.lm_head.time(batch.logits_rows as f64, d);
        if self.tp > 1.0 {
            // Two ring all-reduces of the hidden states per layer.
            let bytes = m * h * ACT_BYTES;
            let one = 2.0 * (self.tp - 1.0) / self.tp * bytes / self.link_bandwidth
                + self.allreduce_latency_s;
            out.allreduce = 2.0 * l * one;
        }
        out.overhead = (l + 1.0) * self.layer_overhead_s;
        out
    }

    /// Seconds one step of `batch` takes (0 for an empty batch).
    pub fn step_time(&self, batch: &StepBatch) -> f64 {
        self.breakdown(batch).total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{builtin_model, Catalog};

    fn h100() -> GpuModel {
        Catalog::builtin().gpu("h100-sxm").unwrap().clone()
    }

    fn model(id: &str) -> &'static LlmModel {
        builtin_model(id).unwrap()
    }

    #[test]
    fn decode_at_batch_one_reads_the_weights_once() {
        // Llama-3.1-8B: 16 GB of weights at ~2.96 TB/s is ~5.4 ms, plus per-layer overhead.
        let r = Roofline::new(&h100(), model("llama-3.1-8b"), &Placement::whole());
        let t = r.step_time(&StepBatch::decode(1, 128));
        assert!(t > 5.0e-3 && t < 7.0e-3, "{t}");
        let b = r.breakdown(&StepBatch::decode(1, 128));
        assert!(b.gemm > b.attention && b.gemm > b.overhead);
    }

    #[test]
    fn weights_are_read_once_whatever_the_mix() {
        let r = Roofline::new(&h100(), model("llama-3.1-8b"), &Placement::whole());
        let mut mixed = StepBatch::decode(8, 512);
        mixed.add_prefill_chunk(8, 0, true);
        let t_mixed = r.step_time(&mixed);
        let t_decode = r.step_time(&StepBatch::decode(8, 512));
        let t_prefill = r.step_time(&StepBatch::prefill(1, 8));
        // Both alone are weight-bound; together they cost little more than one.
        assert!(
            t_mixed < 0.6 * (t_decode + t_prefill),
            "{t_mixed} {t_decode} {t_prefill}"
        );
    }

    #[test]
    fn time_grows_with_batch_context_and_prompt() {
        let r = Roofline::new(&h100(), model("llama-3.2-1b"), &Placement::whole());
        let mut last = 0.0;
        for b in [1, 4, 16, 64, 256] {
            let t = r.step_time(&StepBatch::decode(b, 1024));
            assert!(t >= last);
            last = t;
        }
        assert!(
            r.step_time(&StepBatch::decode(64, 4096)) > r.step_time(&StepBatch::decode(64, 512))
        );
        let long = r.step_time(&StepBatch::prefill(1, 4096));
        let short = r.step_time(&StepBatch::prefill(1, 1024));
        assert!(long > 3.5 * short, "{long} {short}");
    }

    #[test]
    fn large_prefill_is_compute_bound() {
        let r = Roofline::new(&h100(), model("llama-3.1-8b"), &Placement::whole());
        let t = r.step_time(&StepBatch::prefill(4, 2048));
        let flops = 2.0 * model("llama-3.1-8b").params() as f64 * 8192.0;
        let achieved = flops / t;
        assert!(
            achieved > 0.45 * 989.4e12 && achieved < 0.8 * 989.4e12,
            "{achieved}"
        );
    }

    #[test]
    fn mig_slices_and_time_shares_are_slower() {
        let g = h100();
        let m = model("llama-3.2-1b");
        let whole = Roofline::new(&g, m, &Placement::whole());
        // 1g.10gb: 16 of 132 SMs, 1 of 8 memory slices.
        let slice = Roofline::new(&g, m, &Placement::mig(16, 132, 1));
        let b = StepBatch::decode(16, 1024);
        let ratio = slice.step_time(&b) / whole.step_time(&b);
        assert!(ratio > 4.0 && ratio < 8.0, "{ratio}");
        let shared = Roofline::new(&g, m, &Placement::time_share(0.25));
        assert!((shared.step_time(&b) / whole.step_time(&b) - 4.0).abs() < 1e-9);
    }

    #[test]
    fn tensor_parallelism_splits_work_and_adds_all_reduce() {
        let g = h100();
        let m = model("llama-3.1-70b");
        let tp4 = Roofline::new(&g, m, &Placement::tensor_parallel(4));
        let tp8 = Roofline::new(&g, m, &Placement::tensor_parallel(8));
        let b = StepBatch::decode(32, 2048);
        let (t4, t8) = (tp4.breakdown(&b), tp8.breakdown(&b));
        assert!(t4.allreduce > 0.0 && t8.allreduce > 0.0);
        assert!(t8.total() < t4.total());
        assert!(t8.gemm < 0.6 * t4.gemm);
    }

    #[test]
    fn mixture_of_experts_reads_only_routed_experts_at_small_batches() {
        let r = Roofline::new(
            &h100(),
            model("mixtral-8x7b"),
            &Placement::tensor_parallel(2),
        );
        let one = r.step_time(&StepBatch::decode(1, 512));
        let many = r.step_time(&StepBatch::decode(64, 512));
        // Batch 1 touches 2 of 8 experts; batch 64 touches nearly all of them.
        assert!(many > 2.0 * one, "{one} {many}");
    }

    #[test]
    fn fp8_weights_use_fp8_tensor_cores_where_the_gpu_has_them() {
        let mut fp8 = model("llama-3.1-8b").clone();
        fp8.bytes_per_weight = 1.0;
        let bf16 = model("llama-3.1-8b");
        let prefill = StepBatch::prefill(4, 2048);
        let h100 = h100();
        let gemm = |g: &GpuModel, m: &LlmModel| {
            Roofline::new(g, m, &Placement::whole())
                .breakdown(&prefill)
                .gemm
        };
        // Compute-bound GEMMs: twice the tensor throughput, about half the time.
        let ratio = gemm(&h100, &fp8) / gemm(&h100, bf16);
        assert!(ratio > 0.45 && ratio < 0.6, "{ratio}");
        // An A100 has no FP8 tensor cores: the same FLOPs at the BF16 rate.
        let a100 = Catalog::builtin().gpu("a100-80gb").unwrap().clone();
        let ratio = gemm(&a100, &fp8) / gemm(&a100, bf16);
        assert!(ratio > 0.95 && ratio <= 1.0, "{ratio}");
        // Decode is bound by weight reads: 1-byte weights halve them on either GPU.
        let decode = StepBatch::decode(1, 128);
        let r = |m: &LlmModel| Roofline::new(&a100, m, &Placement::whole()).breakdown(&decode);
        let ratio = r(&fp8).gemm / r(bf16).gemm;
        assert!(ratio > 0.45 && ratio < 0.55, "{ratio}");
    }

    #[test]
    fn empty_batch_costs_nothing() {
        let r = Roofline::new(&h100(), model("llama-3.2-1b"), &Placement::whole());
        assert_eq!(r.step_time(&StepBatch::new()), 0.0);
    }

    #[test]
    fn a_longer_prefill_chunk_never_shortens_the_gemms() {
        // The proptest's failing case: Mixtral at TP 6, 170 decodes at context 1 and a 23-token
        // chunk; a further 64-token chunk took the experts' GEMMs from 1 to 2 row tiles, whose
        // better-filled last wave lowered the step's GEMM time from 6.01 to 5.69 ms.
        let r = Roofline::new(
            &h100(),
            model("mixtral-8x7b"),
            &Placement::tensor_parallel(6),
        );
        let mut b = StepBatch::decode(170, 1);
        b.add_prefill_chunk(23, 0, true);
        let mut longer = b;
        longer.add_prefill_chunk(64, 0, false);
        let (t, t_longer) = (r.breakdown(&b), r.breakdown(&longer));
        assert!(t_longer.gemm >= t.gemm, "{} {}", t.gemm, t_longer.gemm);
        assert!(r.step_time(&longer) >= r.step_time(&b));
    }

    #[test]
    fn the_layer_table_holds_exactly_the_worked_out_times() {
        for id in ["llama-3.2-1b", "llama-3.1-70b", "mixtral-8x7b"] {
            for tp in [1, 2, 6] {
                let r = Roofline::new(&h100(), model(id), &Placement::tensor_parallel(tp));
                for m in 1..=LAYER_TABLE as u64 + 100 {
                    let worked_out = r.layer_gemm_modelled(m as f64);
                    assert_eq!(
                        r.layer_gemm(m).to_bits(),
                        worked_out.to_bits(),
                        "{id} {tp} {m}"
                    );
                }
            }
        }
    }

    #[test]
    fn gemm_time_never_falls_with_more_rows_for_any_catalog_model_gpu_and_tp() {
        // Every row count to 10,000 (past the tabulated 128 row tiles), every GPU, model and
        // tensor-parallel degree 1 to 8, and a MIG slice: the GEMMs (mixture-of-experts ones
        // with their fractional rows per expert) and the LM head never get faster.
        let catalog = Catalog::builtin();
        for gpu in &catalog.gpus {
            for model in crate::catalog::builtin_models() {
                let mut placements: Vec<Placement> =
                    (1..=8).map(Placement::tensor_parallel).collect();
                placements.push(Placement::mig(16, 132, 1));
                for p in &placements {
                    let r = Roofline::new(gpu, model, p);
                    let (mut gemm, mut head) = (0.0f64, 0.0f64);
                    for m in 1..=10_000u64 {
                        let b = r.breakdown(&StepBatch::decode(m, m));
                        assert!(
                            b.gemm >= gemm && b.lm_head >= head,
                            "{} {} tp {}: {m} rows: {} < {gemm} or {} < {head}",
                            gpu.id,
                            model.id,
                            p.tensor_parallel,
                            b.gemm,
                            b.lm_head
                        );
                        (gemm, head) = (b.gemm, b.lm_head);
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]

        /// Step time is finite, positive for work, and never falls when work is added.
        #[test]
        fn more_work_never_takes_less_time(
            model_i in 0usize..7,
            decodes in 0u64..512,
            context in 1u64..32_768,
            chunk in 0u64..8192,
            cached in 0u64..8192,
            tp in 1u32..9,
        ) {
            let model = &crate::catalog::builtin_models()[model_i];
            let r = Roofline::new(&h100(), model, &Placement::tensor_parallel(tp));
            let mut b = StepBatch::decode(decodes, context);
            if chunk > 0 {
                b.add_prefill_chunk(chunk, cached, true);
            }
            let t = r.step_time(&b);
            proptest::prop_assert!(t.is_finite() && t >= 0.0);
            proptest::prop_assert_eq!(t > 0.0, !b.is_empty());
            let mut more = b;
            more.add_decode(context);
            proptest::prop_assert!(r.step_time(&more) >= t);
            let mut longer = b;
            longer.add_prefill_chunk(64, cached, false);
            proptest::prop_assert!(r.step_time(&longer) >= t);
        }

        /// The same near the GEMMs' row-tile boundaries, where wave quantisation changes: a
        /// step of whole row tiles less a few rows, then one to 64 rows more, on any GPU.
        #[test]
        fn a_few_more_rows_never_take_less_time(
            gpu_i in 0usize..16,
            model_i in 0usize..7,
            tp in 1u32..9,
            tiles in 1u64..160,
            less in 0u64..4,
            extra in 1u64..65,
            decodes in 0u64..64,
        ) {
            let catalog = Catalog::builtin();
            let gpu = &catalog.gpus[gpu_i % catalog.gpus.len()];
            let model = &crate::catalog::builtin_models()[model_i];
            let r = Roofline::new(gpu, model, &Placement::tensor_parallel(tp));
            let rows = (tiles * 64).saturating_sub(less + decodes).max(1);
            let mut b = StepBatch::decode(decodes, decodes * 100);
            b.add_prefill_chunk(rows, 0, true);
            let mut more = b;
            more.add_prefill_chunk(extra, 0, false);
            proptest::prop_assert!(r.step_time(&more) >= r.step_time(&b));
            proptest::prop_assert!(r.breakdown(&more).gemm >= r.breakdown(&b).gemm);
        }
    }
}

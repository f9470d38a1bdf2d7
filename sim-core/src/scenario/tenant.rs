//! `[[tenant]]`: what the gateway knows of each tenant: its request rate limit (an Envoy local
//! rate limit token bucket), an optional tokens-per-minute limit, its SLO and its fair-share
//! weight. A tenant is named by the label its requests carry: a mix stream's `name`, or a trace's
//! tenant label.

use super::model::{EngineSpec, TrafficSpec, Validator};
use super::raw::{RawScenario, RawSlo};
use super::ScenarioError;
use crate::engine::SimDuration;
use crate::serving::ratelimit::BucketSpec;
use serde::Deserialize;

/// A `[[tenant]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    /// The label its requests carry.
    pub name: Option<String>,
    /// Fair-share weight (default 1).
    pub weight: Option<f64>,
    /// `[tenant.rate_limit]`: requests per fill interval, Envoy's token bucket.
    pub rate_limit: Option<RawRateLimit>,
    /// Prompt plus output tokens per minute.
    pub tokens_per_minute: Option<u64>,
    /// `[tenant.slo]`: this tenant's targets (default: the scenario's `[slo]`).
    pub slo: Option<RawSlo>,
}

/// `[tenant.rate_limit]`: Envoy's `type.v3.TokenBucket`, one token per request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    /// Most tokens the bucket holds, and what it starts with (the burst).
    pub max_tokens: Option<u64>,
    /// Tokens added each fill interval (default 1, as Envoy).
    pub tokens_per_fill: Option<u64>,
    /// Time between fills.
    pub fill_interval: Option<String>,
}

/// One tenant, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantSpec {
    /// The label its requests carry.
    pub name: String,
    /// Fair-share weight (positive).
    pub weight: f64,
    /// The request rate limit, if any.
    pub rate_limit: Option<BucketSpec>,
    /// The tokens-per-minute limit as a bucket of LLM tokens (`max_tokens` = the per-minute
    /// figure, refilled by a sixtieth of it, rounded up, every second), if any.
    pub token_limit: Option<BucketSpec>,
    /// End-to-end latency target (the scenario's when the tenant names none).
    pub slo_latency: Option<SimDuration>,
    /// Time-to-first-token target (likewise).
    pub slo_ttft: Option<SimDuration>,
    /// Time-per-output-token target (likewise).
    pub slo_tpot: Option<SimDuration>,
}

impl TenantSpec {
    /// A tenant without limits, with the scenario's targets (for labels no `[[tenant]]` names).
    pub fn unlimited(name: &str, s: &super::Scenario) -> Self {
        TenantSpec {
            name: name.to_string(),
            weight: 1.0,
            rate_limit: None,
            token_limit: None,
            slo_latency: s.slo_latency,
            slo_ttft: s.slo_ttft,
            slo_tpot: s.slo_tpot,
        }
    }
}

/// The bucket a `tokens_per_minute` limit becomes.
pub fn tokens_per_minute_bucket(tpm: u64) -> BucketSpec {
    BucketSpec {
        max_tokens: tpm,
        tokens_per_fill: tpm.div_ceil(60),
        fill_interval: SimDuration::from_secs(1),
    }
}

impl Validator<'_> {
    /// The `[[tenant]]` tables, checked against the traffic's labels and the engine.
    pub(super) fn tenants(
        &self,
        raw: &RawScenario,
        traffic: &TrafficSpec,
        engine: &EngineSpec,
        slo: (
            Option<SimDuration>,
            Option<SimDuration>,
            Option<SimDuration>,
        ),
    ) -> Result<Vec<TenantSpec>, ScenarioError> {
        let Some(list) = &raw.tenant else {
            return Ok(Vec::new());
        };
        let streams: Option<Vec<&str>> = match traffic {
            TrafficSpec::Mix { streams } => Some(streams.iter().map(|s| s.name.as_str()).collect()),
            TrafficSpec::Trace { .. } => None,
            _ => {
                return Err(self.err(
                    "tenant",
                    "tenants are told apart by their requests' labels: expected `kind = \"mix\"` \
                     traffic (one stream per tenant) or a trace with a tenant column",
                ))
            }
        };
        let llm = matches!(engine, EngineSpec::Vllm(_));
        let mut out: Vec<TenantSpec> = Vec::with_capacity(list.len());
        for (i, t) in list.iter().enumerate() {
            let key = |k: &str| format!("tenant[{i}].{k}");
            let name = self.required(&key("name"), t.name.as_ref(), "the tenant's label")?;
            if let Some(names) = &streams {
                if !names.contains(&name.as_str()) {
                    return Err(self.err(
                        &key("name"),
                        format!(
                            "expected the name of a [[traffic.stream]] ({}), found \"{name}\"",
                            names.join(", ")
                        ),
                    ));
                }
            }
            if out.iter().any(|o| &o.name == name) {
                return Err(self.err(
                    &key("name"),
                    format!("expected a name no other [[tenant]] has, found \"{name}\" again"),
                ));
            }
            let weight = t.weight.unwrap_or(1.0);
            if !(weight.is_finite() && weight > 0.0) {
                return Err(self.err(
                    &key("weight"),
                    format!("expected a finite weight above zero, found {weight}"),
                ));
            }
            let rate_limit = match &t.rate_limit {
                None => None,
                Some(r) => {
                    let k = |f: &str| key(&format!("rate_limit.{f}"));
                    let max_tokens = *self.required(
                        &k("max_tokens"),
                        r.max_tokens.as_ref(),
                        "the bucket's size in requests (the burst)",
                    )?;
                    let tokens_per_fill = r.tokens_per_fill.unwrap_or(1);
                    if tokens_per_fill == 0 {
                        return Err(
                            self.err(&k("tokens_per_fill"), "expected at least 1 token per fill")
                        );
                    }
                    let interval = self.required(
                        &k("fill_interval"),
                        r.fill_interval.as_ref(),
                        "the time between fills, such as \"1s\"",
                    )?;
                    let fill_interval =
                        self.duration(&k("fill_interval"), Some(interval), SimDuration::ZERO)?;
                    if fill_interval == SimDuration::ZERO {
                        return Err(
                            self.err(&k("fill_interval"), "expected an interval longer than zero")
                        );
                    }
                    Some(BucketSpec {
                        max_tokens,
                        tokens_per_fill,
                        fill_interval,
                    })
                }
            };
            let token_limit = match t.tokens_per_minute {
                None => None,
                Some(_) if !llm => {
                    return Err(self.err(
                        &key("tokens_per_minute"),
                        "a tokens-per-minute limit counts prompt and output tokens: expected \
                         `engine = \"vllm\"` (requests with token counts)",
                    ))
                }
                Some(0) => {
                    return Err(self.err(
                        &key("tokens_per_minute"),
                        "expected at least 1 token per minute",
                    ))
                }
                Some(tpm) => Some(tokens_per_minute_bucket(tpm)),
            };
            let target = |k: &str, v: Option<&String>| -> Result<Option<SimDuration>, _> {
                v.map(|s| self.duration(&key(&format!("slo.{k}")), Some(s), SimDuration::ZERO))
                    .transpose()
            };
            let s = t.slo.as_ref();
            let slo_latency = target("latency", s.and_then(|s| s.latency.as_ref()))?;
            let slo_ttft = target("ttft", s.and_then(|s| s.ttft.as_ref()))?;
            let slo_tpot = target("tpot", s.and_then(|s| s.tpot.as_ref()))?;
            if !llm && (slo_ttft.is_some() || slo_tpot.is_some()) {
                let k = if slo_ttft.is_some() { "ttft" } else { "tpot" };
                return Err(self.err(
                    &key(&format!("slo.{k}")),
                    "token-level targets need `engine = \"vllm\"`; use `slo.latency`",
                ));
            }
            // A tenant with its own [tenant.slo] uses only its own targets.
            let (slo_latency, slo_ttft, slo_tpot) = if s.is_some() {
                (slo_latency, slo_ttft, slo_tpot)
            } else {
                slo
            };
            out.push(TenantSpec {
                name: name.clone(),
                weight,
                rate_limit,
                token_limit,
                slo_latency,
                slo_ttft,
                slo_tpot,
            });
        }
        Ok(out)
    }
}

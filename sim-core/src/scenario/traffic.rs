//! `[traffic]`: generators (Poisson, schedule, diurnal, MMPP, spikes, Gamma renewal), mixes of
//! streams, and trace replay with its options.

use super::model::{TokenSpec, Validator};
use super::raw::{RawColumns, RawTraceFormat, RawTraffic, RawTrafficKind};
use super::ScenarioError;
use crate::engine::{SimDuration, SimTime};

/// A trace file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFormat {
    /// Azure LLM inference trace 2023.
    AzureLlm2023,
    /// Azure LLM inference trace 2024 (same columns, times with a UTC offset).
    AzureLlm2024,
    /// BurstGPT (`Timestamp` in seconds, `Model`, `Request tokens`, `Response tokens`).
    BurstGpt,
    /// Mooncake JSONL (`timestamp` in milliseconds, `input_length`, `output_length`, `hash_ids`).
    Mooncake,
    /// Generic CSV with a `timestamp` column (names mapped by `[traffic.columns]`).
    Csv,
    /// Alibaba ServeGen per-client rate windows: arrivals are generated from the rates.
    ServeGen,
    /// Alibaba GenAI 2026 sampled QPS: arrivals are generated from the summed rate.
    AlibabaGenaiQps,
}

impl TraceFormat {
    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            TraceFormat::AzureLlm2023 => "azure-llm-2023",
            TraceFormat::AzureLlm2024 => "azure-llm-2024",
            TraceFormat::BurstGpt => "burstgpt",
            TraceFormat::Mooncake => "mooncake",
            TraceFormat::Csv => "csv",
            TraceFormat::ServeGen => "servegen",
            TraceFormat::AlibabaGenaiQps => "alibaba-genai-qps",
        }
    }

    /// Whether the file holds rates to generate arrivals from, not one row per request.
    pub fn is_rates(self) -> bool {
        matches!(self, TraceFormat::ServeGen | TraceFormat::AlibabaGenaiQps)
    }

    /// Tokens each prefix hash id of the format covers (`None`: the format has no hashes).
    pub fn prefix_unit_tokens(self) -> Option<u32> {
        match self {
            TraceFormat::Mooncake => Some(crate::traffic::mooncake::BLOCK_TOKENS),
            _ => None,
        }
    }

    /// Whether rows carry prompt and output token counts.
    pub fn has_tokens(self) -> bool {
        !self.is_rates()
    }

    pub(super) fn from_raw(r: RawTraceFormat) -> Self {
        match r {
            RawTraceFormat::AzureLlm2023 => TraceFormat::AzureLlm2023,
            RawTraceFormat::AzureLlm2024 => TraceFormat::AzureLlm2024,
            RawTraceFormat::BurstGpt => TraceFormat::BurstGpt,
            RawTraceFormat::Mooncake => TraceFormat::Mooncake,
            RawTraceFormat::Csv => TraceFormat::Csv,
            RawTraceFormat::ServeGen => TraceFormat::ServeGen,
            RawTraceFormat::AlibabaGenaiQps => TraceFormat::AlibabaGenaiQps,
        }
    }
}

/// Unit of a generic CSV's arrival times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// Seconds from the start.
    Seconds,
    /// Milliseconds from the start.
    Millis,
    /// Microseconds from the start.
    Micros,
    /// Nanoseconds from the start.
    Nanos,
    /// `YYYY-MM-DD HH:MM:SS[.fff][+HH:MM]`, replayed relative to the first row.
    DateTime,
}

/// A generic CSV trace's column names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnMap {
    /// Arrival time column.
    pub timestamp: String,
    /// Unit of the arrival times.
    pub time_unit: TimeUnit,
    /// Prompt token column; `None` uses `prompt_tokens` when present.
    pub prompt_tokens: Option<String>,
    /// Output token column; `None` uses `output_tokens` when present.
    pub output_tokens: Option<String>,
    /// Tenant label column; `None` uses `tenant` when present.
    pub tenant: Option<String>,
    /// Model label column; `None` uses `model` when present.
    pub model: Option<String>,
    /// Whether labels are the model column alone (the gateway routes on it), the tenant column
    /// unread.
    pub model_only: bool,
}

impl Default for ColumnMap {
    fn default() -> Self {
        ColumnMap {
            timestamp: "timestamp".to_string(),
            time_unit: TimeUnit::Seconds,
            prompt_tokens: None,
            output_tokens: None,
            tenant: None,
            model_only: false,
            model: None,
        }
    }
}

/// How a trace is read and replayed.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceOptions {
    /// Column names (generic CSV only).
    pub columns: ColumnMap,
    /// Replay from this far into the trace (its first row is time zero).
    pub start: SimDuration,
    /// Replay up to (not including) this far into the trace.
    pub end: Option<SimDuration>,
    /// Times (after `start` is subtracted) are divided by this.
    pub speed_up: f64,
    /// The rate is multiplied by this: each request is kept `floor(scale)` times plus once more
    /// with probability `scale - floor(scale)`; rate formats scale their rates instead.
    pub scale: f64,
    /// Width of the windows QPS samples are summed over (`alibaba-genai-qps`).
    pub bucket: SimDuration,
    /// Keep only rows of this `request_type` (`alibaba-genai-qps`).
    pub request_type: Option<String>,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            columns: ColumnMap::default(),
            start: SimDuration::ZERO,
            end: None,
            speed_up: 1.0,
            scale: 1.0,
            bucket: SimDuration::from_secs(60),
            request_type: None,
        }
    }
}

/// A daily (and optionally weekly) rate profile.
#[derive(Clone, Debug, PartialEq)]
pub struct DiurnalSpec {
    /// Requests per second that the multipliers scale.
    pub rate: f64,
    /// 24 multipliers, one per hour of the day.
    pub hourly: Vec<f64>,
    /// 7 multipliers, one per day of the week (all 1 without a weekly shape).
    pub weekly: Vec<f64>,
    /// Where in the profile's week time zero falls (0 is Monday 00:00 of the profile).
    pub phase: SimDuration,
}

/// One state of an MMPP.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MmppState {
    /// Requests per second in the state.
    pub rate: f64,
    /// Mean sojourn per visit.
    pub mean_sojourn: SimDuration,
}

/// A spike: the base rate multiplied over `[at, at + duration)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spike {
    /// Start.
    pub at: SimTime,
    /// Length.
    pub duration: SimDuration,
    /// Factor on the base rate (spikes that overlap multiply).
    pub multiplier: f64,
}

/// One stream of a mix: a tenant or model with its own arrivals and token counts.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamSpec {
    /// Name (the tenant or model label in results).
    pub name: String,
    /// Its arrivals (any kind but `mix`).
    pub traffic: TrafficSpec,
    /// Its token counts; `None` uses `[traffic.tokens]`.
    pub tokens: Option<TokenSpec>,
    /// The model its requests name, which the model-aware gateway routes on (`None`: its
    /// `name`).
    pub model: Option<String>,
}

/// Where requests come from.
#[derive(Clone, Debug, PartialEq)]
pub enum TrafficSpec {
    /// Poisson arrivals at `rate` per second.
    Poisson {
        /// Requests per second.
        rate: f64,
    },
    /// Poisson arrivals with a piecewise-constant rate: `(start, rate)` steps, starts increasing.
    Schedule {
        /// Steps; the last rate holds to the horizon; zero before the first step.
        steps: Vec<(SimTime, f64)>,
    },
    /// Poisson arrivals whose rate follows an hourly (and weekly) profile.
    Diurnal(DiurnalSpec),
    /// Markov-modulated Poisson arrivals.
    Mmpp {
        /// The states (at least two); on leaving one, the next is drawn uniformly from the others.
        states: Vec<MmppState>,
    },
    /// Poisson arrivals at a base rate with spikes.
    Spikes {
        /// Base requests per second.
        rate: f64,
        /// The spikes.
        spikes: Vec<Spike>,
    },
    /// Renewal arrivals with Gamma inter-arrival times.
    Gamma {
        /// Requests per second (the inverse of the mean inter-arrival time).
        rate: f64,
        /// Coefficient of variation of the inter-arrival times (1 is Poisson).
        cv: f64,
    },
    /// Several streams merged by time; each request is tagged with its stream's index.
    Mix {
        /// The streams, in order (ties in time go to the earlier stream).
        streams: Vec<StreamSpec>,
    },
    /// Arrivals replayed from a file (or generated from a file of rates).
    Trace {
        /// Path as written in the scenario (relative to the scenario file).
        path: String,
        /// File format.
        format: TraceFormat,
        /// Reading and replay options.
        options: TraceOptions,
    },
}

impl TrafficSpec {
    /// Every trace this traffic replays, in the order the world consumes them (a mix's streams
    /// in order).
    pub fn traces(&self) -> Vec<(&str, TraceFormat, &TraceOptions)> {
        match self {
            TrafficSpec::Trace {
                path,
                format,
                options,
            } => vec![(path.as_str(), *format, options)],
            TrafficSpec::Mix { streams } => {
                streams.iter().flat_map(|s| s.traffic.traces()).collect()
            }
            _ => Vec::new(),
        }
    }

    /// A short description for `capsim validate`.
    pub fn describe(&self) -> String {
        match self {
            TrafficSpec::Poisson { rate } => format!("Poisson {rate} req/s"),
            TrafficSpec::Schedule { steps } => format!("Poisson schedule of {} steps", steps.len()),
            TrafficSpec::Diurnal(d) => format!(
                "diurnal Poisson around {} req/s{}",
                d.rate,
                if d.weekly.iter().all(|&w| w == 1.0) {
                    ""
                } else {
                    " with a weekly shape"
                }
            ),
            TrafficSpec::Mmpp { states } => format!("MMPP of {} states", states.len()),
            TrafficSpec::Spikes { rate, spikes } => {
                format!("Poisson {rate} req/s with {} spikes", spikes.len())
            }
            TrafficSpec::Gamma { rate, cv } => format!("Gamma renewal {rate} req/s, cv {cv}"),
            TrafficSpec::Mix { streams } => format!(
                "mix of {}",
                streams
                    .iter()
                    .map(|s| format!("{} ({})", s.name, s.traffic.describe()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TrafficSpec::Trace { path, format, .. } => {
                format!("trace {path} ({})", format.name())
            }
        }
    }
}

fn kind_name(k: RawTrafficKind) -> &'static str {
    match k {
        RawTrafficKind::Poisson => "poisson",
        RawTrafficKind::Schedule => "schedule",
        RawTrafficKind::Trace => "trace",
        RawTrafficKind::Diurnal => "diurnal",
        RawTrafficKind::Mmpp => "mmpp",
        RawTrafficKind::Spikes => "spikes",
        RawTrafficKind::Gamma => "gamma",
        RawTrafficKind::Mix => "mix",
    }
}

impl Validator<'_> {
    /// `[traffic]` (with `prefix` = `traffic`) or one stream of a mix.
    pub(super) fn traffic(
        &self,
        raw: &RawTraffic,
        prefix: &str,
    ) -> Result<TrafficSpec, ScenarioError> {
        let key = |k: &str| format!("{prefix}.{k}");
        let kind = *self.required(
            &key("kind"),
            raw.kind.as_ref(),
            "a traffic kind: poisson, schedule, diurnal, mmpp, spikes, gamma, mix or trace",
        )?;
        if raw.model.is_some() && !prefix.contains(".stream[") {
            return Err(self.err(
                &key("model"),
                "`model` belongs to a [[traffic.stream]] (the model its requests name); a trace names models in its model column",
            ));
        }
        // Which keys each kind reads; any other key present is an error naming it.
        let used: &[&str] = match kind {
            RawTrafficKind::Poisson => &["rate"],
            RawTrafficKind::Schedule => &["schedule"],
            RawTrafficKind::Diurnal => &["rate", "hourly", "weekly", "phase"],
            RawTrafficKind::Mmpp => &["state"],
            RawTrafficKind::Spikes => &["rate", "spike"],
            RawTrafficKind::Gamma => &["rate", "cv"],
            RawTrafficKind::Mix => &["stream"],
            RawTrafficKind::Trace => &[
                "path",
                "format",
                "columns",
                "start",
                "end",
                "speed_up",
                "scale",
                "bucket",
                "request_type",
            ],
        };
        let present = [
            ("rate", raw.rate.is_some()),
            ("cv", raw.cv.is_some()),
            ("schedule", raw.schedule.is_some()),
            ("hourly", raw.hourly.is_some()),
            ("weekly", raw.weekly.is_some()),
            ("phase", raw.phase.is_some()),
            ("state", raw.state.is_some()),
            ("spike", raw.spike.is_some()),
            ("stream", raw.stream.is_some()),
            ("path", raw.path.is_some()),
            ("format", raw.format.is_some()),
            ("columns", raw.columns.is_some()),
            ("start", raw.start.is_some()),
            ("end", raw.end.is_some()),
            ("speed_up", raw.speed_up.is_some()),
            ("scale", raw.scale.is_some()),
            ("bucket", raw.bucket.is_some()),
            ("request_type", raw.request_type.is_some()),
        ];
        for (name, is) in present {
            if is && !used.contains(&name) {
                return Err(self.err(
                    &key(name),
                    format!(
                        "`{name}` is not used with kind = \"{}\" (it takes: {})",
                        kind_name(kind),
                        used.join(", ")
                    ),
                ));
            }
        }
        let rate = |what: &str| -> Result<f64, ScenarioError> {
            let r = *self.required(&key("rate"), raw.rate.as_ref(), what)?;
            self.rate(&key("rate"), r)
        };
        match kind {
            RawTrafficKind::Poisson => Ok(TrafficSpec::Poisson {
                rate: rate("`rate`, requests per second")?,
            }),
            RawTrafficKind::Schedule => {
                let steps_raw = self.required(
                    &key("schedule"),
                    raw.schedule.as_ref(),
                    "[[traffic.schedule]] steps with `start` and `rate`",
                )?;
                if steps_raw.is_empty() {
                    return Err(self.err(&key("schedule"), "expected at least one step"));
                }
                let mut steps = Vec::with_capacity(steps_raw.len());
                for (i, s) in steps_raw.iter().enumerate() {
                    let k = key(&format!("schedule[{i}]"));
                    let start = self.required_duration(&format!("{k}.start"), s.start.as_ref())?;
                    let r = *self.required(
                        &format!("{k}.rate"),
                        s.rate.as_ref(),
                        "`rate`, requests per second",
                    )?;
                    let r = self.rate(&format!("{k}.rate"), r)?;
                    let start = SimTime(start.0);
                    if let Some(&(prev, _)) = steps.last() {
                        if start <= prev {
                            return Err(self.err(
                                &format!("{k}.start"),
                                "expected steps in increasing order of `start`",
                            ));
                        }
                    }
                    steps.push((start, r));
                }
                Ok(TrafficSpec::Schedule { steps })
            }
            RawTrafficKind::Diurnal => {
                let rate = rate("`rate`, requests per second that `hourly` multiplies")?;
                let hourly = self.multipliers(&key("hourly"), raw.hourly.as_ref(), 24, "hour")?;
                let weekly = match &raw.weekly {
                    None => vec![1.0; 7],
                    Some(w) => self.multipliers(&key("weekly"), Some(w), 7, "day")?,
                };
                let phase = self.duration(&key("phase"), raw.phase.as_ref(), SimDuration::ZERO)?;
                if phase >= SimDuration::from_secs(7 * 86_400) {
                    return Err(self.err(
                        &key("phase"),
                        format!("expected a phase within one week (below 7d), found {phase}"),
                    ));
                }
                let peak = hourly.iter().fold(0.0f64, |a, &b| a.max(b))
                    * weekly.iter().fold(0.0f64, |a, &b| a.max(b));
                self.rate(&key("rate"), rate * peak)?;
                Ok(TrafficSpec::Diurnal(DiurnalSpec {
                    rate,
                    hourly,
                    weekly,
                    phase,
                }))
            }
            RawTrafficKind::Mmpp => {
                let raw_states = self.required(
                    &key("state"),
                    raw.state.as_ref(),
                    "[[traffic.state]] tables with `rate` and `mean_sojourn` (at least two)",
                )?;
                if raw_states.len() < 2 {
                    return Err(self.err(
                        &key("state"),
                        format!(
                            "expected at least two [[{prefix}.state]] tables, found {}",
                            raw_states.len()
                        ),
                    ));
                }
                let mut states = Vec::with_capacity(raw_states.len());
                for (i, s) in raw_states.iter().enumerate() {
                    let k = key(&format!("state[{i}]"));
                    let r = *self.required(
                        &format!("{k}.rate"),
                        s.rate.as_ref(),
                        "`rate`, requests per second in this state",
                    )?;
                    let r = self.rate(&format!("{k}.rate"), r)?;
                    let mean_sojourn = self
                        .required_duration(&format!("{k}.mean_sojourn"), s.mean_sojourn.as_ref())?;
                    if mean_sojourn == SimDuration::ZERO {
                        return Err(self.err(
                            &format!("{k}.mean_sojourn"),
                            "expected a mean sojourn longer than zero",
                        ));
                    }
                    states.push(MmppState {
                        rate: r,
                        mean_sojourn,
                    });
                }
                Ok(TrafficSpec::Mmpp { states })
            }
            RawTrafficKind::Spikes => {
                let base = rate("`rate`, the base requests per second")?;
                let raw_spikes = self.required(
                    &key("spike"),
                    raw.spike.as_ref(),
                    "[[traffic.spike]] tables with `at`, `duration` and `multiplier`",
                )?;
                let mut spikes = Vec::with_capacity(raw_spikes.len());
                for (i, s) in raw_spikes.iter().enumerate() {
                    let k = key(&format!("spike[{i}]"));
                    let at = self.required_duration(&format!("{k}.at"), s.at.as_ref())?;
                    let duration =
                        self.required_duration(&format!("{k}.duration"), s.duration.as_ref())?;
                    if duration == SimDuration::ZERO {
                        return Err(self.err(
                            &format!("{k}.duration"),
                            "expected a duration longer than zero",
                        ));
                    }
                    let m = *self.required(
                        &format!("{k}.multiplier"),
                        s.multiplier.as_ref(),
                        "`multiplier`, the factor on the base rate",
                    )?;
                    if !(m.is_finite() && m >= 0.0) {
                        return Err(self.err(
                            &format!("{k}.multiplier"),
                            format!("expected a finite multiplier that is not negative, found {m}"),
                        ));
                    }
                    self.rate(&format!("{k}.multiplier"), base * m)?;
                    spikes.push(Spike {
                        at: SimTime(at.0),
                        duration,
                        multiplier: m,
                    });
                }
                Ok(TrafficSpec::Spikes { rate: base, spikes })
            }
            RawTrafficKind::Gamma => {
                let r = rate("`rate`, requests per second")?;
                let cv = *self.required(
                    &key("cv"),
                    raw.cv.as_ref(),
                    "`cv`, the coefficient of variation of inter-arrival times (1 is Poisson)",
                )?;
                if !(cv.is_finite() && (0.01..=100.0).contains(&cv)) {
                    return Err(self.err(
                        &key("cv"),
                        format!("expected a coefficient of variation from 0.01 to 100, found {cv}"),
                    ));
                }
                Ok(TrafficSpec::Gamma { rate: r, cv })
            }
            RawTrafficKind::Mix => {
                if prefix != "traffic" {
                    return Err(self.err(&key("kind"), "a mix's streams cannot be mixes"));
                }
                let raw_streams = self.required(
                    &key("stream"),
                    raw.stream.as_ref(),
                    "[[traffic.stream]] tables, each a traffic kind with its keys",
                )?;
                if raw_streams.is_empty() {
                    return Err(self.err(&key("stream"), "expected at least one stream"));
                }
                let mut streams: Vec<StreamSpec> = Vec::with_capacity(raw_streams.len());
                for (i, s) in raw_streams.iter().enumerate() {
                    let k = key(&format!("stream[{i}]"));
                    let name = s.name.clone().unwrap_or_else(|| format!("stream-{i}"));
                    if streams.iter().any(|o| o.name == name) {
                        return Err(self.err(
                            &format!("{k}.name"),
                            format!("expected stream names to differ; `{name}` is used twice"),
                        ));
                    }
                    let traffic = self.traffic(s, &k)?;
                    let tokens = match &s.tokens {
                        None => None,
                        Some(t) => {
                            if t.sample.is_some() || t.sample_format.is_some() {
                                return Err(self.err(
                                    &format!("{k}.tokens.sample"),
                                    "a stream's tokens take `prompt` and `output` distributions; \
                                     put a `sample` in [traffic.tokens]",
                                ));
                            }
                            Some(self.tokens_at(t, &format!("{k}.tokens"))?)
                        }
                    };
                    let model = match &s.model {
                        Some(m) if m.is_empty() => {
                            return Err(self.err(
                                &format!("{k}.model"),
                                "expected a model name, found an empty string",
                            ))
                        }
                        m => m.clone(),
                    };
                    streams.push(StreamSpec {
                        name,
                        traffic,
                        tokens,
                        model,
                    });
                }
                Ok(TrafficSpec::Mix { streams })
            }
            RawTrafficKind::Trace => {
                let path = self.required(
                    &key("path"),
                    raw.path.as_ref(),
                    "`path`, the trace file relative to the scenario",
                )?;
                let format = TraceFormat::from_raw(*self.required(
                    &key("format"),
                    raw.format.as_ref(),
                    "`format`: azure-llm-2023, azure-llm-2024, burstgpt, mooncake, csv, \
                     servegen or alibaba-genai-qps",
                )?);
                let options = self.trace_options(raw, prefix, format)?;
                Ok(TrafficSpec::Trace {
                    path: path.clone(),
                    format,
                    options,
                })
            }
        }
    }

    fn required_duration(
        &self,
        key: &str,
        v: Option<&String>,
    ) -> Result<SimDuration, ScenarioError> {
        let s = self.required(key, v, "a duration such as \"30s\"")?;
        self.duration(key, Some(s), SimDuration::ZERO)
    }

    fn multipliers(
        &self,
        key: &str,
        v: Option<&Vec<f64>>,
        n: usize,
        unit: &str,
    ) -> Result<Vec<f64>, ScenarioError> {
        let v = self.required(key, v, &format!("{n} multipliers, one per {unit}"))?;
        if v.len() != n {
            return Err(self.err(
                key,
                format!(
                    "expected {n} multipliers, one per {unit}, found {}",
                    v.len()
                ),
            ));
        }
        for (i, &m) in v.iter().enumerate() {
            if !(m.is_finite() && m >= 0.0) {
                return Err(self.err(
                    &format!("{key}[{i}]"),
                    format!("expected a finite multiplier that is not negative, found {m}"),
                ));
            }
        }
        Ok(v.clone())
    }

    fn trace_options(
        &self,
        raw: &RawTraffic,
        prefix: &str,
        format: TraceFormat,
    ) -> Result<TraceOptions, ScenarioError> {
        let key = |k: &str| format!("{prefix}.{k}");
        let mut o = TraceOptions::default();
        let only = |present: bool, name: &str, fmt: &[TraceFormat]| {
            if present && !fmt.contains(&format) {
                let names: Vec<&str> = fmt.iter().map(|f| f.name()).collect();
                Err(self.err(
                    &key(name),
                    format!(
                        "`{name}` applies only to format {} (this trace is {})",
                        names.join(", "),
                        format.name()
                    ),
                ))
            } else {
                Ok(())
            }
        };
        only(raw.columns.is_some(), "columns", &[TraceFormat::Csv])?;
        only(
            raw.bucket.is_some(),
            "bucket",
            &[TraceFormat::AlibabaGenaiQps],
        )?;
        only(
            raw.request_type.is_some(),
            "request_type",
            &[TraceFormat::AlibabaGenaiQps],
        )?;
        if let Some(c) = &raw.columns {
            o.columns = self.columns(c, &key("columns"))?;
        }
        o.start = self.duration(&key("start"), raw.start.as_ref(), SimDuration::ZERO)?;
        if let Some(e) = &raw.end {
            let end = self.duration(&key("end"), Some(e), SimDuration::ZERO)?;
            if end <= o.start {
                return Err(self.err(
                    &key("end"),
                    format!("expected `end` after `start` ({}), found {end}", o.start),
                ));
            }
            o.end = Some(end);
        }
        let positive = |name: &str, v: Option<f64>, max: f64| -> Result<f64, ScenarioError> {
            match v {
                None => Ok(1.0),
                Some(x) if x.is_finite() && x > 0.0 && x <= max => Ok(x),
                Some(x) => Err(self.err(
                    &key(name),
                    format!("expected a factor above zero and at most {max}, found {x}"),
                )),
            }
        };
        o.speed_up = positive("speed_up", raw.speed_up, 1e6)?;
        o.scale = positive("scale", raw.scale, 1000.0)?;
        if raw.bucket.is_some() {
            o.bucket = self.duration(&key("bucket"), raw.bucket.as_ref(), o.bucket)?;
            if o.bucket < SimDuration::from_secs(1) {
                return Err(self.err(&key("bucket"), "expected a bucket of at least 1s"));
            }
        }
        o.request_type = raw.request_type.clone();
        Ok(o)
    }

    fn columns(&self, c: &RawColumns, prefix: &str) -> Result<ColumnMap, ScenarioError> {
        let time_unit = match c.time_unit.as_deref() {
            None | Some("s") => TimeUnit::Seconds,
            Some("ms") => TimeUnit::Millis,
            Some("us") => TimeUnit::Micros,
            Some("ns") => TimeUnit::Nanos,
            Some("datetime") => TimeUnit::DateTime,
            Some(other) => {
                return Err(self.err(
                    &format!("{prefix}.time_unit"),
                    format!("expected s, ms, us, ns or datetime, found `{other}`"),
                ))
            }
        };
        for (name, v) in [
            ("timestamp", &c.timestamp),
            ("prompt_tokens", &c.prompt_tokens),
            ("output_tokens", &c.output_tokens),
            ("tenant", &c.tenant),
            ("model", &c.model),
        ] {
            if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                return Err(self.err(
                    &format!("{prefix}.{name}"),
                    "expected a column name, found an empty string",
                ));
            }
        }
        Ok(ColumnMap {
            timestamp: c
                .timestamp
                .clone()
                .unwrap_or_else(|| "timestamp".to_string()),
            time_unit,
            prompt_tokens: c.prompt_tokens.clone(),
            output_tokens: c.output_tokens.clone(),
            tenant: c.tenant.clone(),
            model: c.model.clone(),
            model_only: false,
        })
    }
}

/// Whether every request of `traffic` gets token counts: from the trace's rows, from the
/// stream's own `tokens`, or from `global` (`[traffic.tokens]`).
pub fn traffic_has_tokens(traffic: &TrafficSpec, global: Option<&TokenSpec>) -> bool {
    let global_ok = global.is_some_and(TokenSpec::complete);
    match traffic {
        TrafficSpec::Trace { format, .. } => format.has_tokens() || global_ok,
        TrafficSpec::Mix { streams } => streams.iter().all(|s| match &s.tokens {
            Some(t) => t.complete() || traffic_has_tokens(&s.traffic, None),
            None => traffic_has_tokens(&s.traffic, global),
        }),
        _ => global_ok,
    }
}

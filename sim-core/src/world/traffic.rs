//! Builds the traffic source a scenario asks for, with its named random streams.

use super::{BuildError, Inputs};
use crate::engine::RngStreams;
use crate::scenario::{TokenSpec, TrafficSpec};
use crate::traffic::formats::RecordsStream;
use crate::traffic::{
    DiurnalArrivals, GammaRenewal, Mix, MixStream, MmppArrivals, PoissonArrivals, Replay,
    TokenSampler, TraceFeed, TrafficSource, WindowedRenewal,
};
use std::sync::Arc;

/// Hands out the inputs' trace feeds in the order the traffic names its traces.
pub(super) struct Feeds {
    feeds: Vec<TraceFeed>,
    legacy: Option<Vec<crate::traffic::TraceRecord>>,
    next: usize,
}

impl Feeds {
    pub(super) fn new(inputs: &mut Inputs) -> Self {
        Feeds {
            feeds: std::mem::take(&mut inputs.feeds),
            legacy: inputs.trace.take(),
            next: 0,
        }
    }

    fn take(&mut self) -> Result<TraceFeed, BuildError> {
        let i = self.next;
        self.next += 1;
        if let Some(f) = self.feeds.get(i) {
            return Ok(f.clone());
        }
        match (i, self.legacy.take()) {
            (0, Some(records)) => Ok(TraceFeed::Records(Arc::new(records))),
            _ => Err(BuildError::MissingTrace),
        }
    }
}

/// The source for `spec`; `prefix` names its random streams (`traffic` or `traffic/stream/N`);
/// `tokens` and `pairs` give a mix's streams their token samplers.
pub(super) fn build(
    spec: &TrafficSpec,
    streams: &RngStreams,
    prefix: &str,
    feeds: &mut Feeds,
    tokens: Option<&TokenSpec>,
    pairs: &[(u32, u32)],
) -> Result<TrafficSource, BuildError> {
    let rng = |name: &str| streams.stream(&format!("{prefix}/{name}"));
    Ok(match spec {
        TrafficSpec::Poisson { rate } => {
            TrafficSource::Poisson(Box::new(PoissonArrivals::constant(*rate, rng("arrivals"))))
        }
        TrafficSpec::Schedule { steps } => TrafficSource::Poisson(Box::new(
            PoissonArrivals::schedule(steps.clone(), rng("arrivals")),
        )),
        TrafficSpec::Spikes { rate, spikes } => {
            TrafficSource::Poisson(Box::new(PoissonArrivals::schedule(
                crate::traffic::spikes::spike_steps(*rate, spikes),
                rng("arrivals"),
            )))
        }
        TrafficSpec::Diurnal(d) => {
            TrafficSource::Diurnal(Box::new(DiurnalArrivals::new(d, rng("arrivals"))))
        }
        TrafficSpec::Mmpp { states } => TrafficSource::Mmpp(Box::new(MmppArrivals::new(
            states,
            rng("arrivals"),
            rng("states"),
        ))),
        TrafficSpec::Gamma { rate, cv } => {
            if *rate == 0.0 {
                TrafficSource::Poisson(Box::new(PoissonArrivals::constant(0.0, rng("arrivals"))))
            } else {
                TrafficSource::Gamma(Box::new(GammaRenewal::new(*rate, *cv, rng("arrivals"))))
            }
        }
        TrafficSpec::Trace { options, .. } => match feeds.take()? {
            TraceFeed::Rates(table) => {
                let o = options;
                let t = table.select(
                    o.start.as_secs_f64(),
                    o.end.map(|e| e.as_secs_f64()),
                    o.speed_up,
                    o.scale,
                );
                TrafficSource::Rates(Box::new(WindowedRenewal::new(t, rng("arrivals"))))
            }
            TraceFeed::Records(r) => TrafficSource::Replay(Box::new(Replay::new(
                Box::new(RecordsStream::new(r)),
                options,
                rng("scale"),
            ))),
            TraceFeed::Stream(open) => TrafficSource::Replay(Box::new(Replay::new(
                open().map_err(BuildError::Trace)?,
                options,
                rng("scale"),
            ))),
        },
        TrafficSpec::Mix { streams: specs } => {
            let mut out = Vec::with_capacity(specs.len());
            for (i, s) in specs.iter().enumerate() {
                let p = format!("traffic/stream/{i}");
                let source = build(&s.traffic, streams, &p, feeds, None, &[])?;
                let t = s.tokens.as_ref().or(tokens);
                let sampler = t.map(|t| {
                    let pairs = if t.sample.is_some() {
                        pairs.to_vec()
                    } else {
                        Vec::new()
                    };
                    TokenSampler::new(t, pairs, streams.stream(&format!("{p}/tokens")))
                });
                out.push(MixStream::new(s.name.clone(), source, sampler));
            }
            TrafficSource::Mix(Box::new(Mix::new(out)))
        }
    })
}

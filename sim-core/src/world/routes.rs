//! The model-aware gateway: the top-level traffic of a `[[service]]` scenario, each request sent
//! to the service its model's `[[route]]` names (`scenario/routes.rs`), or dropped as
//! `unknown_model` when none does.

use super::{Event, World};
use crate::engine::{RngStreams, SimTime};
use crate::ids::ServiceId;
use crate::metrics::RequestSink;
use crate::scenario::{Gateway, TrafficSpec};
use crate::serving::{DropReason, Request, RequestId};
use crate::traffic::{Arrival, TokenSampler, TrafficSource};

/// The gateway's traffic and what it has learned of the models its requests name.
#[derive(Debug)]
pub(super) struct ModelGateway {
    spec: Gateway,
    source: TrafficSource,
    tokens: Option<TokenSampler>,
    pending: Option<Arrival>,
    /// The model name of each label index (a mix's streams; a trace's model column, learned
    /// as labels appear).
    models: Vec<Option<String>>,
    /// The service and adapter (0: the base model) each label index routes to (`None`:
    /// unknown model), for `models`.
    routes: Vec<Option<(ServiceId, u16)>>,
    /// Requests dropped for each unknown model, in order first seen.
    pub(super) unknown: Vec<(String, u64)>,
}

impl ModelGateway {
    /// The gateway of `spec`, drawing its arrivals from `source`.
    pub(super) fn new(spec: &Gateway, source: TrafficSource, streams: &RngStreams) -> Self {
        let view = &spec.view;
        let mix = matches!(view.traffic, TrafficSpec::Mix { .. });
        let models = match &view.traffic {
            TrafficSpec::Mix { streams } => streams
                .iter()
                .map(|s| Some(s.model.clone().unwrap_or_else(|| s.name.clone())))
                .collect(),
            _ => Vec::new(),
        };
        let mut g = ModelGateway {
            spec: spec.clone(),
            source,
            tokens: match &view.tokens {
                Some(t) if !mix => Some(TokenSampler::new(
                    t,
                    Vec::new(),
                    streams.stream("gateway/traffic/tokens"),
                )),
                _ => None,
            },
            pending: None,
            models,
            routes: Vec::new(),
            unknown: Vec::new(),
        };
        g.routes = g.models.iter().map(|m| g.resolve(m.as_deref())).collect();
        g
    }

    fn resolve(&self, model: Option<&str>) -> Option<(ServiceId, u16)> {
        self.spec
            .resolve(model)
            .map(|(i, a)| (ServiceId(i as u32), a))
    }

    /// The service and adapter requests of label `label` go to; learns a trace's new labels.
    fn route(&mut self, label: u16) -> Result<(ServiceId, u16), String> {
        let i = usize::from(label);
        if i >= self.routes.len() {
            let labels = self.source.labels();
            while self.routes.len() <= i {
                let m = labels.get(self.routes.len()).cloned();
                self.routes.push(self.resolve(m.as_deref()));
                self.models.push(m);
            }
        }
        self.routes[i].ok_or_else(|| {
            self.models[i]
                .clone()
                .unwrap_or_else(|| "(none)".to_string())
        })
    }

    /// The errors that ended the gateway's trace early.
    pub(super) fn errors(&self) -> Vec<String> {
        self.source.errors()
    }
}

impl World {
    pub(super) fn schedule_next_gateway_arrival(&mut self, after: SimTime) {
        let Some(g) = self.routes.as_mut() else {
            return;
        };
        g.pending = g.source.next_arrival(after);
        if let Some(a) = g.pending {
            if a.time < self.horizon {
                self.queue.push(a.time, Event::GatewayArrival);
            }
        }
    }

    /// A request at the gateway: routed by its model to a service, or dropped.
    pub(super) fn on_gateway_arrival<S: RequestSink>(&mut self, sink: &mut S) {
        let g = self
            .routes
            .as_mut()
            .expect("a gateway arrival has a gateway");
        let a = g
            .pending
            .take()
            .expect("a gateway arrival event has a pending arrival");
        let target = g.route(a.tenant);
        let mut request = Request {
            id: RequestId(self.next_id),
            arrival: self.now,
            prompt_tokens: a.prompt_tokens,
            output_tokens: a.output_tokens,
            prefix: a.prefix,
            tenant: a.tenant,
            service: target.as_ref().map_or(u16::MAX, |s| s.0 .0 as u16),
            adapter: target.as_ref().map_or(0, |s| s.1),
        };
        if let Some(t) = &mut g.tokens {
            t.apply(&mut request.prompt_tokens, &mut request.output_tokens);
        }
        self.next_id += 1;
        match target {
            Ok((svc, _)) => self.arrive(svc, request, sink),
            Err(model) => {
                match g.unknown.iter_mut().find(|(m, _)| *m == model) {
                    Some((_, n)) => *n += 1,
                    None => g.unknown.push((model, 1)),
                }
                self.recorder.on_arrival(&request);
                self.record_drop(&request, DropReason::UnknownModel, sink);
            }
        }
        self.schedule_next_gateway_arrival(a.time);
    }
}

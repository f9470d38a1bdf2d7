//! The VPA in the world (placeholder while being built).

use super::{Event, World};
use crate::engine::SimTime;
use crate::ids::PodId;
use crate::metrics::RequestSink;
use crate::results::VpaOutcome;

/// The VPA's state.
#[derive(Debug)]
pub(super) struct Vpa;

impl Vpa {
    pub(super) fn first_events(&self) -> Vec<(SimTime, Event)> {
        Vec::new()
    }
    pub(super) fn outcome(&self, _k: &super::kube::Kube) -> VpaOutcome {
        unreachable!()
    }
}

impl World {
    pub(super) fn vpa_admit(&mut self, _pod: PodId) {}
    pub(super) fn on_vpa_recommend(&mut self) {}
    pub(super) fn on_vpa_update<S: RequestSink>(&mut self, _sink: &mut S) {}
}

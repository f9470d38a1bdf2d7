//! Triton-style dynamic batching: a FCFS queue feeding one or more model instances.
//!
//! The rules follow Triton's `batcher.md`: with the dynamic batcher off, each request runs alone;
//! with it on, a free instance takes `max_batch_size` requests when that many wait, else the largest
//! preferred size that can be formed, else waits until the oldest request has waited
//! `max_queue_delay_microseconds` and then takes everything waiting (up to the maximum).

use super::engine::ReplicaEngine;
use super::request::{Completion, DropReason, Request};
use super::service_time::ServiceTime;
use crate::engine::{Rng, SimDuration, SimTime};
use crate::scenario::BatchPolicy;
use std::collections::VecDeque;

#[derive(Clone, Debug)]
struct Instance {
    /// When the executing batch ends; `None` when idle.
    busy_until: Option<SimTime>,
    started: SimTime,
    batch: Vec<Request>,
}

/// What a free instance should do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchDecision {
    /// Take this many requests from the head of the queue.
    Send(u32),
    /// Wait for more requests, at most until this time.
    WaitUntil(SimTime),
    /// Nothing is queued.
    Idle,
}

/// Triton's dynamic-batching rule for a free instance, given the queue length and the oldest arrival.
pub fn decide(
    policy: &BatchPolicy,
    now: SimTime,
    queued: u32,
    oldest: Option<SimTime>,
) -> BatchDecision {
    let Some(oldest) = oldest.filter(|_| queued > 0) else {
        return BatchDecision::Idle;
    };
    if !policy.dynamic {
        return BatchDecision::Send(1);
    }
    let max = policy.max_batch_size;
    if queued >= max {
        return BatchDecision::Send(max);
    }
    if let Some(&p) = policy
        .preferred_batch_size
        .iter()
        .rev()
        .find(|&&p| p <= queued)
    {
        return BatchDecision::Send(p);
    }
    let deadline = oldest + policy.max_queue_delay;
    if now >= deadline {
        BatchDecision::Send(queued)
    } else {
        BatchDecision::WaitUntil(deadline)
    }
}

/// A Triton model with `instances` execution instances sharing one queue.
#[derive(Clone, Debug)]
pub struct TritonEngine {
    policy: BatchPolicy,
    max_queue_size: Option<u32>,
    queue: VecDeque<Request>,
    instances: Vec<Instance>,
    busy: u32,
    in_service: u32,
    service_time: ServiceTime,
    rng: Rng,
    first_replica: u32,
    batches: u64,
    items: u64,
    /// Share of the GPU's time (1 alone).
    share: f64,
}

impl TritonEngine {
    /// An engine with `instances` instances; completions name replicas `first_replica + i`.
    pub fn new(
        policy: BatchPolicy,
        max_queue_size: Option<u32>,
        instances: u32,
        service_time: ServiceTime,
        rng: Rng,
        first_replica: u32,
    ) -> Self {
        // Reserved for a typical batch only: the size comes from the input.
        let cap = policy.max_batch_size.min(1024) as usize;
        TritonEngine {
            policy,
            max_queue_size,
            queue: VecDeque::with_capacity(64),
            instances: (0..instances)
                .map(|_| Instance {
                    busy_until: None,
                    started: SimTime::ZERO,
                    batch: Vec::with_capacity(cap),
                })
                .collect(),
            busy: 0,
            in_service: 0,
            service_time,
            rng,
            first_replica,
            batches: 0,
            items: 0,
            share: 1.0,
        }
    }
}

impl ReplicaEngine for TritonEngine {
    #[inline]
    fn admit(&mut self, _now: SimTime, request: Request) -> Result<(), DropReason> {
        if self
            .max_queue_size
            .is_some_and(|m| self.queue.len() as u32 >= m)
        {
            return Err(DropReason::QueueFull);
        }
        self.queue.push_back(request);
        Ok(())
    }

    fn advance(&mut self, now: SimTime, done: &mut Vec<Completion>) -> Option<SimTime> {
        let mut next: Option<SimTime> = None;
        for (i, inst) in self.instances.iter_mut().enumerate() {
            if let Some(end) = inst.busy_until {
                if end <= now {
                    let size = inst.batch.len() as u32;
                    for r in inst.batch.drain(..) {
                        done.push(Completion {
                            request: r,
                            start: inst.started,
                            first_token: end,
                            finish: end,
                            batch_size: size,
                            replica: self.first_replica + i as u32,
                        });
                    }
                    inst.busy_until = None;
                    self.busy -= 1;
                    self.in_service -= size;
                }
            }
        }
        while self.busy < self.instances.len() as u32 {
            let decision = decide(
                &self.policy,
                now,
                self.queue.len() as u32,
                self.queue.front().map(|r| r.arrival),
            );
            match decision {
                BatchDecision::Idle => break,
                BatchDecision::WaitUntil(t) => {
                    next = Some(t);
                    break;
                }
                BatchDecision::Send(n) => {
                    let inst = self
                        .instances
                        .iter_mut()
                        .find(|s| s.busy_until.is_none())
                        .expect("a free instance exists while busy < instances");
                    inst.batch.extend(self.queue.drain(..n as usize));
                    let mut took = self.service_time.sample(n, &mut self.rng);
                    if self.share < 1.0 {
                        took = SimDuration((took.0 as f64 / self.share).round() as u64);
                    }
                    let end = now + took;
                    inst.busy_until = Some(end);
                    inst.started = now;
                    self.busy += 1;
                    self.in_service += n;
                    self.batches += 1;
                    self.items += n as u64;
                }
            }
        }
        for inst in &self.instances {
            if let Some(end) = inst.busy_until {
                next = Some(next.map_or(end, |t| t.min(end)));
            }
        }
        next
    }

    #[inline]
    fn queued(&self) -> u32 {
        self.queue.len() as u32
    }
    #[inline]
    fn in_service(&self) -> u32 {
        self.in_service
    }
    #[inline]
    fn busy_units(&self) -> u32 {
        self.busy
    }
    #[inline]
    fn units(&self) -> u32 {
        self.instances.len() as u32
    }
    fn batch_counts(&self) -> (u64, u64) {
        (self.batches, self.items)
    }

    fn set_time_share(&mut self, now: SimTime, share: f64) {
        let share = share.clamp(1e-6, 1.0);
        let stretch = self.share / share;
        self.share = share;
        for inst in &mut self.instances {
            if let Some(end) = inst.busy_until.as_mut() {
                *end = now + super::engine::stretch(end.since(now), stretch);
            }
        }
    }

    fn abort(&mut self, out: &mut Vec<Request>) {
        for inst in &mut self.instances {
            out.append(&mut inst.batch);
            inst.busy_until = None;
        }
        out.extend(self.queue.drain(..));
        self.busy = 0;
        self.in_service = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RngStreams, SimDuration};
    use crate::scenario::{Distribution, ServiceTimeSpec};

    fn policy(max: u32, preferred: &[u32], delay_us: u64) -> BatchPolicy {
        BatchPolicy {
            max_batch_size: max,
            dynamic: true,
            preferred_batch_size: preferred.to_vec(),
            max_queue_delay: SimDuration::from_micros(delay_us),
        }
    }

    const T0: SimTime = SimTime(1_000_000);

    #[test]
    fn full_batch_goes_at_once() {
        let p = policy(8, &[], 1_000);
        assert_eq!(decide(&p, T0, 8, Some(T0)), BatchDecision::Send(8));
        assert_eq!(decide(&p, T0, 20, Some(T0)), BatchDecision::Send(8));
    }

    #[test]
    fn waits_for_the_delay_then_sends_what_it_has() {
        let p = policy(8, &[], 100);
        let deadline = T0 + SimDuration::from_micros(100);
        assert_eq!(
            decide(&p, T0, 3, Some(T0)),
            BatchDecision::WaitUntil(deadline)
        );
        assert_eq!(decide(&p, deadline, 3, Some(T0)), BatchDecision::Send(3));
    }

    #[test]
    fn no_delay_sends_immediately() {
        let p = policy(8, &[], 0);
        assert_eq!(decide(&p, T0, 3, Some(T0)), BatchDecision::Send(3));
    }

    #[test]
    fn largest_preferred_size_that_can_be_formed() {
        let p = policy(16, &[4, 8], 1_000);
        assert_eq!(
            decide(&p, T0, 3, Some(T0)),
            BatchDecision::WaitUntil(T0 + SimDuration::from_micros(1_000))
        );
        assert_eq!(decide(&p, T0, 5, Some(T0)), BatchDecision::Send(4));
        assert_eq!(decide(&p, T0, 10, Some(T0)), BatchDecision::Send(8));
        assert_eq!(decide(&p, T0, 17, Some(T0)), BatchDecision::Send(16));
    }

    #[test]
    fn batching_off_runs_one_at_a_time() {
        let p = BatchPolicy {
            dynamic: false,
            ..policy(8, &[], 0)
        };
        assert_eq!(decide(&p, T0, 5, Some(T0)), BatchDecision::Send(1));
        assert_eq!(decide(&p, T0, 0, None), BatchDecision::Idle);
    }

    fn req(id: u64, t: SimTime) -> Request {
        Request {
            id: crate::serving::RequestId(id),
            arrival: t,
            prompt_tokens: 0,
            output_tokens: 0,
            prefix: crate::serving::Prefix::NONE,
            tenant: 0,
            service: 0,
            adapter: 0,
        }
    }

    #[test]
    fn engine_timeline_with_delay_and_two_instances() {
        // Deterministic 10 ms + 1 ms per item; max 4, delay 2 ms, two instances.
        let st = ServiceTime::new(&ServiceTimeSpec {
            distribution: Distribution::Deterministic,
            base: SimDuration::from_millis(10),
            per_item: SimDuration::from_millis(1),
            curve: Vec::new().into(),
        });
        let mut e = TritonEngine::new(
            policy(4, &[], 2_000),
            None,
            2,
            st,
            RngStreams::new(1).stream("x"),
            0,
        );
        let ms = |m: u64| SimTime(m * 1_000_000);
        let mut done = Vec::new();
        e.admit(ms(0), req(0, ms(0))).unwrap();
        // One request: waits for the delay.
        assert_eq!(e.advance(ms(0), &mut done), Some(ms(2)));
        for i in 1..=4 {
            e.admit(ms(1), req(i, ms(1))).unwrap();
        }
        // Five queued: a full batch of 4 starts at once on instance 0; the fifth waits on instance 1
        // until request 4's delay runs out (it arrived at 1 ms).
        assert_eq!(e.advance(ms(1), &mut done), Some(ms(3)));
        assert_eq!((e.busy_units(), e.queued(), e.in_service()), (1, 1, 4));
        // At 3 ms the lone request goes; instance 0 ends at 1 + 14 = 15, instance 1 at 3 + 11 = 14.
        assert_eq!(e.advance(ms(3), &mut done), Some(ms(14)));
        assert_eq!(e.advance(ms(14), &mut done), Some(ms(15)));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].request.id.0, 4);
        assert_eq!(
            (done[0].start, done[0].finish, done[0].replica),
            (ms(3), ms(14), 1)
        );
        assert_eq!(e.advance(ms(15), &mut done), None);
        assert_eq!(done.len(), 5);
        assert!(done[1..]
            .iter()
            .all(|c| c.batch_size == 4 && c.finish == ms(15) && c.start == ms(1)));
        assert_eq!(e.batch_counts(), (2, 5));
    }

    #[test]
    fn bounded_queue_refuses() {
        let st = ServiceTime::new(&ServiceTimeSpec {
            distribution: Distribution::Deterministic,
            base: SimDuration::from_millis(10),
            per_item: SimDuration::ZERO,
            curve: Vec::new().into(),
        });
        let mut e = TritonEngine::new(
            policy(1, &[], 0),
            Some(2),
            1,
            st,
            RngStreams::new(1).stream("x"),
            0,
        );
        assert!(e.admit(T0, req(0, T0)).is_ok());
        assert!(e.admit(T0, req(1, T0)).is_ok());
        assert_eq!(e.admit(T0, req(2, T0)), Err(DropReason::QueueFull));
    }
}

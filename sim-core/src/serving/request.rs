//! Requests and what happens to them.

use super::prefix::Prefix;
use crate::engine::SimTime;

/// A request's identity: its arrival order, from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// A request in the system. Small and `Copy`: queues hold these by value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Arrival order.
    pub id: RequestId,
    /// When it arrived.
    pub arrival: SimTime,
    /// Prompt tokens (0 when unknown).
    pub prompt_tokens: u32,
    /// Output tokens (0 when unknown).
    pub output_tokens: u32,
    /// Hash ids of its prompt's leading blocks, for prefix caching (empty when unknown).
    pub prefix: Prefix,
    /// Its tenant's label index (a mix's stream, a trace's label; 0 without labels).
    pub tenant: u16,
    /// The service it was sent to (its index in the scenario; 0 with one service).
    pub service: u16,
    /// The LoRA adapter it names: 0 for the base model, `k` for the service's adapter `k − 1`.
    pub adapter: u16,
}

/// A request that finished service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The request.
    pub request: Request,
    /// When its batch started executing.
    pub start: SimTime,
    /// When its first output token was produced (for engines without tokens, `finish`).
    pub first_token: SimTime,
    /// When it finished.
    pub finish: SimTime,
    /// Size of the batch it ran in.
    pub batch_size: u32,
    /// Index of the replica that served it.
    pub replica: u32,
}

impl Completion {
    /// Time to first token and, with at least two output tokens, time per output token after
    /// the first, in nanoseconds.
    #[inline]
    pub fn token_times(&self) -> (u64, Option<u64>) {
        Self::token_times_of(&self.request, self.first_token, self.finish)
    }

    /// [`Completion::token_times`] of `request` whose first token came at `first_token` and
    /// whose last at `finish`.
    #[inline]
    pub fn token_times_of(
        request: &Request,
        first_token: SimTime,
        finish: SimTime,
    ) -> (u64, Option<u64>) {
        let ttft = first_token.since(request.arrival).0;
        let out = request.output_tokens.max(1) as u64;
        let tpot = (out > 1).then(|| finish.since(first_token).0 / (out - 1));
        (ttft, tpot)
    }
}

/// Why a request was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// The queue it was sent to was at `max_queue_size`.
    QueueFull,
    /// No replica was Ready to take it (a Service with no endpoints refuses the connection).
    NoReadyReplica,
    /// Its pod was terminated and the grace period ran out before it finished.
    PodTerminated,
    /// Its prompt and output need more KV cache than the replica has (vLLM refuses such requests).
    ExceedsKvCache,
    /// Its pod failed under it (node down, GPU fault, spot termination) or was sent to a pod
    /// that had failed but was still in the Service's endpoints.
    PodFailed,
    /// The client's timeout ran out (and no retry was left).
    ClientTimeout,
    /// Its tenant's request rate limit at the gateway had no token left (HTTP 429).
    RateLimited,
    /// Its tenant's tokens-per-minute limit at the gateway had too few tokens left (HTTP 429).
    TokenLimited,
    /// The model-aware gateway has no route for the model it names (HTTP 404).
    UnknownModel,
}

impl DropReason {
    /// Every reason, in output order.
    pub const ALL: [DropReason; 9] = [
        DropReason::QueueFull,
        DropReason::NoReadyReplica,
        DropReason::PodTerminated,
        DropReason::ExceedsKvCache,
        DropReason::PodFailed,
        DropReason::ClientTimeout,
        DropReason::RateLimited,
        DropReason::TokenLimited,
        DropReason::UnknownModel,
    ];

    /// Whether the gateway refused it for its tenant's rate limits (it never reached a replica).
    pub fn is_rate_limit(self) -> bool {
        matches!(self, DropReason::RateLimited | DropReason::TokenLimited)
    }

    /// The name used in outputs.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::NoReadyReplica => "no_ready_replica",
            DropReason::PodTerminated => "pod_terminated",
            DropReason::ExceedsKvCache => "exceeds_kv_cache",
            DropReason::PodFailed => "pod_failed",
            DropReason::ClientTimeout => "client_timeout",
            DropReason::RateLimited => "rate_limited",
            DropReason::TokenLimited => "token_limited",
            DropReason::UnknownModel => "unknown_model",
        }
    }
}

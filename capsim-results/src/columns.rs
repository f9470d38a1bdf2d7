//! The column list of every CSV a run writes, in file order. Writers emit these headers and
//! readers look columns up by these names. (`sweep.csv`'s header depends on the sweep file's
//! parameters, and `rollout.csv`'s on the number of versions: see [`ROLLOUT_PREFIX`].)

/// `timeseries.csv`: one row per sample interval.
pub const TIMESERIES: [&str; 24] = [
    "time_s",
    "arrivals_per_s",
    "completions_per_s",
    "drops_per_s",
    "queue_length",
    "in_flight",
    "desired_replicas",
    "ready_replicas",
    "busy_replicas_mean",
    "replica_util_ratio",
    "latency_mean_s",
    "latency_p50_s",
    "latency_p99_s",
    "slo_attainment_ratio",
    "nodes",
    "nodes_ready",
    "pods_pending",
    "cpu_alloc_ratio",
    "gpu_alloc_ratio",
    "cost_usd_per_hour",
    "cost_usd",
    "ttft_p99_s",
    "tpot_p99_s",
    "token_slo_attainment_ratio",
];

/// The columns of `services.csv`: each service's own series, one row per service per interval.
pub const SERVICES: [&str; 19] = [
    "time_s",
    "service",
    "arrivals_per_s",
    "completions_per_s",
    "drops_per_s",
    "queue_length",
    "in_flight",
    "desired_replicas",
    "ready_replicas",
    "busy_replicas_mean",
    "replica_util_ratio",
    "latency_mean_s",
    "latency_p50_s",
    "latency_p99_s",
    "slo_attainment_ratio",
    "ttft_p99_s",
    "tpot_p99_s",
    "gpus",
    "cost_usd_per_hour",
];

/// `comparison.csv`: one row per `[[policy]]` variant.
pub const COMPARISON: &str = "policy,completed,dropped,latency_p50_s,latency_p90_s,latency_p99_s,\
ttft_p99_s,tpot_p99_s,slo_attainment_ratio,token_slo_attainment_ratio,replica_hours,node_hours,\
gpu_hours,cost_usd,cost_usd_per_hour,cost_usd_per_million_requests,gpu_oom_kills";

/// `requests.csv` (`capsim run --requests`): one row per finished request.
pub const REQUESTS: &str = "id,arrival_s,outcome,start_s,finish_s,latency_s,queue_wait_s,\
batch_size,replica,drop_reason,prompt_tokens,output_tokens,service,ttft_s,tpot_s";

/// `tenants.csv`: one row per tenant.
pub const TENANTS: &str = "tenant,weight,arrived,admitted,rejected_rate_limited,\
rejected_token_limited,rejected_attempts,completed,dropped,in_flight,demand_rps,throughput_rps,\
fair_share_rps,latency_p50_s,latency_p95_s,latency_p99_s,ttft_p99_s,tpot_p99_s,\
slo_attainment_ratio";

/// `incidents.csv`: one row per failure or response.
pub const INCIDENTS: &str = "time_s,kind,detail";

/// `inputs.csv`: one row per input file, with its size and 64-bit FNV-1a hash.
pub const INPUTS: &str = "role,path,bytes,fnv1a64";

/// `rollout.csv`'s first columns; `ready_v0`, `ready_v1`, … follow, one per model version.
pub const ROLLOUT_PREFIX: &str = "time_s,desired";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_plain_comma_separated_names() {
        let lists = [
            TIMESERIES.join(","),
            SERVICES.join(","),
            COMPARISON.into(),
            REQUESTS.into(),
            TENANTS.into(),
            INCIDENTS.into(),
            INPUTS.into(),
            ROLLOUT_PREFIX.into(),
        ];
        for l in lists {
            let names: Vec<&str> = l.split(',').collect();
            for n in &names {
                assert!(
                    !n.is_empty()
                        && n.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "bad column name {n:?} in {l}"
                );
            }
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), names.len(), "duplicate column in {l}");
        }
    }
}

//! Batch jobs beside serving, on a hand-checked timeline. One p5.48xlarge (8 GPUs); the service
//! runs 2 one-GPU pods and is scaled to 6 at 10 minutes and back to 2 at 40. Three batch jobs of
//! two one-GPU pods (30 minutes of work, a checkpoint every 4 minutes) fill the 6 idle GPUs at 0.
//!
//! At 600 s serving pod 3 fits nowhere. DefaultPreemption removes all six batch pods (priority
//! 100 < 1000), then reprieves them most important first (equal priority and start: in order)
//! while one GPU stays free: five stay, job 2's second pod is the victim and job 2 is evicted
//! (both its pods). Pod 4 counts job 2's terminating pods as leaving and pod 3's nomination as
//! coming: one GPU is left, so it is nominated without victims. Pod 5 finds no room left: job 1's
//! second pod is the victim. Pod 6 then fits in what job 1 leaves. After the 30 s grace period
//! the four GPUs are free and pods 3 to 6 bind. Jobs 1 and 2 ran 600 s and kept 480 s (two
//! 4-minute checkpoints): 2 jobs × 2 GPUs × 120 s = 480 GPU-seconds lost. Job 0 finishes at
//! 1800 s; jobs 1 and 2 run again once serving scales down at 40 minutes and finish.

use sim_core::results::{BatchOutcome, RunResult};
use sim_core::{parse_scenario, Inputs};

const SCENARIO: &str = r#"
[simulation]
horizon = "100m"
sample_interval = "10s"
[[node_pool]]
name = "h100"
instance_type = "p5.48xlarge"
initial_size = 1
[[priority_class]]
name = "serving"
value = 1000
[[priority_class]]
name = "batch"
value = 100
preemption_policy = "Never"
[[namespace]]
name = "research"
quota = { "requests.nvidia.com/gpu" = 8 }
[service]
replicas = 2
dispatch = "router"
priority_class = "serving"
scale = [{ at = "10m", replicas = 6 }, { at = "40m", replicas = 2 }]
[service.resources]
requests = { cpu = "4", memory = "32Gi", "nvidia.com/gpu" = 1 }
[service.service_time]
distribution = "deterministic"
base = "20ms"
[traffic]
kind = "poisson"
rate = 20.0
[[batch.queue]]
name = "research"
[[batch.queue.flavor]]
pool = "h100"
nominal_quota = { "nvidia.com/gpu" = 8, cpu = 64, memory = "1Ti" }
[[batch.job]]
name = "train"
queue = "research"
namespace = "research"
priority_class = "batch"
count = 3
parallelism = 2
requests = { "nvidia.com/gpu" = 1, cpu = "8", memory = "64Gi" }
duration = "30m"
checkpoint_interval = "4m"
"#;

fn run(src: &str) -> RunResult {
    let s = parse_scenario(src, "batch.toml").unwrap();
    sim_core::run(&s, Inputs::default()).unwrap()
}

fn batch(r: &RunResult) -> BatchOutcome {
    r.summary.cluster.as_ref().unwrap().batch.clone().unwrap()
}

/// Every submitted job is completed, running, waiting for placement or queued: none vanishes.
fn accounted(b: &BatchOutcome) {
    assert_eq!(
        b.jobs_submitted,
        b.jobs_completed
            + b.jobs_running_at_horizon
            + b.jobs_admitted_waiting_at_horizon
            + b.jobs_queued_at_horizon
    );
    assert_eq!(
        b.admissions,
        b.jobs_submitted + b.requeues - b.jobs_queued_at_horizon
    );
}

#[test]
fn serving_scale_up_preempts_batch_and_every_job_finishes() {
    let r = run(SCENARIO);
    let c = r.summary.cluster.as_ref().unwrap();
    let p = c.preemption.as_ref().unwrap();
    assert_eq!(p.preemptions, 2);
    assert_eq!(p.victims, 2);
    assert_eq!(p.victims_by_priority.get("100"), Some(&2));
    let b = batch(&r);
    accounted(&b);
    assert_eq!(b.jobs_submitted, 3);
    assert_eq!(b.jobs_completed, 3);
    assert_eq!(b.jobs_preempted, 2);
    assert_eq!(b.requeues, 2);
    assert!(
        (b.gpu_hours_lost - 480.0 / 3600.0).abs() < 1e-9,
        "{}",
        b.gpu_hours_lost
    );
    assert!((b.gpu_hours_useful - 3.0 * 2.0 * 0.5).abs() < 1e-9);
    assert_eq!(r.overcommits, 0);
    // Serving's six pods are all Ready 30 s (the victims' grace) after the scale-up, plus
    // their start-up; the wait stays well under a minute.
    let ready_at = r
        .series
        .iter()
        .find(|row| row.time_s >= 600.0 && row.ready_replicas == 6)
        .map(|row| row.time_s)
        .expect("six ready replicas");
    assert!(ready_at <= 660.0, "six ready at {ready_at}");
}

#[test]
fn without_batch_no_preemption_and_more_idle_gpus() {
    let cut = SCENARIO.find("[[batch.queue]]").unwrap();
    let plain = run(&SCENARIO[..cut]);
    let with = run(SCENARIO);
    let c0 = plain.summary.cluster.as_ref().unwrap();
    let c1 = with.summary.cluster.as_ref().unwrap();
    assert!(c0.batch.is_none() && c0.preemption.is_none());
    assert!(c1.idle_gpu_hours < c0.idle_gpu_hours - 2.0);
}

#[test]
fn a_namespace_quota_refuses_pods_and_the_deployment_stays_short() {
    let src = SCENARIO.replace(
        "[[namespace]]\nname = \"research\"",
        "[[namespace]]\nname = \"serving\"\nquota = { \"requests.nvidia.com/gpu\" = 4, \"requests.cpu\" = 64 }\n[[namespace]]\nname = \"research\"",
    )
    .replace("priority_class = \"serving\"\n", "priority_class = \"serving\"\nnamespace = \"serving\"\n");
    let r = run(&src);
    let c = r.summary.cluster.as_ref().unwrap();
    let q = c.quotas.iter().find(|q| q.namespace == "serving").unwrap();
    assert!(q.refusals > 0);
    assert_eq!(q.peak_used.get("nvidia.com/gpu"), Some(&4.0));
    assert!(q
        .first_refusal
        .as_deref()
        .unwrap()
        .starts_with("exceeded quota: serving"));
    assert!(r.series.iter().all(|row| row.ready_replicas <= 4));
    accounted(&batch(&r));
}

mod property {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
        /// Whatever the jobs and the scaling, no namespace's usage ever exceeds its quota and
        /// every job is accounted for.
        #[test]
        fn quota_is_never_exceeded_and_no_job_vanishes(
            gpu_quota in 1u32..9,
            serving_quota in 2u32..8,
            parallelism in 1u32..4,
            count in 1u32..6,
            peak in 2u32..9,
            grace in 0u32..60,
        ) {
            let src = SCENARIO
                .replace("quota = { \"requests.nvidia.com/gpu\" = 8 }",
                    &format!("quota = {{ \"requests.nvidia.com/gpu\" = {gpu_quota} }}\n[[namespace]]\nname = \"serving\"\nquota = {{ \"requests.nvidia.com/gpu\" = {serving_quota}, pods = {serving_quota} }}"))
                .replace("priority_class = \"serving\"\n", "priority_class = \"serving\"\nnamespace = \"serving\"\n")
                .replace("replicas = 6", &format!("replicas = {peak}"))
                .replace("parallelism = 2", &format!("parallelism = {parallelism}"))
                .replace("count = 3", &format!("count = {count}\ninterval = \"7m\"\ntermination_grace = \"{grace}s\""))
                .replace("horizon = \"100m\"", "horizon = \"60m\"");
            let r = run(&src);
            let c = r.summary.cluster.as_ref().unwrap();
            for q in &c.quotas {
                for (res, hard) in &q.hard {
                    prop_assert!(q.peak_used.get(res).copied().unwrap_or(0.0) <= *hard);
                }
            }
            prop_assert_eq!(r.overcommits, 0);
            let b = batch(&r);
            accounted(&b);
        }
    }
}

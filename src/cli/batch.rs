//! The printed summary's lines for quotas, preemptions and batch jobs.

use sim_core::results::ClusterSummary;
use std::fmt::Write as _;

/// Appends `quota`, `preemption` and `batch` lines for what the run had.
pub fn render(t: &mut String, c: &ClusterSummary) {
    for q in &c.quotas {
        let used: Vec<String> = q
            .hard
            .iter()
            .map(|(r, h)| format!("{r} {}/{h}", q.peak_used.get(r).copied().unwrap_or(0.0)))
            .collect();
        let _ = writeln!(
            t,
            "quota        {}: peak {}  refused {}{}",
            q.namespace,
            used.join(", "),
            q.refusals,
            q.first_refusal
                .as_ref()
                .map_or(String::new(), |r| format!("  ({r})"))
        );
    }
    if let Some(p) = &c.preemption {
        let by: Vec<String> = p
            .victims_by_priority
            .iter()
            .map(|(k, v)| format!("{v} at priority {k}"))
            .collect();
        let _ = writeln!(
            t,
            "preemption   {} preemptions  {} victims{}",
            p.preemptions,
            p.victims,
            if by.is_empty() {
                String::new()
            } else {
                format!(" ({})", by.join(", "))
            }
        );
    }
    if let Some(b) = &c.batch {
        let _ = writeln!(
            t,
            "batch        jobs submitted {}  admitted {}  completed {}  preempted {}  requeued {}  running at horizon {}  waiting {}",
            b.jobs_submitted,
            b.admissions,
            b.jobs_completed,
            b.jobs_preempted,
            b.requeues,
            b.jobs_running_at_horizon,
            b.jobs_admitted_waiting_at_horizon + b.jobs_queued_at_horizon
        );
        let _ = writeln!(
            t,
            "batch GPUs   held {:.2} GPU-h  useful {:.2}  lost to preemption {:.2}  unfinished {:.2}  wait mean {}  p90 {}",
            b.gpu_hours_held,
            b.gpu_hours_useful,
            b.gpu_hours_lost,
            b.gpu_hours_unfinished,
            b.wait_s.mean.map_or("-".into(), |s| format!("{s:.0} s")),
            b.wait_s.p90.map_or("-".into(), |s| format!("{s:.0} s")),
        );
    }
}

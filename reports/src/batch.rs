//! The report's section on quotas, preemptions and batch jobs (from `summary.json`'s
//! `cluster.quotas`, `cluster.preemption` and `cluster.batch`).

use crate::fmt::{duration, fixed, NONE};
use crate::html::{kv, table};
use crate::model::ClusterSummary;

/// Appends the section when the run had quotas or batch work.
pub fn section(o: &mut String, c: &ClusterSummary) {
    if c.quotas.is_empty() && c.batch.is_none() {
        return;
    }
    o.push_str("<h2 id=\"batch\">Quotas, preemption and batch jobs</h2>\n");
    if !c.quotas.is_empty() {
        let rows: Vec<Vec<String>> = c
            .quotas
            .iter()
            .map(|q| {
                let limits: Vec<String> = q
                    .hard
                    .iter()
                    .map(|(r, h)| {
                        let used = q.peak_used.get(r).copied().unwrap_or(0.0);
                        format!("{r} {}/{}", fixed(used, 0), fixed(*h, 0))
                    })
                    .collect();
                vec![
                    q.namespace.clone(),
                    limits.join(", "),
                    q.first_refusal.clone().unwrap_or_else(|| NONE.to_string()),
                    q.refusals.to_string(),
                ]
            })
            .collect();
        table(
            o,
            &[
                "namespace",
                "peak use / hard limit",
                "first refusal",
                "refused pods",
            ],
            &rows,
            3,
        );
    }
    let mut rows = Vec::new();
    if let Some(p) = &c.preemption {
        let by: Vec<String> = p
            .victims_by_priority
            .iter()
            .map(|(k, v)| format!("{v} at priority {k}"))
            .collect();
        kv(
            &mut rows,
            "preemptions",
            format!(
                "{} preemptions · {} victims{}",
                p.preemptions,
                p.victims,
                if by.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", by.join(", "))
                }
            ),
        );
    }
    if let Some(b) = &c.batch {
        kv(
            &mut rows,
            "batch jobs",
            format!(
                "{} submitted · {} admissions · {} completed · {} preempted ({} requeues) · {} running, {} waiting at the horizon",
                b.jobs_submitted,
                b.admissions,
                b.jobs_completed,
                b.jobs_preempted,
                b.requeues,
                b.jobs_running_at_horizon,
                b.jobs_admitted_waiting_at_horizon + b.jobs_queued_at_horizon
            ),
        );
        kv(
            &mut rows,
            "batch GPU-hours",
            format!(
                "{} held · {} useful (completed jobs) · {} lost to preemption · {} unfinished",
                fixed(b.gpu_hours_held, 2),
                fixed(b.gpu_hours_useful, 2),
                fixed(b.gpu_hours_lost, 2),
                fixed(b.gpu_hours_unfinished, 2)
            ),
        );
        kv(
            &mut rows,
            "job wait (submission to start)",
            format!(
                "mean {} · p50 {} · p90 {} · max {}",
                duration(b.wait_s.mean),
                duration(b.wait_s.p50),
                duration(b.wait_s.p90),
                duration(b.wait_s.max)
            ),
        );
    }
    if !rows.is_empty() {
        table(o, &["measure", "value"], &rows, 2);
    }
}

//! kube-scheduler's DefaultPreemption (PostFilter): when a pod fits no node, find on each node
//! the fewest lower-priority pods whose removal lets it fit, then pick one node by upstream's
//! criteria and evict those pods.
//!
//! [`victims_on_node`] is upstream's `SelectVictimsOnNode`: remove every lower-priority pod; if
//! the pod still does not fit, the node is no candidate; else add pods back, most important
//! first (PodDisruptionBudget-violating ones before the rest), keeping each one that still
//! leaves room. [`pick_node`] is `pickOneNodeForPreemption`: fewest PDB violations, then the
//! lowest highest-victim priority, the smallest sum of victim priorities, the fewest victims,
//! the latest start among the highest-priority victims, then the first node.

use crate::cluster::ResVec;

/// A pod already on a node, as preemption sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunningPod {
    /// Its priority (from its PriorityClass; 0 without one).
    pub priority: i32,
    /// When it started (bound), nanoseconds: earlier is more important at equal priority.
    pub start: u64,
    /// Whether evicting it would violate a PodDisruptionBudget.
    pub violates_pdb: bool,
}

/// The victims chosen on one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Victims {
    /// Indices into the node's pod list, most important first.
    pub pods: Vec<usize>,
    /// How many of them violate a PodDisruptionBudget.
    pub pdb_violations: usize,
}

/// Upstream `MoreImportantPod`: higher priority first, then the one that started earlier.
fn more_important(a: &RunningPod, b: &RunningPod) -> std::cmp::Ordering {
    b.priority.cmp(&a.priority).then(a.start.cmp(&b.start))
}

/// The fewest victims on one node that let a pod with `priority` and `request` fit, or `None` if
/// removing every lower-priority pod is not enough. `requested` is what the node's pods (and
/// pods nominated to it) request now, `pods` those pods with their requests.
pub fn victims_on_node(
    priority: i32,
    request: &ResVec,
    allocatable: &ResVec,
    requested: &ResVec,
    pods: &[(RunningPod, &ResVec)],
) -> Option<Victims> {
    let mut left = requested.clone();
    let mut potential: Vec<usize> = Vec::new();
    for (i, (p, r)) in pods.iter().enumerate() {
        if p.priority < priority {
            left.sub(r);
            potential.push(i);
        }
    }
    if potential.is_empty() || !left.fits_within(request, allocatable) {
        return None;
    }
    potential.sort_by(|&a, &b| more_important(&pods[a].0, &pods[b].0).then(a.cmp(&b)));
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    // Reprieve PDB-violating pods first, then the others, each most important first.
    for violating in [true, false] {
        for &i in potential
            .iter()
            .filter(|&&i| pods[i].0.violates_pdb == violating)
        {
            let r = pods[i].1;
            let mut with = left.clone();
            with.add(r);
            if with.fits_within(request, allocatable) {
                left = with;
            } else {
                victims.push(i);
                pdb_violations += usize::from(violating);
            }
        }
    }
    victims.sort_by(|&a, &b| more_important(&pods[a].0, &pods[b].0).then(a.cmp(&b)));
    Some(Victims {
        pods: victims,
        pdb_violations,
    })
}

/// Upstream `pickOneNodeForPreemption` over candidate nodes: `(victims, their pods)` per
/// candidate; returns the index of the chosen candidate (`None` when there is none).
pub fn pick_node(candidates: &[(Victims, Vec<RunningPod>)]) -> Option<usize> {
    let key = |(v, pods): &(Victims, Vec<RunningPod>)| {
        let vp: Vec<&RunningPod> = v.pods.iter().map(|&i| &pods[i]).collect();
        let highest = vp.first().map_or(i32::MIN, |p| p.priority);
        // Upstream offsets each priority by MaxInt32+1 so the sum stays positive.
        let sum: i64 = vp
            .iter()
            .map(|p| p.priority as i64 + i32::MAX as i64 + 1)
            .sum();
        let earliest = vp
            .iter()
            .filter(|p| p.priority == highest)
            .map(|p| p.start)
            .min()
            .unwrap_or(u64::MAX);
        (
            v.pdb_violations,
            highest,
            sum,
            vp.len(),
            std::cmp::Reverse(earliest),
        )
    };
    (0..candidates.len()).min_by(|&a, &b| {
        key(&candidates[a])
            .cmp(&key(&candidates[b]))
            .then(a.cmp(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rv(cpu: u64, gpu: u64) -> ResVec {
        ResVec(vec![cpu, 0, 1000, gpu])
    }

    fn pod(priority: i32, start: u64) -> RunningPod {
        RunningPod {
            priority,
            start,
            violates_pdb: false,
        }
    }

    #[test]
    fn no_lower_priority_pods_means_no_candidate() {
        let alloc = ResVec(vec![4000, 0, 110_000, 8000]);
        let r = rv(1000, 4000);
        let pods = [(pod(10, 0), &r), (pod(10, 1), &r)];
        let requested = rv(2000, 8000);
        assert_eq!(
            victims_on_node(10, &rv(1000, 4000), &alloc, &requested, &pods),
            None
        );
    }

    #[test]
    fn keeps_the_most_important_pods_that_still_leave_room() {
        // 8 GPUs, four 2-GPU pods of priorities 1, 2, 3, 5; the preemptor (priority 4) needs 4.
        // Lower-priority pods are 1, 2, 3; reprieved most important first: 3 stays (4 GPUs
        // free after removing 1 and 2), so 2 and 1 are the victims.
        let alloc = ResVec(vec![64000, 0, 110_000, 8000]);
        let r = rv(1000, 2000);
        let pods = [
            (pod(1, 0), &r),
            (pod(2, 0), &r),
            (pod(3, 0), &r),
            (pod(5, 0), &r),
        ];
        let mut requested = ResVec(vec![0, 0, 0, 0]);
        for (_, r) in &pods {
            requested.add(r);
        }
        let v = victims_on_node(4, &rv(1000, 4000), &alloc, &requested, &pods).unwrap();
        assert_eq!(v.pods, vec![1, 0]);
        assert_eq!(v.pdb_violations, 0);
    }

    #[test]
    fn pdb_violating_pods_are_reprieved_first() {
        // Two equal pods, one protected by a PDB: the protected one is added back first and
        // stays; the other is the victim.
        let alloc = ResVec(vec![64000, 0, 110_000, 4000]);
        let r = rv(1000, 2000);
        let protected = RunningPod {
            violates_pdb: true,
            ..pod(0, 5)
        };
        let pods = [(pod(0, 1), &r), (protected, &r)];
        let requested = rv(2000, 4000);
        let v = victims_on_node(1, &rv(1000, 2000), &alloc, &requested, &pods).unwrap();
        assert_eq!(v.pods, vec![0]);
        assert_eq!(v.pdb_violations, 0);
    }

    fn cand(victims: &[RunningPod], pdb: usize) -> (Victims, Vec<RunningPod>) {
        (
            Victims {
                pods: (0..victims.len()).collect(),
                pdb_violations: pdb,
            },
            victims.to_vec(),
        )
    }

    // Cases after upstream's `TestPickOneNodeForPreemption` (default_preemption_test.go).
    #[test]
    fn picks_the_node_with_fewest_pdb_violations() {
        let c = [cand(&[pod(1, 0)], 1), cand(&[pod(5, 0), pod(5, 0)], 0)];
        assert_eq!(pick_node(&c), Some(1));
    }

    #[test]
    fn picks_the_lowest_highest_victim_priority() {
        // "a pod that would fit on the machines, but other pods running are higher priority":
        // node 0's victims top out at 10, node 1's at 5.
        let c = [cand(&[pod(10, 0)], 0), cand(&[pod(5, 0), pod(5, 0)], 0)];
        assert_eq!(pick_node(&c), Some(1));
    }

    #[test]
    fn then_the_smallest_sum_of_priorities() {
        let c = [
            cand(&[pod(5, 0), pod(5, 0), pod(5, 0)], 0),
            cand(&[pod(5, 0), pod(-3, 0)], 0),
        ];
        // 3 × (5 + 2^31) against (5 + 2^31) + (-3 + 2^31): the second is smaller.
        assert_eq!(pick_node(&c), Some(1));
    }

    #[test]
    fn then_the_fewest_victims() {
        // Equal highest priority (3) and equal offset sums: a victim at i32::MIN adds nothing
        // to the sum, so (MIN, 3) and (3) tie until the count, where one victim wins.
        let c = [
            cand(&[pod(3, 0), pod(i32::MIN, 0)], 0),
            cand(&[pod(3, 0)], 0),
        ];
        assert_eq!(pick_node(&c), Some(1));
    }

    #[test]
    fn then_the_latest_start_of_the_highest_priority_victims() {
        let c = [
            cand(&[pod(7, 100), pod(2, 500)], 0),
            cand(&[pod(7, 300), pod(2, 0)], 0),
        ];
        assert_eq!(pick_node(&c), Some(1));
        // All equal: the first.
        let c = [cand(&[pod(7, 100)], 0), cand(&[pod(7, 100)], 0)];
        assert_eq!(pick_node(&c), Some(0));
        assert_eq!(pick_node(&[]), None);
    }
}

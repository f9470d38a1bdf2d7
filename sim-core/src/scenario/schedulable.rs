//! Before a run: can the service's pods fit any node pool at all? A pod whose requests no pool's
//! allocatable covers stays Pending for the whole run, and every request is dropped; `capsim
//! validate` says so for the base scenario and every `[[policy]]` variant.
//!
//! Only the resource requests are compared (each pool's allocatable at the start, before any
//! `mig_changes`); node selectors, affinity and taints are not, so a pod this check passes may
//! still find no node at run time (the run's summary then says why).

use super::Scenario;
use crate::cluster::Quantity;
use std::collections::BTreeMap;

/// Why the service's pods fit no node pool, one sentence, or `None` when some pool can hold
/// one (or there are no pools, or Karpenter chooses the instance types).
pub fn unschedulable(s: &Scenario) -> Option<String> {
    let pools = &s.cluster.as_ref()?.pools;
    if pools.is_empty() || s.karpenter.is_some() {
        return None;
    }
    let requests: BTreeMap<String, Quantity> = s
        .service
        .pod
        .resources
        .effective_requests()
        .into_iter()
        .filter(|(_, q)| q.milli() > 0)
        .collect();
    let offered =
        |pool: usize, name: &str| pools[pool].allocatable.get(name).map_or(0, |q| q.milli());
    let fits = |pool: usize| requests.iter().all(|(k, q)| q.milli() <= offered(pool, k));
    if (0..pools.len()).any(fits) {
        return None;
    }
    // A resource no pool has enough of names the cause; otherwise no single pool has it all.
    let short: Vec<String> = requests
        .iter()
        .filter_map(|(k, q)| {
            let best = (0..pools.len()).map(|p| offered(p, k)).max().unwrap_or(0);
            (q.milli() > best).then(|| {
                if best == 0 {
                    format!("{q} of `{k}`, which no node pool offers")
                } else {
                    format!(
                        "{q} of `{k}`, more than any node pool's allocatable ({})",
                        Quantity::from_milli(best)
                    )
                }
            })
        })
        .collect();
    let mut why = if short.is_empty() {
        let all: Vec<String> = requests.iter().map(|(k, q)| format!("{k} {q}")).collect();
        format!(
            "pods request {}, which no single node pool offers at once",
            all.join(", ")
        )
    } else {
        format!("pods request {}", short.join("; "))
    };
    why.push_str(": they will stay Pending and every request will be dropped");
    let gpu = requests.contains_key("nvidia.com/gpu");
    if gpu && requests.keys().any(|k| k.starts_with("nvidia.com/mig-")) {
        why.push_str(
            " (they request whole `nvidia.com/gpu` and a MIG slice: a [[policy]] variant's \
             `service.resources.requests` merges into the base's key by key and cannot remove \
             one, so leave the GPU request out of the base and give it in each variant, as \
             scenarios/mig-vs-whole.toml does)",
        );
    }
    Some(why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_scenario;

    fn scenario(pool: &str, requests: &str) -> Scenario {
        let src = format!(
            "[[node_pool]]\n{pool}\n[service]\nreplicas = 1\ndispatch = \"router\"\n\
             [service.resources]\nrequests = {requests}\n\
             [service.service_time]\ndistribution = \"exponential\"\nbase = \"10ms\"\n\
             [traffic]\nkind = \"poisson\"\nrate = 1.0\n"
        );
        parse_scenario(&src, "s.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    const L4: &str = "name = \"gpu\"\ninstance_type = \"g6.xlarge\"\ninitial_size = 1";

    #[test]
    fn a_pod_that_fits_a_pool_passes() {
        let s = scenario(L4, "{ cpu = \"2\", \"nvidia.com/gpu\" = 1 }");
        assert_eq!(unschedulable(&s), None);
    }

    #[test]
    fn a_resource_no_pool_offers_is_named() {
        let s = scenario(L4, "{ cpu = \"2\", \"nvidia.com/mig-1g.10gb\" = 1 }");
        let why = unschedulable(&s).unwrap();
        assert!(
            why.starts_with("pods request 1 of `nvidia.com/mig-1g.10gb`, which no node pool offers: they will stay Pending"),
            "{why}"
        );
    }

    #[test]
    fn too_much_of_an_offered_resource_names_the_largest_allocatable() {
        let s = scenario(L4, "{ cpu = \"64\" }");
        let why = unschedulable(&s).unwrap();
        assert!(
            why.starts_with("pods request 64 of `cpu`, more than any node pool's allocatable ("),
            "{why}"
        );
    }

    #[test]
    fn whole_gpus_beside_a_mig_slice_get_the_merge_hint() {
        let s = scenario(
            L4,
            "{ \"nvidia.com/gpu\" = 1, \"nvidia.com/mig-1g.10gb\" = 1 }",
        );
        let why = unschedulable(&s).unwrap();
        assert!(why.contains("merges into the base's key by key"), "{why}");
    }
}

//! Fractional GPU sharing: each GPU on a node holds up to [`MILLI`] milli-GPU, and a pod asks for
//! either a share of one GPU (`num_gpu = 1`, `gpu_milli < 1000`) or whole GPUs (`gpu_milli = 1000`).
//!
//! A shared pod goes to one GPU with enough milli left; a whole-GPU pod takes fully free GPUs. No
//! operation here lets a GPU go below zero milli left or above [`MILLI`].

/// Milli-GPU in one whole GPU.
pub const MILLI: u16 = 1000;
/// The most GPUs a node may have (the openb cluster's largest nodes have 8).
pub const MAX_GPUS: usize = 8;

/// The GPU models a pod accepts: any, or a set of model indices (bits of `mask`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelSet {
    /// True when the pod names no model and runs on any GPU.
    pub any: bool,
    /// Bit `i` set: model `i` (an index into the trace's model names) is accepted.
    pub mask: u64,
}

impl ModelSet {
    /// Accepts every model.
    pub const ANY: ModelSet = ModelSet { any: true, mask: 0 };

    /// Whether a GPU of model index `model` is accepted.
    pub fn allows(&self, model: u8) -> bool {
        self.any || self.mask & (1u64 << model) != 0
    }
}

/// What a pod asks for, without its name: the unit the policies and the fragmentation measure see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodShape {
    /// CPU request in milli-cores.
    pub cpu_milli: u32,
    /// Memory request in MiB (checked by the filter; the policies ignore it, as the paper's do).
    pub memory_mib: u64,
    /// GPUs requested: 0 (CPU-only), 1 (shared or whole) or more (whole GPUs).
    pub num_gpu: u8,
    /// Milli-GPU per requested GPU: below 1000 only when `num_gpu` is 1.
    pub gpu_milli: u16,
    /// GPU models the pod accepts.
    pub models: ModelSet,
}

impl PodShape {
    /// Total milli-GPU requested (`num_gpu × gpu_milli`).
    pub fn total_milli(&self) -> u32 {
        self.num_gpu as u32 * self.gpu_milli as u32
    }

    /// True for a pod that shares one GPU with others.
    pub fn is_shared(&self) -> bool {
        self.num_gpu == 1 && self.gpu_milli < MILLI
    }

    /// The pod's GPU-affinity class as the GPU Clustering policy groups pods: 0 for CPU-only pods,
    /// 1 for shared pods, and `1 + n` for pods of `n` whole GPUs.
    pub fn affinity_bit(&self) -> u16 {
        if self.num_gpu == 0 {
            0
        } else if self.is_shared() {
            1 << 1
        } else {
            1 << (1 + self.num_gpu.min(14))
        }
    }
}

/// A GPU node's capacity and what is left of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuNode {
    /// CPU capacity in milli-cores.
    pub cpu_capacity: u32,
    /// CPU left in milli-cores.
    pub cpu_left: u32,
    /// Memory capacity in MiB.
    pub memory_capacity: u64,
    /// Memory left in MiB.
    pub memory_left: u64,
    /// Index of the node's GPU model in the trace's model names.
    pub model: u8,
    /// Number of GPUs (1 to [`MAX_GPUS`]).
    pub gpus: u8,
    /// Milli-GPU left on each GPU; entries past `gpus` stay 0.
    pub gpu_left: [u16; MAX_GPUS],
    /// Affinity classes ([`PodShape::affinity_bit`]) of the GPU pods placed here, as bits.
    pub affinity: u16,
}

impl GpuNode {
    /// An empty node.
    pub fn new(cpu_milli: u32, memory_mib: u64, gpus: u8, model: u8) -> GpuNode {
        let gpus = gpus.min(MAX_GPUS as u8);
        let mut gpu_left = [0u16; MAX_GPUS];
        for g in gpu_left.iter_mut().take(gpus as usize) {
            *g = MILLI;
        }
        GpuNode {
            cpu_capacity: cpu_milli,
            cpu_left: cpu_milli,
            memory_capacity: memory_mib,
            memory_left: memory_mib,
            model,
            gpus,
            gpu_left,
            affinity: 0,
        }
    }

    /// Milli-GPU left on each of the node's GPUs.
    pub fn left(&self) -> &[u16] {
        &self.gpu_left[..self.gpus as usize]
    }

    /// Total milli-GPU left on the node.
    pub fn total_left(&self) -> u32 {
        self.left().iter().map(|&m| m as u32).sum()
    }

    /// Number of GPUs with nothing allocated.
    pub fn free_gpus(&self) -> usize {
        self.left().iter().filter(|&&m| m == MILLI).count()
    }

    /// Whether the node's GPUs alone could hold `pod` (ignoring CPU and memory): enough GPUs with
    /// at least `gpu_milli` left each.
    pub fn gpus_fit(&self, pod: &PodShape) -> bool {
        if pod.num_gpu == 0 {
            return true;
        }
        let n = self.left().iter().filter(|&&m| m >= pod.gpu_milli).count();
        n >= pod.num_gpu as usize
    }

    /// The kube-scheduler filter: CPU, memory, GPU model and GPU room.
    pub fn fits(&self, pod: &PodShape) -> bool {
        self.cpu_left >= pod.cpu_milli
            && self.memory_left >= pod.memory_mib
            && (pod.num_gpu == 0 || (pod.models.allows(self.model) && self.gpus_fit(pod)))
    }

    /// The shared GPU with the least milli left that still holds `milli` (lowest index on ties).
    pub fn best_fit_gpu(&self, milli: u16) -> Option<u8> {
        let mut best: Option<u8> = None;
        for (i, &m) in self.left().iter().enumerate() {
            if m >= milli && best.is_none_or(|b| m < self.gpu_left[b as usize]) {
                best = Some(i as u8);
            }
        }
        best
    }

    /// Places `pod`: a shared pod on GPU `gpu` (which must hold it), a whole-GPU pod on the
    /// lowest-numbered free GPUs. Returns false, changing nothing, if it does not fit.
    pub fn place(&mut self, pod: &PodShape, gpu: Option<u8>) -> bool {
        if !self.fits(pod) {
            return false;
        }
        if pod.is_shared() {
            let g = match gpu {
                Some(g) if (g as usize) < self.gpus as usize => g as usize,
                _ => return false,
            };
            if self.gpu_left[g] < pod.gpu_milli {
                return false;
            }
            self.gpu_left[g] -= pod.gpu_milli;
        } else if pod.num_gpu > 0 {
            let mut need = pod.num_gpu as usize;
            for m in self.gpu_left.iter_mut().take(self.gpus as usize) {
                if need == 0 {
                    break;
                }
                if *m == MILLI {
                    *m = 0;
                    need -= 1;
                }
            }
        }
        self.cpu_left -= pod.cpu_milli;
        self.memory_left -= pod.memory_mib;
        self.affinity |= pod.affinity_bit();
        true
    }

    /// The GPUs [`GpuNode::place`] would give `pod` with GPU choice `gpu`, as bits (bit `i` is GPU
    /// `i`): the chosen GPU for a shared pod, the lowest-numbered free GPUs for a whole-GPU pod, none
    /// for a CPU-only pod. Call it before placing.
    pub fn gpus_taken(&self, pod: &PodShape, gpu: Option<u8>) -> u8 {
        if pod.is_shared() {
            return gpu.map_or(0, |g| 1u8 << g);
        }
        let mut mask = 0u8;
        let mut need = pod.num_gpu as usize;
        for (i, &m) in self.left().iter().enumerate() {
            if need == 0 {
                break;
            }
            if m == MILLI {
                mask |= 1 << i;
                need -= 1;
            }
        }
        mask
    }

    /// Gives back what a placed `pod` holds: its CPU, memory and `gpu_milli` on each GPU of `gpus`
    /// (the bits [`GpuNode::gpus_taken`] returned when it was placed). Nothing goes above capacity.
    /// Affinity bits are the caller's to clear, since other pods of the class may remain.
    pub fn release(&mut self, pod: &PodShape, gpus: u8) {
        for g in 0..self.gpus as usize {
            if gpus & (1 << g) != 0 {
                self.gpu_left[g] = (self.gpu_left[g] + pod.gpu_milli).min(MILLI);
            }
        }
        self.cpu_left = (self.cpu_left + pod.cpu_milli).min(self.cpu_capacity);
        self.memory_left = (self.memory_left + pod.memory_mib).min(self.memory_capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pod(cpu: u32, num: u8, milli: u16) -> PodShape {
        PodShape {
            cpu_milli: cpu,
            memory_mib: 0,
            num_gpu: num,
            gpu_milli: milli,
            models: ModelSet::ANY,
        }
    }

    #[test]
    fn shared_and_whole_pods_take_the_right_gpus() {
        let mut n = GpuNode::new(64_000, 1 << 20, 4, 0);
        assert!(n.place(&pod(1000, 1, 300), Some(2)));
        assert_eq!(n.left(), &[1000, 1000, 700, 1000]);
        assert!(n.place(&pod(1000, 2, 1000), None));
        assert_eq!(n.left(), &[0, 0, 700, 1000]);
        assert_eq!(n.best_fit_gpu(500), Some(2));
        assert!(!n.place(&pod(1000, 2, 1000), None));
        assert!(!n.place(&pod(1000, 1, 800), Some(2)));
        assert_eq!(n.cpu_left, 62_000);
    }

    #[test]
    fn release_undoes_place() {
        let mut n = GpuNode::new(64_000, 1 << 20, 4, 0);
        let empty = n.clone();
        let shared = pod(1000, 1, 300);
        let whole = pod(2000, 2, 1000);
        let m1 = n.gpus_taken(&shared, Some(1));
        assert!(n.place(&shared, Some(1)));
        let m2 = n.gpus_taken(&whole, None);
        assert_eq!(m2, 0b0101);
        assert!(n.place(&whole, None));
        n.release(&shared, m1);
        n.release(&whole, m2);
        n.affinity = 0;
        assert_eq!(n, empty);
    }

    proptest! {
        #[test]
        fn no_gpu_is_ever_over_allocated(ops in proptest::collection::vec((0u8..4, 1u16..=1000, 0u8..8, 0u32..20_000), 1..200)) {
            let mut n = GpuNode::new(128_000, 1 << 20, 8, 0);
            let mut placed_milli = 0u32;
            for (num, milli, gpu, cpu) in ops {
                let p = if num <= 1 { pod(cpu, num, if num == 0 { 0 } else { milli }) } else { pod(cpu, num, 1000) };
                let gpu = if p.is_shared() { n.best_fit_gpu(p.gpu_milli).or(Some(gpu)) } else { None };
                if n.place(&p, gpu) {
                    placed_milli += p.total_milli();
                }
                for &m in n.left() {
                    prop_assert!(m <= MILLI);
                }
                prop_assert_eq!(n.total_left() + placed_milli, 8 * 1000);
            }
        }
    }
}

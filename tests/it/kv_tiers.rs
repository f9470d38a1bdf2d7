//! KV-cache tiers below HBM (host memory, local disk): each tier's hits on a Mooncake trace
//! against an LRU stack-distance computation written apart from the engine, and the checks on
//! the keys that turn the tiers on.

use super::common::{root, run_conserving};
use sim_core::engine::SimTime;
use sim_core::traffic::{read_mooncake, TraceRecord};
use sim_core::{parse_scenario, Inputs, RunResult};
use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;

const TRACE: &str = "scenarios/traces/mooncake/conversation_trace_head2000.jsonl";

/// Tokens per hash id of the Mooncake trace.
const UNIT: u64 = 512;
/// KV blocks of 16 tokens on the replica (`num_gpu_blocks`): 256 units.
const KV_BLOCKS: u64 = 8192;
const BLOCK: u64 = 16;
/// Llama-3.1-8B's KV bytes per token: 32 layers × 8 KV heads × 128 × 2 bytes × (K and V).
const KV_BYTES_PER_TOKEN: u64 = 131_072;
const CPU_GIB: u64 = 128;
const DISK_GIB: u64 = 900;
/// Seconds between arrivals once spread out: far more than any request of the slice takes.
const GAP_S: f64 = 300.0;

fn scenario(tiers: &str) -> String {
    let horizon = 1000.0 + 2000.0 * GAP_S + 1000.0;
    format!(
        r#"
[simulation]
seed = 1
horizon = "{horizon}s"
sample_interval = "1h"

[[node_pool]]
name = "a100"
instance_type = "p4d.24xlarge"
min_size = 1
max_size = 1
initial_size = 1

[service]
engine = "vllm"
replicas = 1
dispatch = "router"

[service.resources]
requests = {{ cpu = "8", memory = "64Gi", "nvidia.com/gpu" = 1 }}

[service.vllm]
model = "llama-3.1-8b"
num_gpu_blocks = {KV_BLOCKS}
block_size = {BLOCK}
{tiers}

[traffic]
kind = "trace"
format = "mooncake"
path = "unused.jsonl"
"#
    )
}

const TIERS: &str = r#"kv_offloading_size = 128
kv_offloading_backend = "lmcache"
max_local_disk_size = 900"#;

/// The trace's rows in order, each `GAP_S` after the one before (from 1,000 s), so that each
/// request finishes before the next arrives.
fn spread_inputs() -> Inputs {
    let path = root().join(TRACE);
    let t = read_mooncake(BufReader::new(File::open(&path).unwrap()), TRACE).unwrap();
    let records: Vec<TraceRecord> = t
        .records
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.time = SimTime::from_secs_f64(1000.0 + i as f64 * GAP_S);
            r
        })
        .collect();
    Inputs {
        trace: Some(records),
        trace_prefixes: Some(t.table),
        ..Inputs::default()
    }
}

fn run(text: &str, inputs: Inputs) -> RunResult {
    let s = parse_scenario(text, "kv-tiers-test.toml").unwrap_or_else(|e| panic!("{e}"));
    run_conserving(&s, inputs)
}

/// Hit units per tier, as the reference computes them.
#[derive(Debug, Default, PartialEq)]
struct Hits {
    query_tokens: u64,
    hbm: u64,
    cpu: u64,
    disk: u64,
    requests: u64,
}

/// Stack distances by a Fenwick tree over access times: a key's distance is the number of
/// distinct keys accessed since its last access.
struct Stack {
    tree: Vec<i64>,
    last: HashMap<u64, usize>,
    now: usize,
}

impl Stack {
    fn new(accesses: usize) -> Self {
        Stack {
            tree: vec![0; accesses + 2],
            last: HashMap::new(),
            now: 0,
        }
    }
    fn add(&mut self, mut i: usize, v: i64) {
        while i < self.tree.len() {
            self.tree[i] += v;
            i += i & i.wrapping_neg();
        }
    }
    fn prefix(&self, mut i: usize) -> i64 {
        let mut s = 0;
        while i > 0 {
            s += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        s
    }
    /// Distinct keys accessed after `id` was (`None`: never accessed).
    fn distance(&self, id: u64) -> Option<u64> {
        let t = *self.last.get(&id)?;
        Some((self.prefix(self.now) - self.prefix(t)) as u64)
    }
    fn access(&mut self, id: u64) {
        if let Some(t) = self.last.get(&id) {
            self.add(*t, -1);
        }
        self.now += 1;
        self.add(self.now, 1);
        self.last.insert(id, self.now);
    }
}

/// The reference. Every request's prompt units (its full 512-token blocks) are accessed last
/// first, so its first unit is the most recent, as vLLM frees a finished request's blocks and
/// touches offloaded ones. Tiers are LRU caches of whole units over that one access stream:
/// host memory holds the `cpu` most recent units, disk the `disk` most recent. HBM holds the
/// `k` most recent, where `k` moves with the blocks the running request holds besides cached
/// units: after a request of `p + o` tokens, HBM keeps at most
/// `(KV_BLOCKS − blocks(p + o − 1)) / 32` other units beside that request's own (it evicts only
/// when blocks run out). A request looks up at most `(p − 1) / 512` units (its last token is
/// always prefilled): a unit hits in HBM if its distance is below `k`, else in host memory
/// below `cpu`, else on disk below `disk`; the lookup stops at the first miss.
fn reference(records: &[(u32, u32, Vec<u64>)], cpu: u64, disk: u64) -> Hits {
    let bpu = UNIT / BLOCK;
    let accesses = records.iter().map(|r| r.2.len()).sum();
    let mut stack = Stack::new(accesses);
    let mut k: u64 = 0;
    let mut h = Hits::default();
    for (p, o, ids) in records {
        let (p, o) = (u64::from((*p).max(1)), u64::from((*o).max(1)));
        if (p + o).div_ceil(BLOCK) > KV_BLOCKS {
            continue; // refused at admission (exceeds the KV cache)
        }
        h.requests += 1;
        h.query_tokens += p;
        let stored = (ids.len() as u64).min(p / UNIT);
        let most = stored.min((p - 1) / UNIT);
        let (mut hbm, mut lower) = (0, false);
        for &id in &ids[..most as usize] {
            let Some(d) = stack.distance(id) else { break };
            if !lower && d < k {
                hbm += 1;
                continue;
            }
            lower = true;
            if d < cpu {
                h.cpu += 1;
            } else if d < disk {
                h.disk += 1;
            } else {
                break;
            }
        }
        h.hbm += hbm;
        for &id in ids[..stored as usize].iter().rev() {
            stack.access(id);
        }
        let room = (KV_BLOCKS - (p + o - 1).div_ceil(BLOCK)) / bpu + stored;
        k = (k + stored - hbm).min(room);
    }
    h
}

fn records() -> Vec<(u32, u32, Vec<u64>)> {
    let path = root().join(TRACE);
    let t = read_mooncake(BufReader::new(File::open(&path).unwrap()), TRACE).unwrap();
    t.records
        .iter()
        .map(|r| {
            (
                r.prompt_tokens,
                r.output_tokens,
                t.table.ids(r.prefix).to_vec(),
            )
        })
        .collect()
}

#[test]
fn each_tier_hits_what_an_lru_stack_distance_gives() {
    // Conditions: one replica; requests one at a time (each arrives 300 s after the one before,
    // longer than any takes), so no sequence holds blocks when another looks up and none is
    // preempted; inclusive tiers (HBM's 256 units ≤ host memory's ≤ disk's).
    let unit_bytes = UNIT * KV_BYTES_PER_TOKEN;
    let cpu = CPU_GIB << 30;
    let disk = DISK_GIB << 30;
    let (cpu_units, disk_units) = (cpu / unit_bytes, disk / unit_bytes);
    assert_eq!((cpu_units, disk_units), (2048, 14_400));
    let want = reference(&records(), cpu_units, disk_units);
    let r = run(&scenario(TIERS), spread_inputs());
    let k = r.summary.tokens.as_ref().unwrap();
    assert_eq!(k.preemptions, 0);
    assert_eq!(r.summary.requests.completed, want.requests);
    let t = k.kv_tiers.as_ref().expect("tiers on");
    let got = Hits {
        query_tokens: t.query_tokens,
        hbm: t.hbm_hit_tokens / UNIT,
        cpu: t.cpu_hit_tokens / UNIT,
        disk: t.disk_hit_tokens.unwrap() / UNIT,
        requests: r.summary.requests.completed,
    };
    assert_eq!(got, want);
    let q = want.query_tokens as f64;
    for (ratio, units) in [
        (t.hbm_hit_ratio, want.hbm),
        (t.cpu_hit_ratio, want.cpu),
        (t.disk_hit_ratio, want.disk),
    ] {
        assert_eq!(ratio, Some((units * UNIT) as f64 / q));
    }
    // Eviction matters in every tier: each hits, and each larger tier finds what the one
    // above it lost.
    assert!(want.hbm > 0 && want.cpu > 0 && want.disk > 0, "{want:?}");
    let unbounded = reference(&records(), u64::MAX, u64::MAX);
    assert!(
        unbounded.cpu > want.cpu + want.disk,
        "{unbounded:?} {want:?}"
    );
    assert_eq!(t.loaded_bytes, (want.cpu + want.disk) * unit_bytes);
    // Without the tiers HBM hits the same, and the prompts the tiers held are prefilled.
    let off = run(&scenario(""), spread_inputs());
    let ko = off.summary.tokens.as_ref().unwrap();
    assert!(ko.kv_tiers.is_none());
    assert_eq!(
        ko.prefix_cache_hit_ratio,
        Some((want.hbm * UNIT) as f64 / q)
    );
    assert!(ko.ttft_s.mean.unwrap() > k.ttft_s.mean.unwrap());
}

/// `capsim validate`'s message for `text`, which must be refused with exit code 2.
fn refused(text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("capsim-kv-tiers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("s{}.toml", text.len()));
    std::fs::write(&path, text).unwrap();
    let (code, _, err) = super::common::capsim_text(&["validate", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    err
}

#[test]
fn tiers_that_do_not_fit_are_located_errors() {
    let base = |tiers: &str| {
        scenario(tiers).replace(
            "kind = \"trace\"\nformat = \"mooncake\"\npath = \"unused.jsonl\"",
            "kind = \"poisson\"\nrate = 1",
        )
    };
    // 8 replicas of one A100 share the node's 1,152 GiB: 144 GiB each.
    let err = refused(&base("kv_offloading_size = 200"));
    assert!(
        err.contains("key `service.vllm.kv_offloading_size`")
            && err.contains(
                "node pool `a100` runs `p4d.24xlarge` with 1152 GiB of memory for 8 replica(s)"
            )
            && err.contains("at most 144.0 GiB"),
        "{err}"
    );
    let err = refused(&base("kv_offloading_size = 100\nmax_local_disk_size = 10"));
    assert!(
        err.contains("key `service.vllm.max_local_disk_size`")
            && err.contains("kv_offloading_backend = \"lmcache\""),
        "{err}"
    );
    let err = refused(&base(
        "kv_offloading_size = 100\nkv_offloading_backend = \"lmcache\"\nmax_local_disk_size = 1000",
    ));
    assert!(
        err.contains("key `service.vllm.max_local_disk_size`") && err.contains("at most 931.3 GiB"),
        "{err}"
    );
    let err = refused(&base("kv_offloading_size = 2e6"));
    assert!(
        err.contains("key `service.vllm.kv_offloading_size`") && err.contains("1,048,576 GiB"),
        "{err}"
    );
    let err = refused(&base("kv_offloading_backend = \"lmcache\""));
    assert!(err.contains("expected `kv_offloading_size`"), "{err}");
    let err = refused(&base(
        "kv_offloading_size = 64\nkv_offloading_backend = \"lmcash\"",
    ));
    assert!(
        err.contains("kv_offloading_backend") && err.contains("native") && err.contains("lmcache"),
        "{err}"
    );
    let err = refused(&base(
        "kv_offloading_size = 64\nenable_prefix_caching = false",
    ));
    assert!(err.contains("expected `enable_prefix_caching` on"), "{err}");
}

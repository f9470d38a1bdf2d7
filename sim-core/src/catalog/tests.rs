//! The shipped catalogs parse and hold what they must; overrides replace and add; every malformed
//! entry is an error naming the right key and line.

use super::instance::is_date;
use super::*;

const GPU_IDS: [&str; 9] = [
    "h100-sxm",
    "h100-pcie",
    "h200",
    "a100-40gb",
    "a100-80gb",
    "l40s",
    "l4",
    "a10g",
    "t4",
];

const INSTANCE_IDS: [&str; 19] = [
    "p5.48xlarge",
    "p4d.24xlarge",
    "p4de.24xlarge",
    "g5.xlarge",
    "g5.12xlarge",
    "g5.48xlarge",
    "g6.xlarge",
    "g6.12xlarge",
    "g6e.xlarge",
    "g6e.12xlarge",
    "m6i.2xlarge",
    "a3-highgpu-8g",
    "a2-highgpu-1g",
    "a2-ultragpu-1g",
    "g2-standard-4",
    "g2-standard-24",
    "n2-standard-8",
    "Standard_ND96isr_H100_v5",
    "Standard_D8s_v5",
];

const GIB: u64 = 1 << 30;

#[test]
fn builtin_catalog_parses_and_has_every_required_id() {
    let c = Catalog::builtin();
    for id in GPU_IDS {
        assert!(c.gpu(id).is_some(), "missing GPU {id}");
    }
    for id in INSTANCE_IDS {
        assert!(c.instance(id).is_some(), "missing instance type {id}");
    }
    // Sorted by id, as documented.
    let mut ids = c.gpu_ids();
    ids.sort_unstable();
    assert_eq!(ids, c.gpu_ids());
    let mut ids = c.instance_ids();
    ids.sort_unstable();
    assert_eq!(ids, c.instance_ids());
    // A second call gives the same catalog.
    assert_eq!(c, Catalog::builtin());
}

#[test]
fn builtin_figures_are_the_documented_ones() {
    let c = Catalog::builtin();
    let h100 = c.gpu("h100-sxm").unwrap();
    assert_eq!(h100.memory_bytes, 80 * GIB);
    assert_eq!(h100.sms, 132);
    assert!(h100.mig && h100.verified);
    assert!((h100.bf16_dense_tflops - 989.4).abs() < 1e-9);
    for id in ["h100-sxm", "h100-pcie", "h200", "a100-40gb", "a100-80gb"] {
        assert!(c.gpu(id).unwrap().mig, "{id} supports MIG");
    }
    for id in ["l40s", "l4", "a10g", "t4"] {
        assert!(!c.gpu(id).unwrap().mig, "{id} has no MIG");
    }
    // Figures the research notes mark unverified.
    for id in ["l4", "a10g"] {
        assert!(!c.gpu(id).unwrap().verified, "{id} is unverified");
    }
    let p5 = c.instance("p5.48xlarge").unwrap();
    assert_eq!(p5.provider, "aws");
    assert_eq!(p5.gpu.as_deref(), Some("h100-sxm"));
    assert_eq!(
        (p5.gpu_count, p5.vcpu, p5.memory_bytes),
        (8, 192, 2048 * GIB)
    );
    for id in ["m6i.2xlarge", "n2-standard-8", "Standard_D8s_v5"] {
        let t = c.instance(id).unwrap();
        assert_eq!(
            (t.gpu.as_deref(), t.gpu_count),
            (None, 0),
            "{id} is CPU-only"
        );
    }
    for (id, gpu, n) in [
        ("p4d.24xlarge", "a100-40gb", 8),
        ("p4de.24xlarge", "a100-80gb", 8),
        ("g5.48xlarge", "a10g", 8),
        ("g6.12xlarge", "l4", 4),
        ("g6e.12xlarge", "l40s", 4),
        ("a3-highgpu-8g", "h100-sxm", 8),
        ("a2-ultragpu-1g", "a100-80gb", 1),
        ("g2-standard-24", "l4", 2),
        ("Standard_ND96isr_H100_v5", "h100-sxm", 8),
    ] {
        let t = c.instance(id).unwrap();
        assert_eq!((t.gpu.as_deref(), t.gpu_count), (Some(gpu), n), "{id}");
    }
    // Every price is dated and sourced; none is claimed verified without a primary source.
    for t in &c.instances {
        assert!(is_date(&t.price_date), "{}", t.id);
        assert!(!t.price_source.is_empty(), "{}", t.id);
        assert!(!t.price_verified, "{} claims a verified price", t.id);
    }
}

/// Two valid entries; the second one's lines are 11 (`[[instance]]`) to 22.
const GOOD: &str = r#"[[instance]]
id = "a.small"
provider = "aws"
region = "r1"
vcpu = 4
memory = "16Gi"
on_demand_usd_per_hour = 1.0
price_date = "2026-11-22"
price_source = "test"

[[instance]]
id = "b.gpu"
provider = "aws"
region = "r1"
vcpu = 8
memory = "64Gi"
gpu = "h100-sxm"
gpu_count = 1
on_demand_usd_per_hour = 4.0
spot_usd_per_hour = 2.0
price_date = "2026-11-22"
price_source = "test"
"#;

/// The error from `GOOD` with `from` replaced by `to` in the second entry.
fn instance_error(from: &str, to: &str) -> ScenarioError {
    let (first, second) = GOOD.split_at(GOOD.find("\n\n").unwrap() + 2);
    assert!(second.contains(from), "{from}");
    let src = format!("{first}{}", second.replacen(from, to, 1));
    match Catalog::builtin().with_instances(&src, "user.toml") {
        Ok(_) => panic!("`{to}` should be rejected"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_at(e: &ScenarioError, key: &str, line: usize, says: &str) {
    assert_eq!(e.file, "user.toml", "{e}");
    assert_eq!(e.key, key, "{e}");
    assert_eq!(e.line, Some(line), "{e}");
    assert!(e.message.contains(says), "`{says}` not in: {e}");
}

#[test]
fn override_file_replaces_a_price_and_adds_a_type() {
    let base = Catalog::builtin();
    let user = r#"
[[instance]]
id = "g6.xlarge"
provider = "aws"
region = "us-west-2"
vcpu = 4
memory = "16Gi"
gpu = "l4"
gpu_count = 1
on_demand_usd_per_hour = 0.7
price_date = "2026-12-01"
price_source = "my negotiated rate"
price_verified = true

[[instance]]
id = "onprem.8xh100"
provider = "other"
region = "dc1"
vcpu = 128
memory = "1Ti"
gpu = "h100-sxm"
gpu_count = 8
on_demand_usd_per_hour = 20.0
price_date = "2026-12-01"
price_source = "amortised hardware cost"
"#;
    let c = base.with_instances(user, "user.toml").unwrap();
    assert_eq!(c.instances.len(), base.instances.len() + 1);
    let g6 = c.instance("g6.xlarge").unwrap();
    assert_eq!(g6.on_demand_usd_per_hour, 0.7);
    assert_eq!(g6.region, "us-west-2");
    assert_eq!(g6.spot_usd_per_hour, None, "entries are replaced whole");
    assert!(g6.price_verified);
    let new = c.instance("onprem.8xh100").unwrap();
    assert_eq!((new.memory_bytes, new.gpu_count), (1 << 40, 8));
    // Everything else is untouched, and the list stays sorted.
    assert_eq!(c.instance("p5.48xlarge"), base.instance("p5.48xlarge"));
    let mut ids = c.instance_ids();
    ids.sort_unstable();
    assert_eq!(ids, c.instance_ids());
    assert_eq!(c.gpus, base.gpus);
    // An empty file changes nothing.
    assert_eq!(base.with_instances("", "empty.toml").unwrap(), base);
}

#[test]
fn gpu_override_replaces_and_adds_and_new_gpus_can_be_used() {
    let base = Catalog::builtin();
    let user = r#"
[[gpu]]
id = "l4"
name = "NVIDIA L4"
memory = "22.5Gi"
memory_bandwidth_gb_per_s = 300
bf16_dense_tflops = 120
sms = 60
mig = false
source = "my measurements"
verified = true

[[gpu]]
id = "b200"
name = "NVIDIA B200"
memory = "180Gi"
memory_bandwidth_gb_per_s = 8000.0
bf16_dense_tflops = 2250.0
sms = 148
mig = true
source = "guess"
"#;
    let c = base.with_gpus(user, "user-gpus.toml").unwrap();
    assert_eq!(c.gpus.len(), base.gpus.len() + 1);
    let l4 = c.gpu("l4").unwrap();
    assert_eq!((l4.sms, l4.memory_bytes), (60, 45 * GIB / 2));
    assert_eq!(l4.memory_bandwidth_gb_per_s, 300.0, "integers are accepted");
    assert!(l4.verified);
    assert!(
        !c.gpu("b200").unwrap().verified,
        "`verified` defaults to false"
    );
    assert_eq!(c.instances, base.instances);
    let types = GOOD.replace("h100-sxm", "b200");
    assert!(c.with_instances(&types, "user.toml").is_ok());
    let e = base.with_instances(&types, "user.toml").unwrap_err();
    assert_at(&e, "instance[1].gpu", 17, "unknown GPU `b200`");
}

#[test]
fn instance_errors_name_the_key_and_line() {
    assert!(Catalog::builtin().with_instances(GOOD, "user.toml").is_ok());
    let e = instance_error("id = \"b.gpu\"", "id = \"a.small\"");
    assert_at(
        &e,
        "instance[1].id",
        12,
        "duplicate id `a.small`: instance[0]",
    );
    let e = instance_error("gpu = \"h100-sxm\"", "gpu = \"h100-sxn\"");
    assert_at(&e, "instance[1].gpu", 17, "did you mean `h100-sxm`?");
    assert!(e.message.contains("a100-40gb, a100-80gb, a10g"), "{e}");
    let e = instance_error("gpu = \"h100-sxm\"", "gpu = \"H100\"");
    assert_at(
        &e,
        "instance[1].gpu",
        17,
        "did you mean one of `h100-pcie`, `h100-sxm`?",
    );
    let e = instance_error("gpu = \"h100-sxm\"", "gpu = \"l40\"");
    assert_at(&e, "instance[1].gpu", 17, "did you mean `l40s`?");
    let e = instance_error("gpu_count = 1", "gpu_count = 0");
    assert_at(&e, "instance[1].gpu_count", 18, "at least 1");
    // GPUs per node are bounded (each GPU's shares and slices are kept in memory).
    let e = instance_error("gpu_count = 1", "gpu_count = 4000000000");
    assert_at(
        &e,
        "instance[1].gpu_count",
        18,
        "expected at most 64 GPUs per node",
    );
    assert!(Catalog::builtin()
        .with_instances(
            &GOOD.replace("gpu_count = 1", "gpu_count = 64"),
            "user.toml"
        )
        .is_ok());
    let e = instance_error("gpu_count = 1\n", "");
    assert_at(&e, "instance[1].gpu", 17, "needs `gpu_count`");
    let e = instance_error("gpu = \"h100-sxm\"\n", "");
    assert_at(&e, "instance[1].gpu_count", 17, "no `gpu` is given");
    let e = instance_error(
        "on_demand_usd_per_hour = 4.0",
        "on_demand_usd_per_hour = -1.0",
    );
    assert_at(
        &e,
        "instance[1].on_demand_usd_per_hour",
        19,
        "not negative, found -1",
    );
    let e = instance_error(
        "on_demand_usd_per_hour = 4.0",
        "on_demand_usd_per_hour = nan",
    );
    assert_at(&e, "instance[1].on_demand_usd_per_hour", 19, "finite");
    let e = instance_error("spot_usd_per_hour = 2.0", "spot_usd_per_hour = inf");
    assert_at(&e, "instance[1].spot_usd_per_hour", 20, "finite");
    let e = instance_error("spot_usd_per_hour = 2.0", "spot_usd_per_hour = 5.0");
    assert_at(
        &e,
        "instance[1].spot_usd_per_hour",
        20,
        "at most the on-demand price (4)",
    );
    let e = instance_error("memory = \"64Gi\"", "memory = \"64GiB\"");
    assert_at(&e, "instance[1].memory", 16, "Kubernetes quantity");
    let e = instance_error("memory = \"64Gi\"", "memory = \"0\"");
    assert_at(&e, "instance[1].memory", 16, "above zero");
    for date in [
        "2026-13-01",
        "2026-02-29",
        "26-11-22",
        "2026/11/22",
        "2026-1-022",
    ] {
        let e = instance_error(
            "price_date = \"2026-11-22\"\nprice_source = \"test\"\n",
            &format!("price_date = \"{date}\"\nprice_source = \"test\"\n"),
        );
        assert_at(&e, "instance[1].price_date", 21, "YYYY-MM-DD");
    }
    let e = instance_error("vcpu = 8", "vcpu = 0");
    assert_at(&e, "instance[1].vcpu", 15, "at least 1 vCPU");
    let e = instance_error(
        "provider = \"aws\"\nregion = \"r1\"\nvcpu = 8",
        "provider = \"awz\"\nregion = \"r1\"\nvcpu = 8",
    );
    assert_at(&e, "instance[1].provider", 13, "did you mean `aws`?");
    let e = instance_error("region = \"r1\"\nvcpu = 8", "region = \"\"\nvcpu = 8");
    assert_at(&e, "instance[1].region", 14, "empty string");
}

#[test]
fn instance_schema_errors_name_the_key_and_line() {
    // A misspelt key, found by serde, with the nearest valid name.
    let e = instance_error("vcpu = 8", "vcpus = 8");
    assert_at(&e, "instance[1].vcpus", 15, "did you mean `vcpu`?");
    // A wrong type.
    let e = instance_error("vcpu = 8", "vcpu = \"8\"");
    assert_at(&e, "instance[1].vcpu", 15, "u32");
    // A missing required field points at its entry.
    let e = instance_error(
        "price_date = \"2026-11-22\"\nprice_source = \"test\"\n",
        "price_source = \"test\"\n",
    );
    assert_eq!(e.key, "instance[1].price_date", "{e}");
    assert!(e.message.starts_with("missing: expected"), "{e}");
    assert!(e.line.is_some_and(|l| (11..=21).contains(&l)), "{e}");
    // A GPU entry in an instance file.
    let e = Catalog::builtin()
        .with_instances("[[gpu]]\nid = \"x\"\n", "user.toml")
        .unwrap_err();
    assert_at(&e, "gpu", 1, "expected `instance`");
}

#[test]
fn gpu_errors_name_the_key_and_line() {
    const G: &str = r#"[[gpu]]
id = "x1"
name = "X1"
memory = "16Gi"
memory_bandwidth_gb_per_s = 300.0
bf16_dense_tflops = 100.0
sms = 40
mig = false
source = "test"
"#;
    let file = format!("{G}\n{}", G.replace("x1", "x2"));
    let bad = |from: &str, to: &str| -> ScenarioError {
        // Change the second entry only (lines 11 to 19).
        let (a, b) = file.split_at(G.len());
        let src = format!("{a}{}", b.replacen(from, to, 1));
        Catalog::builtin().with_gpus(&src, "user.toml").unwrap_err()
    };
    assert!(Catalog::builtin().with_gpus(&file, "user.toml").is_ok());
    assert_at(
        &bad("id = \"x2\"", "id = \"x1\""),
        "gpu[1].id",
        12,
        "duplicate id `x1`: gpu[0]",
    );
    assert_at(
        &bad("\"16Gi\"", "\"16 Gi\""),
        "gpu[1].memory",
        14,
        "Kubernetes quantity",
    );
    assert_at(
        &bad("= 300.0", "= 0.0"),
        "gpu[1].memory_bandwidth_gb_per_s",
        15,
        "above zero",
    );
    assert_at(
        &bad("= 100.0", "= -inf"),
        "gpu[1].bf16_dense_tflops",
        16,
        "finite",
    );
    assert_at(&bad("sms = 40", "sms = 0"), "gpu[1].sms", 17, "at least 1");
    assert_at(&bad("sms = 40", "sms = -1"), "gpu[1].sms", 17, "u32");
    assert_at(
        &bad("mig = false", "mig = \"no\""),
        "gpu[1].mig",
        18,
        "bool",
    );
    assert_at(
        &bad("mig = false", "migg = false"),
        "gpu[1].migg",
        18,
        "did you mean `mig`?",
    );
    assert_at(
        &bad("name = \"X1\"", "name = \" \""),
        "gpu[1].name",
        13,
        "empty string",
    );
    // Cost-model constants: optional, checked when given.
    assert_at(
        &bad("mig = false", "mig = false\nbandwidth_efficiency = 1.5"),
        "gpu[1].bandwidth_efficiency",
        19,
        "at most 1",
    );
    assert_at(
        &bad("mig = false", "mig = false\nlayer_overhead_us = -2.0"),
        "gpu[1].layer_overhead_us",
        19,
        "not negative",
    );
    let ok = Catalog::builtin().with_gpus(&file, "user.toml").unwrap();
    assert_eq!(ok.gpu("x1").unwrap().perf, GpuPerf::default());
}

#[test]
fn dates_are_calendar_dates() {
    for ok in ["2026-11-22", "2024-02-29", "2000-02-29", "1999-12-31"] {
        assert!(is_date(ok), "{ok}");
    }
    for bad in [
        "2026-11-31",
        "1900-02-29",
        "2026-00-10",
        "2026-11-00",
        "2026-11-2",
        "2026-11-22 ",
        "+026-11-22",
        "２０２６-11-22",
        "",
    ] {
        assert!(!is_date(bad), "{bad}");
    }
}

/// The network figures disaggregated serving reads, and a bad one refused at its key.
#[test]
fn network_bandwidth_is_the_documented_one_and_checked() {
    let c = Catalog::builtin();
    let gbps = |id: &str| c.instance(id).unwrap().network_gbps;
    assert_eq!(gbps("p5.48xlarge"), Some(3200.0));
    assert_eq!(gbps("p4d.24xlarge"), Some(400.0));
    assert_eq!(gbps("a3-highgpu-8g"), Some(1000.0));
    assert_eq!(gbps("Standard_ND96isr_H100_v5"), Some(3200.0));
    assert_eq!(gbps("g5.xlarge"), None, "no published figure, none given");
    let e = instance_error("gpu_count = 1", "gpu_count = 1\nnetwork_gbps = -5.0");
    assert_eq!(e.key, "instance[1].network_gbps", "{e}");
    assert!(e.message.contains("above 0"), "{e}");
}

//! TEMPORARY stand-in written by the lead while the catalog helper finishes the real module
//! (data files in sim-core/catalog/). Overwrite freely.

use crate::scenario::ScenarioError;

/// A GPU model.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuModel {
    /// Id.
    pub id: String,
}

/// An instance type.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceType {
    /// Id.
    pub id: String,
    /// Provider.
    pub provider: String,
    /// Region.
    pub region: String,
    /// vCPUs.
    pub vcpu: u32,
    /// Memory.
    pub memory_bytes: u64,
    /// GPU id.
    pub gpu: Option<String>,
    /// GPUs.
    pub gpu_count: u32,
    /// Price.
    pub on_demand_usd_per_hour: f64,
    /// Spot price.
    pub spot_usd_per_hour: Option<f64>,
}

/// Catalog.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// GPUs.
    pub gpus: Vec<GpuModel>,
    /// Instances.
    pub instances: Vec<InstanceType>,
}

impl Catalog {
    /// Built-in.
    pub fn builtin() -> Catalog {
        Catalog::default()
    }
    /// Override.
    pub fn with_instances(&self, _src: &str, _file: &str) -> Result<Catalog, ScenarioError> {
        let mut c = self.clone();
        c.instances.push(InstanceType {
            id: "test.gpu1".into(),
            provider: "aws".into(),
            region: "test-region-1".into(),
            vcpu: 8,
            memory_bytes: 64 << 30,
            gpu: Some("h100-sxm".into()),
            gpu_count: 1,
            on_demand_usd_per_hour: 3.6,
            spot_usd_per_hour: Some(1.8),
        });
        Ok(c)
    }
    /// Override.
    pub fn with_gpus(&self, _src: &str, _file: &str) -> Result<Catalog, ScenarioError> {
        Ok(self.clone())
    }
    /// Lookup.
    pub fn instance(&self, id: &str) -> Option<&InstanceType> {
        self.instances.iter().find(|i| i.id == id)
    }
    /// Ids.
    pub fn instance_ids(&self) -> Vec<&str> {
        self.instances.iter().map(|i| i.id.as_str()).collect()
    }
}

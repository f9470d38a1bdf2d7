//! Taints on nodes and the tolerations that let pods past them.

/// A taint's effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Effect {
    /// Pods that do not tolerate it are not scheduled there.
    NoSchedule,
    /// The scheduler prefers other nodes for pods that do not tolerate it.
    PreferNoSchedule,
    /// As `NoSchedule` for scheduling (evicting running pods is not modelled).
    NoExecute,
}

impl Effect {
    /// The Kubernetes name.
    pub fn name(self) -> &'static str {
        match self {
            Effect::NoSchedule => "NoSchedule",
            Effect::PreferNoSchedule => "PreferNoSchedule",
            Effect::NoExecute => "NoExecute",
        }
    }
}

/// A node taint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value (may be empty).
    pub value: String,
    /// Effect.
    pub effect: Effect,
}

/// How a toleration matches a taint's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TolerationOperator {
    /// Key and value equal.
    Equal,
    /// Key matches (an empty key matches every key).
    Exists,
}

/// A pod toleration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toleration {
    /// Taint key; empty with `Exists` means every key.
    pub key: String,
    /// Operator.
    pub operator: TolerationOperator,
    /// Value for `Equal`.
    pub value: String,
    /// Effect; `None` tolerates every effect.
    pub effect: Option<Effect>,
}

impl Toleration {
    /// Upstream `Toleration.ToleratesTaint`.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator {
            TolerationOperator::Exists => true,
            TolerationOperator::Equal => self.value == taint.value,
        }
    }
}

/// Whether any of `tolerations` tolerates `taint`.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(k: &str, v: &str, e: Effect) -> Taint {
        Taint {
            key: k.into(),
            value: v.into(),
            effect: e,
        }
    }

    #[test]
    fn upstream_matching_rules() {
        let gpu = taint("nvidia.com/gpu", "present", Effect::NoSchedule);
        let exists = Toleration {
            key: "nvidia.com/gpu".into(),
            operator: TolerationOperator::Exists,
            value: String::new(),
            effect: None,
        };
        let equal_wrong = Toleration {
            key: "nvidia.com/gpu".into(),
            operator: TolerationOperator::Equal,
            value: "absent".into(),
            effect: None,
        };
        let wrong_effect = Toleration {
            effect: Some(Effect::NoExecute),
            ..exists.clone()
        };
        let everything = Toleration {
            key: String::new(),
            operator: TolerationOperator::Exists,
            value: String::new(),
            effect: None,
        };
        assert!(exists.tolerates(&gpu));
        assert!(!equal_wrong.tolerates(&gpu));
        assert!(!wrong_effect.tolerates(&gpu));
        assert!(everything.tolerates(&gpu));
    }
}

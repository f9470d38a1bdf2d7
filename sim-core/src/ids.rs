//! Typed indices: each kind of component is addressed by its own id type, an index into the
//! vector that holds it, so a pod id can never be used where a node id is meant.

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl $name {
            /// The index into the owning vector.
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

typed_id!(
    /// A node, by launch order.
    NodeId
);
typed_id!(
    /// A pod, by creation order across every service.
    PodId
);
typed_id!(
    /// A node pool, by its order in the scenario.
    PoolId
);
typed_id!(
    /// A replica engine (a pod's model server, or the shared queue), by its slot within its
    /// service (with one service, the pod's index).
    EngineId
);
typed_id!(
    /// A service (a Deployment and its traffic), by its order in the scenario.
    ServiceId
);

//! Configuration: one schema ([`keys`]), raw layers from each source ([`layers`]), and
//! typed, validated settings ([`settings`]).
//!
//! Sources, lowest precedence first: defaults < `.dockguard.toml` < `git config
//! dockguard.*` < environment `DOCKGUARD_*` < flags. Which source may set which key is
//! part of the schema ([`Trust`]): the repository's file describes content; what runs,
//! where dockguard connects, what it pushes and how strict a check is come from the
//! machine (git config, environment, flags). The run context ([`crate::context`]) reads
//! the layers once; every front door gets its settings from there.

pub mod keys;
pub mod layers;
pub mod settings;

pub use keys::{Name, KEYS};
pub use layers::{closest, EnvSettings, FileLayer, Flag, Layers, Origin, Resolved, FILE_NAME};
pub use settings::{
    CiSettings, ContentSettings, OnError, Policy, RunSettings, Undeclared, Verbosity,
};

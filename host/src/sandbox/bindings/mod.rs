//! The released versions of the WIT package side by side: one bindings module per version
//! (`v0_1_0`, never edited once released), the version a component imports told by
//! [`WitVersion::of`], and the enums a session dispatches on ([`StrategyPre`] built per
//! component, [`Exports`] per instance). Adding a version is one new module plus its arm in
//! each enum here.

pub(crate) mod v0_1_0;

use semver::Version;
use wasmtime::Store;
use wasmtime::component::{InstancePre, Linker};

use super::request::{BatchPlan, StrategyRequest};
use super::state::CallState;
use super::validate::UncheckedSelection;

/// The newest WIT package version this host implements (`spoke:batches@x.y.z`).
pub const WIT_VERSION: &str = v0_1_0::PACKAGE;

/// A WIT package version this host implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WitVersion {
    /// `spoke:batches@0.1.0`.
    V0_1_0,
}

impl WitVersion {
    /// Every version implemented, newest first.
    const ALL: [WitVersion; 1] = [WitVersion::V0_1_0];

    /// The version a component is taken to implement when it imports nothing of the package.
    pub(crate) const NEWEST: WitVersion = WitVersion::ALL[0];

    /// The implemented version equal to `version` (exactly: a release is frozen, and a
    /// pre-release or another patch is another package).
    pub(crate) fn of(version: &Version) -> Option<Self> {
        WitVersion::ALL
            .into_iter()
            .find(|known| known.version() == *version)
    }

    fn version(self) -> Version {
        match self {
            WitVersion::V0_1_0 => v0_1_0::VERSION,
        }
    }

    /// The package with its version (`spoke:batches@0.1.0`).
    pub(crate) fn package(self) -> &'static str {
        match self {
            WitVersion::V0_1_0 => v0_1_0::PACKAGE,
        }
    }

    /// The versions implemented, for an error message.
    pub(crate) fn supported() -> String {
        WitVersion::ALL.map(WitVersion::package).join(", ")
    }
}

/// Links every implemented version's host interfaces (their names carry their versions, so
/// they live side by side in one linker).
pub(crate) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    v0_1_0::add_to_linker(linker)
}

/// A component linked once, for the version it implements.
pub(crate) enum StrategyPre {
    /// `spoke:batches@0.1.0`.
    V0_1_0(v0_1_0::StrategyPre<CallState>),
}

impl StrategyPre {
    /// Checks that `instance_pre` exports `version`'s `strategy` world.
    pub(crate) fn new(version: WitVersion, instance_pre: InstancePre<CallState>) -> wasmtime::Result<Self> {
        match version {
            WitVersion::V0_1_0 => Ok(StrategyPre::V0_1_0(v0_1_0::StrategyPre::new(instance_pre)?)),
        }
    }

    /// The version the component implements.
    pub(crate) fn version(&self) -> WitVersion {
        match self {
            StrategyPre::V0_1_0(_) => WitVersion::V0_1_0,
        }
    }

    /// A fresh instance in `store`. The generated bindings type-check the exports of every
    /// instance; once one instance passed (`checked_before`), the check is skipped.
    ///
    /// # Safety
    ///
    /// `checked_before` may be true only after `instantiate` of this same pre-instance
    /// succeeded with it false.
    #[allow(unsafe_code)]
    pub(crate) async unsafe fn instantiate(
        &self,
        store: &mut Store<CallState>,
        checked_before: bool,
    ) -> wasmtime::Result<Exports> {
        match self {
            // SAFETY: the caller's promise is what `instantiate_async_checked_before` requires.
            StrategyPre::V0_1_0(pre) if checked_before => Ok(Exports::V0_1_0(unsafe {
                pre.instantiate_async_checked_before(store).await?
            })),
            StrategyPre::V0_1_0(pre) => Ok(Exports::V0_1_0(pre.instantiate_async(store).await?)),
        }
    }
}

/// One instance's exports, for the version it implements; each call converts the host's
/// version-free types to the version's and back.
pub(crate) enum Exports {
    /// `spoke:batches@0.1.0`.
    V0_1_0(v0_1_0::Strategy),
}

impl Exports {
    /// `name`.
    pub(crate) async fn call_name(&self, store: &mut Store<CallState>) -> wasmtime::Result<String> {
        match self {
            Exports::V0_1_0(exports) => exports.call_name(store).await,
        }
    }

    /// `display-name`.
    pub(crate) async fn call_display_name(&self, store: &mut Store<CallState>) -> wasmtime::Result<String> {
        match self {
            Exports::V0_1_0(exports) => exports.call_display_name(store).await,
        }
    }

    /// `request-new-batch-count`.
    pub(crate) async fn call_request_new_batch_count(
        &self,
        store: &mut Store<CallState>,
        request: &StrategyRequest,
    ) -> wasmtime::Result<Result<u32, String>> {
        match self {
            Exports::V0_1_0(exports) => {
                let request = v0_1_0::spoke::batches::types::BatchRequest::from(request);
                exports.call_request_new_batch_count(store, &request).await
            }
        }
    }

    /// `select-contacts`, its answer not yet validated.
    pub(crate) async fn call_select_contacts(
        &self,
        store: &mut Store<CallState>,
        request: &StrategyRequest,
        plan: BatchPlan,
    ) -> wasmtime::Result<Result<UncheckedSelection, String>> {
        match self {
            Exports::V0_1_0(exports) => {
                let request = v0_1_0::spoke::batches::types::BatchRequest::from(request);
                let selection = exports.call_select_contacts(store, &request, plan.into()).await?;
                Ok(selection.map(UncheckedSelection::from))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use semver::Version;

    use super::{WIT_VERSION, WitVersion};

    #[test]
    fn only_a_released_version_exactly_is_implemented() {
        let of = |text: &str| Version::parse(text).ok().as_ref().and_then(WitVersion::of);
        assert_eq!(of("0.1.0"), Some(WitVersion::V0_1_0));
        for other in ["0.1.1", "0.2.0", "1.0.0", "0.1.0-rc.1", "0.1.0+build"] {
            assert_eq!(of(other), None, "{other}");
        }
        assert!(
            Version::parse("0.1").is_err(),
            "not semver, so never a known version"
        );
        assert_eq!(WitVersion::NEWEST.package(), WIT_VERSION);
        assert_eq!(WitVersion::supported(), "spoke:batches@0.1.0");
    }
}

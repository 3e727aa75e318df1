//! `spoke-batches spoke-extension`: the folders a Spoke admin copies into Spoke's
//! `extensions/dynamicassignment-batches/`. Spoke loads one folder per strategy name
//! (`DYNAMICASSIGNMENT_BATCHES`), so the output is the shared bridge (`spoke-batches/`, the
//! repository's `bridge/spoke/spoke-batches/` embedded in the binary) and one one-line folder
//! per strategy that names it.

use std::path::{Path, PathBuf};

use include_dir::{Dir, DirEntry, include_dir};
use serde::Serialize;

use crate::error_code::ErrorCode;
use crate::registry::StrategyRegistry;
use crate::sandbox::is_valid_name;

/// The JavaScript bridge, as the repository has it when the host is built.
static BRIDGE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../bridge/spoke/spoke-batches");

/// The bridge's folder name; every strategy folder requires `../spoke-batches`.
pub const BRIDGE_FOLDER: &str = "spoke-batches";

/// Spoke's own strategies: a folder of the same name replaces Spoke's when copied.
pub const SPOKE_OWN_STRATEGIES: [&str; 5] = [
    "all-texters",
    "finished-replies",
    "finished-replies-tz",
    "vetted-texters",
    "vetted-takeconversations",
];

/// One strategy to write a folder for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgedStrategy {
    /// The strategy's name in spoke-batches.
    pub strategy: String,
    /// Its `display-name()`, Spoke's title for admins.
    pub display_name: String,
}

/// One folder written for a strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WrittenFolder {
    /// The folder's name: the name Spoke knows the strategy by (`<prefix><strategy>`).
    pub folder: String,
    /// The strategy it asks spoke-batches about.
    pub strategy: String,
    /// Its title for admins.
    pub display_name: String,
}

/// What `spoke-extension` wrote.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WrittenExtension {
    /// The output folder.
    pub out: PathBuf,
    /// The shared bridge's folder in it.
    pub bridge: PathBuf,
    /// One folder per strategy.
    pub strategies: Vec<WrittenFolder>,
    /// What to copy where, and what to configure in Spoke.
    pub next_steps: Vec<String>,
}

/// Why nothing (or not everything) was written.
#[derive(Debug, thiserror::Error)]
pub enum ExtensionError {
    /// A strategy asked for by name is not loaded.
    #[error("strategy `{name}` is not loaded from {dir}; loaded strategies: {loaded}")]
    UnknownStrategy {
        /// The name asked for.
        name: String,
        /// The strategies folder.
        dir: PathBuf,
        /// The loaded strategies, comma-separated.
        loaded: String,
    },
    /// Nothing to write folders for.
    #[error("no strategy is loaded from {0}; build them with `make strategies` or pass --strategies DIR")]
    NoStrategies(PathBuf),
    /// A folder name Spoke cannot load a strategy from.
    #[error(
        "`{0}` cannot name a Spoke strategy folder: use lowercase letters, digits and single `-`, \
         starting with a letter (check --prefix and --names)"
    )]
    BadName(String),
    /// The folder the bridge itself takes.
    #[error(
        "a strategy folder cannot be named `{BRIDGE_FOLDER}`: the bridge takes that folder; use --prefix"
    )]
    ReservedName,
    /// The output folder has files already.
    #[error(
        "{0} exists and is not empty; choose another --out, or pass --force to replace the folders it writes"
    )]
    Exists(PathBuf),
    /// Writing failed.
    #[error("cannot write {path}: {reason}")]
    Io {
        /// What was being written.
        path: PathBuf,
        /// Why it failed.
        reason: String,
    },
}

impl ExtensionError {
    /// The stable code clients match on.
    pub fn code(&self) -> ErrorCode {
        match self {
            ExtensionError::UnknownStrategy { .. } => ErrorCode::UnknownStrategy,
            ExtensionError::NoStrategies(_) => ErrorCode::NoStrategies,
            ExtensionError::BadName(_) | ExtensionError::ReservedName => ErrorCode::BadName,
            ExtensionError::Exists(_) => ErrorCode::Exists,
            ExtensionError::Io { .. } => ErrorCode::Io,
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ExtensionError + '_ {
    move |error| ExtensionError::Io {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

/// A JavaScript string literal (JSON's escaping is valid JavaScript).
fn js_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
}

/// The `index.js` of a strategy folder: one line that hands the bridge the names.
pub fn strategy_module(folder: &str, strategy: &str, display_name: &str) -> String {
    format!(
        "module.exports = require(\"../{BRIDGE_FOLDER}\").strategy({{ name: {}, strategy: {}, displayName: {} }});\n",
        js_string(folder),
        js_string(strategy),
        js_string(display_name)
    )
}

/// The strategies `names` asks for (every loaded one when empty, by name), with their display
/// names from the loaded components of `registry`, the strategies folder `dir`.
pub fn bridged_strategies(
    registry: &StrategyRegistry,
    names: &[String],
    dir: &Path,
) -> Result<Vec<BridgedStrategy>, ExtensionError> {
    let loaded: Vec<&str> = registry
        .entries()
        .filter(|(_, entry)| entry.serving.is_some())
        .map(|(name, _)| name)
        .collect();
    let mut wanted: Vec<&str> = Vec::new();
    for name in names.iter().map(String::as_str) {
        if !wanted.contains(&name) {
            wanted.push(name);
        }
    }
    if names.is_empty() {
        wanted = loaded.clone();
    }
    if wanted.is_empty() {
        return Err(ExtensionError::NoStrategies(dir.to_path_buf()));
    }
    wanted
        .into_iter()
        .map(|name| match registry.get(name) {
            Some(component) => Ok(BridgedStrategy {
                strategy: name.to_string(),
                display_name: component.display_name().to_string(),
            }),
            None => Err(ExtensionError::UnknownStrategy {
                name: name.to_string(),
                dir: dir.to_path_buf(),
                loaded: if loaded.is_empty() {
                    "none".to_string()
                } else {
                    loaded.join(", ")
                },
            }),
        })
        .collect()
}

/// Writes `dir`'s files under `base`, keeping their relative paths.
fn write_dir(dir: &Dir<'_>, base: &Path) -> Result<(), ExtensionError> {
    for entry in dir.entries() {
        let target = base.join(entry.path());
        match entry {
            DirEntry::Dir(subdir) => {
                std::fs::create_dir_all(&target).map_err(io_error(&target))?;
                write_dir(subdir, base)?;
            }
            DirEntry::File(file) => {
                std::fs::write(&target, file.contents()).map_err(io_error(&target))?;
            }
        }
    }
    Ok(())
}

/// Creates `folder` afresh: with `force`, what was there is removed first, so no stale file
/// of an older bridge stays behind.
fn fresh_folder(folder: &Path, force: bool) -> Result<(), ExtensionError> {
    if force && folder.exists() {
        std::fs::remove_dir_all(folder).map_err(io_error(folder))?;
    }
    std::fs::create_dir_all(folder).map_err(io_error(folder))
}

/// Writes the bridge and one folder per strategy (named `<prefix><strategy>`) into `out`.
/// Refuses an `out` that has files unless `force`, which replaces only the folders written.
pub fn write_extension(
    out: &Path,
    strategies: &[BridgedStrategy],
    prefix: &str,
    force: bool,
) -> Result<WrittenExtension, ExtensionError> {
    let folders: Vec<WrittenFolder> = strategies
        .iter()
        .map(|strategy| WrittenFolder {
            folder: format!("{prefix}{}", strategy.strategy),
            strategy: strategy.strategy.clone(),
            display_name: strategy.display_name.clone(),
        })
        .collect();
    for folder in &folders {
        if !is_valid_name(&folder.folder) {
            return Err(ExtensionError::BadName(folder.folder.clone()));
        }
        if folder.folder == BRIDGE_FOLDER {
            return Err(ExtensionError::ReservedName);
        }
    }
    let has_files = match std::fs::read_dir(out) {
        Ok(mut listing) => listing.next().is_some(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
        Err(error) => return Err(io_error(out)(error)),
    };
    if has_files && !force {
        return Err(ExtensionError::Exists(out.to_path_buf()));
    }
    let bridge = out.join(BRIDGE_FOLDER);
    fresh_folder(&bridge, force)?;
    write_dir(&BRIDGE, &bridge)?;
    for folder in &folders {
        let path = out.join(&folder.folder);
        fresh_folder(&path, force)?;
        let module = path.join("index.js");
        std::fs::write(
            &module,
            strategy_module(&folder.folder, &folder.strategy, &folder.display_name),
        )
        .map_err(io_error(&module))?;
    }
    Ok(WrittenExtension {
        next_steps: next_steps(out, &folders),
        out: out.to_path_buf(),
        bridge,
        strategies: folders,
    })
}

fn next_steps(out: &Path, folders: &[WrittenFolder]) -> Vec<String> {
    let names: Vec<&str> = folders.iter().map(|folder| folder.folder.as_str()).collect();
    let mut steps = vec![
        format!(
            "copy every folder of {} into Spoke's build/server/extensions/dynamicassignment-batches/ \
             (a running Spoke finds them on its next request), or into \
             src/extensions/dynamicassignment-batches/ before building and deploying Spoke",
            out.display()
        ),
        "set SPOKE_BATCHES_URL (this service's address, e.g. http://127.0.0.1:8080), \
         SPOKE_BATCHES_TOKEN (the service's SPOKE_BATCHES_TOKEN) and SPOKE_BATCHES_TIMEOUT_MS (how \
         long Spoke waits for an answer before it assigns nothing) in Spoke's environment or its \
         CONFIG_FILE; the bridge never reads them from an organization's features"
            .to_string(),
        format!(
            "set DYNAMICASSIGNMENT_BATCHES to the folders Spoke should offer, the default first, \
             comma-separated without spaces (Spoke does not trim names): {}",
            names.join(",")
        ),
    ];
    let replacing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| SPOKE_OWN_STRATEGIES.contains(name))
        .collect();
    if !replacing.is_empty() {
        steps.push(format!(
            "{} carry the names of Spoke's own strategies: copied, they replace Spoke's own; run \
             again with --prefix sb- to keep both",
            replacing.join(", ")
        ));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strategy_module_is_one_line_with_escaped_names() {
        assert_eq!(
            strategy_module("sb-x", "x", "Say \"hi\" \\ now"),
            "module.exports = require(\"../spoke-batches\").strategy({ name: \"sb-x\", strategy: \"x\", \
             displayName: \"Say \\\"hi\\\" \\\\ now\" });\n"
        );
    }

    #[test]
    fn the_bridge_is_embedded() {
        assert!(BRIDGE.get_file("index.js").is_some());
    }

    #[test]
    fn named_strategies_must_be_loaded() {
        let dir = Path::new("strategies/dist");
        let empty = StrategyRegistry::default();
        assert!(matches!(
            bridged_strategies(&empty, &[], dir),
            Err(ExtensionError::NoStrategies(_))
        ));
        assert!(matches!(
            bridged_strategies(&empty, &["x".to_string()], dir),
            Err(ExtensionError::UnknownStrategy { name, loaded, .. }) if name == "x" && loaded == "none"
        ));
    }

    #[test]
    fn folder_names_follow_the_strategy_name_rule() {
        let out = std::env::temp_dir().join("spoke-extension-never-written");
        let strategy = |name: &str| BridgedStrategy {
            strategy: name.to_string(),
            display_name: String::new(),
        };
        assert!(matches!(
            write_extension(&out, &[strategy("x")], "SB_", false),
            Err(ExtensionError::BadName(name)) if name == "SB_x"
        ));
        assert!(matches!(
            write_extension(&out, &[strategy("batches")], "spoke-", false),
            Err(ExtensionError::ReservedName)
        ));
        assert!(!out.exists(), "nothing is written for a refused name");
    }
}

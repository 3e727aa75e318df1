//! `spoke-batches new NAME`: a new strategy from a template, the way the README describes by
//! hand (`cp -rp strategies/vetted-texters strategies/NAME` and one rename), then built.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::sandbox::is_valid_name;

/// What `new` made.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scaffolded {
    /// The new strategy's source folder.
    pub created: PathBuf,
    /// The built component.
    pub component: PathBuf,
    /// What to do next.
    pub next_steps: Vec<String>,
}

/// Why `new` refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name cannot name a strategy.
    #[error(
        "`{0}` is not a valid strategy name: use lowercase letters, digits and single `-`, starting with a \
         letter (it becomes the directory, the package and name())"
    )]
    BadName(String),
    /// The folder exists already.
    #[error("{0} already exists; pick another name or remove it first")]
    Exists(PathBuf),
    /// The template folder is missing.
    #[error("the template {0} does not exist; pass --from with one of the folders in the strategies folder")]
    NoTemplate(PathBuf),
    /// Copying or editing failed.
    #[error("cannot create {path}: {reason}")]
    Io {
        /// What was being written.
        path: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// The template's Cargo.toml does not name its package as expected.
    #[error("{0} does not contain `name = \"{1}\"`; rename the package by hand")]
    NoPackageName(PathBuf, String),
    /// The build failed (the new folder is kept, for fixing).
    #[error("the new strategy was created in {path} but does not build:\n{output}")]
    Build {
        /// The new folder.
        path: PathBuf,
        /// The end of the build output.
        output: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ScaffoldError + '_ {
    move |error| ScaffoldError::Io {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

/// Copies `from` to `to`, leaving out build output (`target/`).
fn copy_tree(from: &Path, to: &Path) -> Result<(), ScaffoldError> {
    std::fs::create_dir_all(to).map_err(io_error(to))?;
    for entry in std::fs::read_dir(from).map_err(io_error(from))? {
        let entry = entry.map_err(io_error(from))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        if entry.file_type().map_err(io_error(&source))?.is_dir() {
            if entry.file_name() != "target" {
                copy_tree(&source, &target)?;
            }
        } else {
            std::fs::copy(&source, &target).map_err(io_error(&target))?;
        }
    }
    Ok(())
}

/// Creates `sources/NAME` from `sources/TEMPLATE`, renames the package, and builds the
/// component into `dist`.
pub fn scaffold(
    sources: &Path,
    dist: &Path,
    name: &str,
    template: &str,
) -> Result<Scaffolded, ScaffoldError> {
    if !is_valid_name(name) {
        return Err(ScaffoldError::BadName(name.to_string()));
    }
    let from = sources.join(template);
    let created = sources.join(name);
    if !from.join("Cargo.toml").is_file() {
        return Err(ScaffoldError::NoTemplate(from));
    }
    if created.exists() {
        return Err(ScaffoldError::Exists(created));
    }
    copy_tree(&from, &created)?;
    // The one rename: the package name (name() returns it).
    let manifest = created.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(io_error(&manifest))?;
    let old = format!("name = \"{template}\"");
    if !text.contains(&old) {
        return Err(ScaffoldError::NoPackageName(manifest, template.to_string()));
    }
    let renamed = text.replacen(&old, &format!("name = \"{name}\""), 1);
    std::fs::write(&manifest, renamed).map_err(io_error(&manifest))?;
    let component = build(sources, dist, &created, name)?;
    Ok(Scaffolded {
        next_steps: vec![
            format!(
                "edit {} (its display name and its rules)",
                created.join("src/lib.rs").display()
            ),
            "run `make strategies` (or `make dev`, which rebuilds on save) to build it again".to_string(),
            format!("enable it with DYNAMICASSIGNMENT_BATCHES={name} (environment or organization features)"),
            format!("check it with `spoke-batches check {}`", component.display()),
            format!(
                "adapt the starter fixtures in {} (copied from {template}) and run `spoke-batches test {name}`",
                created.join("fixtures").display()
            ),
        ],
        created,
        component,
    })
}

/// Builds the new crate: with the repository's `make strategies` when the sources sit in the
/// repository, else with cargo directly.
fn build(sources: &Path, dist: &Path, created: &Path, name: &str) -> Result<PathBuf, ScaffoldError> {
    // `strategies` (the default) has the parent "", which names no directory to run in.
    let root = match sources.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let output = if root.join("Makefile").is_file() {
        Command::new("make")
            .arg("--no-print-directory")
            .arg("strategies")
            .current_dir(root)
            .output()
    } else {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| created.join("target"));
        let built = Command::new("cargo")
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(created.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .output();
        if let Ok(result) = &built
            && result.status.success()
        {
            let artifact = target
                .join("wasm32-wasip2/release")
                .join(format!("{}.wasm", name.replace('-', "_")));
            std::fs::create_dir_all(dist).map_err(io_error(dist))?;
            std::fs::copy(&artifact, dist.join(format!("{name}.wasm"))).map_err(io_error(&artifact))?;
        }
        built
    };
    match output {
        Ok(result) if result.status.success() => Ok(dist.join(format!("{name}.wasm"))),
        Ok(result) => {
            let text = String::from_utf8_lossy(&result.stderr);
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            Err(ScaffoldError::Build {
                path: created.to_path_buf(),
                output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            })
        }
        Err(error) => Err(ScaffoldError::Build {
            path: created.to_path_buf(),
            output: format!("cannot run the build: {error}"),
        }),
    }
}

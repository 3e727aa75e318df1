//! `spoke-batches new NAME`: a new strategy from a template, the way the README describes by
//! hand (`cp -rp strategies/vetted-texters strategies/NAME` and one rename), then built. The
//! template is a Rust crate (the default), or with `--lang js|ts` a JavaScript or TypeScript
//! package; a package is also added to the cargo workspace's `exclude` (it is not a crate).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::sandbox::is_valid_name;

/// The language a strategy is written in: its template's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// A Rust crate (`Cargo.toml`, `src/lib.rs`).
    Rust,
    /// A JavaScript package (`package.json`, `src/strategy.js`).
    Js,
    /// A TypeScript package (`package.json`, `tsconfig.json`, `src/strategy.ts`).
    Ts,
}

impl Language {
    /// The template `new --lang` copies unless `--from` names another.
    pub fn template(self) -> &'static str {
        match self {
            Language::Rust => "vetted-texters",
            Language::Js => "js-vetted-texters",
            Language::Ts => "ts-vetted-texters",
        }
    }

    /// The language of the strategy sources in `dir`, if it holds any.
    pub fn of(dir: &Path) -> Option<Language> {
        if dir.join("Cargo.toml").is_file() {
            Some(Language::Rust)
        } else if dir.join("package.json").is_file() {
            Some(if dir.join("tsconfig.json").is_file() {
                Language::Ts
            } else {
                Language::Js
            })
        } else {
            None
        }
    }

    /// The file holding the strategy's rules.
    fn source(self) -> &'static str {
        match self {
            Language::Rust => "src/lib.rs",
            Language::Js => "src/strategy.js",
            Language::Ts => "src/strategy.ts",
        }
    }

    /// The manifest naming the package.
    fn manifest(self) -> &'static str {
        match self {
            Language::Rust => "Cargo.toml",
            Language::Js | Language::Ts => "package.json",
        }
    }
}

/// What `new` made.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scaffolded {
    /// The new strategy's source folder.
    pub created: PathBuf,
    /// The language it is written in.
    pub language: Language,
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
    #[error(
        "the template {0} does not exist (no Cargo.toml or package.json in it); pass --from with one of the \
         folders in the strategies folder"
    )]
    NoTemplate(PathBuf),
    /// `--lang` and the template `--from` names disagree.
    #[error(
        "the template {template} is written in {found:?}, not {asked:?}: drop --from to start from the \
         {asked:?} template, or drop --lang"
    )]
    LanguageMismatch {
        /// The template folder.
        template: PathBuf,
        /// Its language.
        found: Language,
        /// The language asked for.
        asked: Language,
    },
    /// Copying or editing failed.
    #[error("cannot create {path}: {reason}")]
    Io {
        /// What was being written.
        path: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// The template's manifest does not name its package as expected.
    #[error("{0} does not contain `{1}`; rename the package by hand")]
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

/// Build output and installed packages a copy leaves out.
const NOT_COPIED: [&str; 3] = ["target", "node_modules", ".build"];

/// Copies `from` to `to`, leaving out build output and installed packages.
fn copy_tree(from: &Path, to: &Path) -> Result<(), ScaffoldError> {
    std::fs::create_dir_all(to).map_err(io_error(to))?;
    for entry in std::fs::read_dir(from).map_err(io_error(from))? {
        let entry = entry.map_err(io_error(from))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        if entry.file_type().map_err(io_error(&source))?.is_dir() {
            if !NOT_COPIED.iter().any(|skipped| entry.file_name() == *skipped) {
                copy_tree(&source, &target)?;
            }
        } else {
            std::fs::copy(&source, &target).map_err(io_error(&target))?;
        }
    }
    Ok(())
}

/// Creates `sources/NAME` from a template (`--from`, else the one of `language`, else the Rust
/// one), renames the package, and builds the component into `dist`.
pub fn scaffold(
    sources: &Path,
    dist: &Path,
    name: &str,
    template: Option<&str>,
    language: Option<Language>,
) -> Result<Scaffolded, ScaffoldError> {
    if !is_valid_name(name) {
        return Err(ScaffoldError::BadName(name.to_string()));
    }
    let template = template.unwrap_or(language.unwrap_or(Language::Rust).template());
    let from = sources.join(template);
    let found = Language::of(&from).ok_or_else(|| ScaffoldError::NoTemplate(from.clone()))?;
    if let Some(asked) = language.filter(|asked| *asked != found) {
        return Err(ScaffoldError::LanguageMismatch {
            template: from,
            found,
            asked,
        });
    }
    let created = sources.join(name);
    if created.exists() {
        return Err(ScaffoldError::Exists(created));
    }
    // A half-made folder is removed, so the same command can run again.
    let made = copy_tree(&from, &created).and_then(|()| rename(sources, &created, found, template, name));
    if let Err(error) = made {
        let _ = std::fs::remove_dir_all(&created);
        return Err(error);
    }
    let component = build(sources, dist, &created, name, found)?;
    Ok(Scaffolded {
        next_steps: vec![
            format!(
                "edit {} (its display name and its rules)",
                created.join(found.source()).display()
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
        language: found,
        component,
    })
}

/// The one rename: the package name (name() returns it). A JavaScript or TypeScript package
/// also joins the cargo workspace's `exclude`.
fn rename(
    sources: &Path,
    created: &Path,
    language: Language,
    template: &str,
    name: &str,
) -> Result<(), ScaffoldError> {
    let manifest = created.join(language.manifest());
    match language {
        Language::Rust => replace_once(
            &manifest,
            &format!("name = \"{template}\""),
            &format!("name = \"{name}\""),
        ),
        Language::Js | Language::Ts => {
            let (old, new) = (
                format!("\"name\": \"{template}\""),
                format!("\"name\": \"{name}\""),
            );
            replace_once(&manifest, &old, &new)?;
            // The lockfile names the package too (at the top and as its root package).
            let lockfile = created.join("package-lock.json");
            if lockfile.is_file() {
                let text = std::fs::read_to_string(&lockfile).map_err(io_error(&lockfile))?;
                std::fs::write(&lockfile, text.replace(&old, &new)).map_err(io_error(&lockfile))?;
            }
            exclude_from_workspace(sources, name)
        }
    }
}

/// Replaces the first `old` in `path` with `new`, refusing a file without it.
fn replace_once(path: &Path, old: &str, new: &str) -> Result<(), ScaffoldError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    if !text.contains(old) {
        return Err(ScaffoldError::NoPackageName(path.to_path_buf(), old.to_string()));
    }
    std::fs::write(path, text.replacen(old, new, 1)).map_err(io_error(path))
}

/// The folder holding the sources folder: the repository root when they sit in one.
fn root_of(sources: &Path) -> &Path {
    // `strategies` (the default) has the parent "", which names no directory to run in.
    match sources.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Adds `<sources>/NAME` to the `exclude` list of the cargo workspace above the sources
/// folder, if there is one: the workspace's `strategies/*` members glob would otherwise take
/// the package for a crate without a Cargo.toml and every cargo command would fail.
fn exclude_from_workspace(sources: &Path, name: &str) -> Result<(), ScaffoldError> {
    let manifest = root_of(sources).join("Cargo.toml");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return Ok(());
    };
    let invalid = |reason: String| ScaffoldError::Io {
        path: manifest.clone(),
        reason,
    };
    let mut document: toml_edit::DocumentMut = text.parse().map_err(|error| invalid(format!("{error}")))?;
    let Some(workspace) = document
        .get_mut("workspace")
        .and_then(|item| item.as_table_like_mut())
    else {
        return Ok(());
    };
    let folder = sources
        .file_name()
        .map_or_else(|| ".".into(), |folder| folder.to_string_lossy());
    let entry = format!("{folder}/{name}");
    let exclude = workspace
        .entry("exclude")
        .or_insert_with(|| toml_edit::value(toml_edit::Array::new()))
        .as_array_mut()
        .ok_or_else(|| invalid("its workspace.exclude is not a list".to_string()))?;
    if exclude
        .iter()
        .any(|listed| listed.as_str() == Some(entry.as_str()))
    {
        return Ok(());
    }
    let mut value = toml_edit::Value::from(entry);
    if one_entry_per_line(exclude) {
        value.decor_mut().set_prefix("\n    ");
        exclude.set_trailing_comma(true);
        exclude.set_trailing("\n");
    }
    exclude.push_formatted(value);
    std::fs::write(&manifest, document.to_string()).map_err(io_error(&manifest))
}

/// Whether a TOML list is written one entry per line (its first entry starts on a new line).
fn one_entry_per_line(list: &toml_edit::Array) -> bool {
    let prefix = list.iter().next().and_then(|first| first.decor().prefix());
    prefix
        .and_then(|prefix| prefix.as_str())
        .is_some_and(|text| text.contains('\n'))
}

/// Builds the new strategy: with the repository's `make strategies` when the sources sit in
/// the repository, else with cargo, or npm, directly.
fn build(
    sources: &Path,
    dist: &Path,
    created: &Path,
    name: &str,
    language: Language,
) -> Result<PathBuf, ScaffoldError> {
    let root = root_of(sources);
    let output = if root.join("Makefile").is_file() {
        Command::new("make")
            .arg("--no-print-directory")
            .arg("strategies")
            .current_dir(root)
            .output()
    } else if language == Language::Rust {
        build_crate(dist, created, name)
    } else {
        build_package(dist, created)
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

/// `cargo build` of a crate outside the repository, copied into `dist`.
fn build_crate(dist: &Path, created: &Path, name: &str) -> std::io::Result<std::process::Output> {
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
        .output()?;
    if built.status.success() {
        let artifact = target
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", name.replace('-', "_")));
        std::fs::create_dir_all(dist)?;
        std::fs::copy(&artifact, dist.join(format!("{name}.wasm")))?;
    }
    Ok(built)
}

/// `npm ci` (when the package pins dependencies) and `npm run build -- DIST` of a package
/// outside the repository.
fn build_package(dist: &Path, created: &Path) -> std::io::Result<std::process::Output> {
    if created.join("package-lock.json").is_file() {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefer-offline"])
            .current_dir(created)
            .output()?;
        if !installed.status.success() {
            return Ok(installed);
        }
    }
    std::fs::create_dir_all(dist)?;
    let dist = std::path::absolute(dist)?;
    Command::new("npm")
        .args(["run", "build", "--"])
        .arg(dist)
        .current_dir(created)
        .output()
}

#[cfg(test)]
mod tests {
    use super::exclude_from_workspace;

    #[test]
    fn a_package_joins_the_workspace_exclude_once_keeping_one_entry_per_line() {
        let root = tempfile::tempdir().unwrap();
        let manifest = root.path().join("Cargo.toml");
        std::fs::write(
            &manifest,
            "[workspace]\nmembers = [\"strategies/*\"]\nexclude = [\n    \"strategies/dist\",\n]\n",
        )
        .unwrap();
        let sources = root.path().join("strategies");
        exclude_from_workspace(&sources, "my-policy").unwrap();
        exclude_from_workspace(&sources, "my-policy").unwrap();
        assert_eq!(
            std::fs::read_to_string(&manifest).unwrap(),
            "[workspace]\nmembers = [\"strategies/*\"]\nexclude = [\n    \"strategies/dist\",\n    \"strategies/my-policy\",\n]\n"
        );
    }
}

//! Build steps the host's embedded files need:
//! - the dashboard's charting library (uPlot) comes from the npm registry, pinned by
//!   `host/dashboard/package-lock.json`: `npm ci` installs it into this build's `OUT_DIR`, and
//!   the service embeds its script, stylesheet and licence (`service/page.rs`), so the page works
//!   with no network at run time;
//! - the host is rebuilt when the Spoke bridge it embeds changes: `include_dir!` tracks the files
//!   it found, but not a file added to the folder later.

use std::path::{Path, PathBuf};
use std::process::{Command, exit};
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-changed=../bridge/spoke/spoke-batches");
    println!("cargo:rerun-if-changed=dashboard/package.json");
    println!("cargo:rerun-if-changed=dashboard/package-lock.json");
    println!("cargo:rerun-if-env-changed=NPM");
    let Some(out_dir) = env::var_os("OUT_DIR") else {
        eprintln!("error: OUT_DIR is not set: run the build with cargo");
        exit(1);
    };
    let out = PathBuf::from(out_dir).join("dashboard");
    if let Err(message) = install_dashboard_libraries(Path::new("dashboard"), &out) {
        eprintln!("error: {message}");
        exit(1);
    }
}

/// Runs `npm ci` on a copy of the dashboard's package files in `out`, so the source tree stays
/// untouched and every build profile has its own installation.
fn install_dashboard_libraries(source: &Path, out: &Path) -> Result<(), String> {
    fs::create_dir_all(out).map_err(|error| format!("cannot create {}: {error}", out.display()))?;
    for file in ["package.json", "package-lock.json"] {
        fs::copy(source.join(file), out.join(file))
            .map_err(|error| format!("cannot copy host/dashboard/{file} into the build folder: {error}"))?;
    }
    let npm = env::var("NPM").unwrap_or_else(|_| "npm".to_string());
    let status = Command::new(&npm)
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--prefer-offline",
            "--ignore-scripts",
        ])
        .args(["--loglevel=error"])
        .current_dir(out)
        .status()
        .map_err(|error| {
            format!(
                "cannot run `{npm} ci` for the dashboard's charting library (uPlot, pinned in \
                 host/dashboard/package-lock.json): {error}; install Node.js and npm (or set NPM \
                 to npm's path)"
            )
        })?;
    if !status.success() {
        return Err(format!(
            "`{npm} ci` in {} failed ({status}) installing the dashboard's charting library \
             pinned in host/dashboard/package-lock.json: the first build needs the npm registry, \
             later ones use npm's cache",
            out.display()
        ));
    }
    for file in [
        "uplot/dist/uPlot.iife.min.js",
        "uplot/dist/uPlot.min.css",
        "uplot/LICENSE",
    ] {
        let path = out.join("node_modules").join(file);
        if !path.is_file() {
            return Err(format!(
                "`npm ci` did not install {}: is host/dashboard/package-lock.json's uplot a \
                 version that has it?",
                path.display()
            ));
        }
    }
    Ok(())
}

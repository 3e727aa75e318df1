//! Benchmark 11: `make dev`'s edit-to-serve time for a JavaScript strategy (issue 20's target:
//! within 10 s of the save).
//!
//! A copy of the JavaScript template (`bench/out/dev-loop/js-vetted-texters`, inside the
//! repository because the build finds `wit/` above the package) is run as `make dev` runs a
//! strategy: the template's `build.mjs --watch` rebuilds it on save into a folder that the
//! release `spoke-batches serve --incremental-compile` serves and watches. Each edit rewrites
//! the strategy's display name in `src/strategy.js`; the time runs from the write to the first
//! `GET /v1/strategies` that shows the new name. The build's own time is the one the watcher
//! prints for it; the service's load (compile with the incremental cache, link, probe) is what
//! remains after the build and the two watchers' 150 ms debounces. For comparison, the same
//! build run in a fresh node process, as `make strategies` runs it.

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{Spread, fresh_sqlite_file, seed};

const EDITS: usize = 5;
/// The template's build (componentize-js), run for one package.
const BUILD: &str = "strategies/js-vetted-texters/build.mjs";

fn main() {
    common::runtime().block_on(run());
}

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The copy of the template: `<work>/js-vetted-texters` (its package.json and sources).
fn copy_template(work: &Path) -> PathBuf {
    let template = root().join("strategies/js-vetted-texters");
    let package = work.join("js-vetted-texters");
    std::fs::create_dir_all(package.join("src")).expect("package folder");
    std::fs::copy(template.join("package.json"), package.join("package.json")).expect("package.json");
    for file in ["strategy.js", "prelude.js"] {
        std::fs::copy(template.join("src").join(file), package.join("src").join(file)).expect("source");
    }
    package
}

/// Rewrites the strategy's display name to `name`.
fn edit(package: &Path, name: &str) {
    let path = package.join("src/strategy.js");
    let source = std::fs::read_to_string(&path).expect("strategy.js");
    let start = source.find("return \"").expect("displayName's return") + "return \"".len();
    let end = start + source[start..].find('"').expect("end of the name");
    let edited = format!("{}{name}{}", &source[..start], &source[end..]);
    std::fs::write(&path, edited).expect("write strategy.js");
}

/// Runs the build once in a fresh node process, as `make strategies` does, timed.
fn build(package: &Path, dist: &Path) -> Duration {
    let started = Instant::now();
    let status = Command::new("node")
        .arg(root().join(BUILD))
        .arg("--package")
        .arg(package)
        .arg(dist)
        .current_dir(root())
        .stdout(Stdio::null())
        .status()
        .expect("run the build");
    assert!(
        status.success(),
        "the build failed (run `make js-strategies` first)"
    );
    started.elapsed()
}

/// The seconds of each build the watcher printed ("built … in 2.1 s"), in order.
fn watcher_build_times(printed: &str) -> Vec<Duration> {
    printed
        .lines()
        .filter_map(|line| {
            line.strip_prefix("built ")?
                .rsplit_once(" in ")?
                .1
                .strip_suffix(" s")?
                .parse()
                .ok()
        })
        .map(Duration::from_secs_f64)
        .collect()
}

/// The display name `js-vetted-texters` has in the service now.
async fn served_name(client: &reqwest::Client, base: &str) -> Option<String> {
    let answer: Value = client
        .get(format!("{base}/v1/strategies"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    answer["strategies"]
        .as_array()?
        .iter()
        .find(|strategy| strategy["name"] == "js-vetted-texters" && strategy["status"] == "loaded")
        .and_then(|strategy| strategy["displayName"].as_str().map(str::to_string))
}

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn run() {
    let work = root().join("bench/out/dev-loop");
    let _ = std::fs::remove_dir_all(&work);
    let package = copy_template(&work);
    let dist = work.join("dist");
    let scratch = work.join("scratch-dist");

    // The build alone, on edits like the served ones.
    let mut builds = Vec::new();
    for number in 0..EDITS {
        edit(&package, &format!("Build-only edit {number}"));
        builds.push(build(&package, &scratch));
    }

    edit(&package, "Served edit 0");
    build(&package, &dist);
    let watcher_log = work.join("watcher.log");
    let watcher = Service(
        Command::new("node")
            .arg(root().join(BUILD))
            .arg("--watch")
            .arg("--packages")
            .arg(&work)
            .arg(&dist)
            .current_dir(root())
            .stdout(std::fs::File::create(&watcher_log).expect("watcher log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn build.mjs --watch"),
    );
    let url = fresh_sqlite_file("bench-dev-loop.sqlite");
    seed(&url, 1_000, 0, false);
    let mut child = Command::new(common::binary())
        .args(["--database-url", &url, "--strategies"])
        .arg(&dist)
        .args(["serve", "--listen", "127.0.0.1:0", "--cache-dir"])
        .arg(work.join("cache"))
        .arg("--incremental-compile")
        .current_dir(root())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn spoke-batches serve");
    let printed = common::announcement(&mut child);
    let service = Service(child);
    let base = printed["listening"].as_str().expect("listening").to_string();
    let client = reqwest::Client::new();
    assert_eq!(
        served_name(&client, &base).await.as_deref(),
        Some("Served edit 0")
    );

    let mut served = Vec::new();
    for number in 1..=EDITS {
        let name = format!("Served edit {number}");
        let saved = Instant::now();
        edit(&package, &name);
        loop {
            if served_name(&client, &base).await.as_deref() == Some(name.as_str()) {
                break;
            }
            assert!(
                saved.elapsed() < Duration::from_secs(300),
                "edit {number} was never served"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        served.push(saved.elapsed());
        // The watcher settles before the next save.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    drop(service);
    drop(watcher);
    let watched = watcher_build_times(&std::fs::read_to_string(&watcher_log).unwrap_or_default());
    assert_eq!(
        watched.len(),
        EDITS,
        "the watcher built once per edit: {watched:?}"
    );

    let total = Spread::of_ms(&served);
    let warm = Spread::of_ms(&watched);
    let build = Spread::of_ms(&builds);
    let out = format!(
        "## 11. make dev: an edited JavaScript strategy, from save to served\n\n\
         A copy of the JavaScript template, rebuilt on save by the template's `build.mjs --watch` \
         and served by the release `spoke-batches serve --incremental-compile`, as `make dev` runs \
         them; {EDITS} edits of `src/strategy.js`, each timed from the write to the first \
         `GET /v1/strategies` naming the new display name. Target (issue 20): 10 s.\n\n\
         | step | p50 s | IQR s |\n|---|---|---|\n\
         | save → served (all of it) | **{:.2}** | {:.2} – {:.2} |\n\
         | the two watchers' debounces | 0.30 | |\n\
         | build (componentize-js) in the watching process | {:.2} | {:.2} – {:.2} |\n\
         | load (compile with the incremental cache, link, probe): the rest | {:.2} | |\n\
         | for comparison: the build in a fresh process (`make strategies`) | {:.2} | {:.2} – {:.2} |\n",
        total.p50 / 1000.0,
        total.p25 / 1000.0,
        total.p75 / 1000.0,
        warm.p50 / 1000.0,
        warm.p25 / 1000.0,
        warm.p75 / 1000.0,
        (total.p50 - warm.p50 - 300.0).max(0.0) / 1000.0,
        build.p50 / 1000.0,
        build.p25 / 1000.0,
        build.p75 / 1000.0,
    );
    common::write_section("11-dev-loop.md", &out);
}

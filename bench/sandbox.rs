//! Benchmark 1 — the sandbox's cost per call: a fresh store and instance of the
//! `vetted-texters` component (pooling allocator, `InstancePre`) plus one
//! `request-new-batch-count` whose host imports are answered from memory, against the same logic
//! compiled natively behind the same `ContactSource` trait.
//!
//! Criterion measures each contender; an interleaved run (rounds taking the contenders in turn,
//! so all see the same machine noise) gives the difference and the ratio with their spread, and
//! a third contender, a fresh store and instance dropped without a call, shows how much of the
//! difference is instantiation and teardown alone. The interleaved figures are written to
//! `bench/out/1-sandbox.md` for `bench/RESULTS.md`.
//!
//! Needs `make strategies` first (`make bench` does it).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "common/mod.rs"]
mod common;

use common::Spread;
use criterion::Criterion;
use spoke_batches::model::CampaignContact;
use spoke_batches::sandbox::{Sandbox, SandboxLimits, StrategyComponent, StrategyRequest};
use spoke_batches::source::MemorySource;

/// `check`'s fixture scaled to a batch of 100: 200 available contacts and a vetted texter, so
/// the strategy asks the role, then counts to 100.
fn fixture() -> (StrategyRequest, MemorySource) {
    let (mut request, mut source) = spoke_batches::authoring::check::fixture();
    request.campaign.batch_size = Some(100);
    request.count_cap = 100;
    let template = source.contacts[0].clone();
    source.contacts = Arc::new(
        (1..=200)
            .map(|id| CampaignContact {
                id,
                ..template.clone()
            })
            .collect(),
    );
    (request, source)
}

async fn wasm_call(
    component: &Arc<StrategyComponent>,
    request: &StrategyRequest,
    source: &MemorySource,
) -> u32 {
    let mut session = match component.start(source.clone()).await {
        Ok(session) => session,
        Err(error) => panic!("{error}"),
    };
    match session.request_new_batch_count(request).await {
        Ok(report) => report.value,
        Err(error) => panic!("{error}"),
    }
}

/// A fresh store and instance, dropped without a call: what instantiation and teardown cost.
async fn instance_only(component: &Arc<StrategyComponent>, limits: &Arc<SandboxLimits>) {
    if let Err(error) = component.prepare(Arc::clone(limits)).await {
        panic!("{error}");
    }
}

async fn native_call(request: &StrategyRequest, source: &MemorySource) -> u32 {
    let mut source = source.clone();
    common::vetted_texters_count(request, &mut source).await
}

fn main() {
    let runtime = common::runtime();
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../strategies/dist/vetted-texters.wasm");
    let sandbox = Sandbox::new(SandboxLimits::default()).expect("sandbox");
    let component = runtime
        .block_on(sandbox.load_file(&dist))
        .unwrap_or_else(|error| panic!("{error} (run `make strategies` first)"));
    let limits = Arc::clone(sandbox.limits());
    let (request, source) = fixture();
    assert_eq!(runtime.block_on(wasm_call(&component, &request, &source)), 100);
    assert_eq!(runtime.block_on(native_call(&request, &source)), 100);

    let mut criterion = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(5));
    let mut group = criterion.benchmark_group("request-new-batch-count");
    group.bench_function("wasm (fresh instance + call)", |b| {
        b.iter(|| runtime.block_on(wasm_call(&component, &request, &source)))
    });
    group.bench_function("native", |b| {
        b.iter(|| runtime.block_on(native_call(&request, &source)))
    });
    group.finish();

    // Interleaved: each round takes the contenders in one of their orders, so all see the same
    // noise and none always runs after the same other.
    const ROUNDS: usize = 60;
    const CALLS: u32 = 200;
    let (mut wasm, mut instance, mut native, mut differences, mut ratios) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let orders = common::every_order(3);
    for order in orders.iter().cycle().take(ROUNDS) {
        let time = |contender: usize| {
            let started = Instant::now();
            for _ in 0..CALLS {
                match contender {
                    0 => {
                        runtime.block_on(wasm_call(&component, &request, &source));
                    }
                    1 => {
                        runtime.block_on(native_call(&request, &source));
                    }
                    _ => runtime.block_on(instance_only(&component, &limits)),
                }
            }
            started.elapsed().as_secs_f64() * 1e6 / f64::from(CALLS)
        };
        let mut times = [0.0; 3];
        for &contender in order {
            times[contender] = time(contender);
        }
        let [w, n, i] = times;
        wasm.push(w);
        native.push(n);
        instance.push(i);
        differences.push(w - n);
        ratios.push(w / n);
    }
    let difference = Spread::of(&differences);
    let summary = format!(
        "## 1. Sandbox overhead per call\n\n\
         Fresh store + instance of `vetted-texters` (pooling allocator, `InstancePre`) and one \
         `request-new-batch-count` (a role check and a capped count answered from memory), against \
         the same rules compiled natively behind the same trait; {ROUNDS} interleaved rounds of \
         {CALLS} calls each, every order of the contenders in turn. Target: under 10 µs more than native. The \
         second row is a fresh store and instance dropped without a call (wasmtime's \
         instantiation and the pooling allocator's reset of the instance's memory and tables): \
         the share of the overhead that does not depend on the strategy or its host calls.\n\n\
         | contender | median µs per call |\n|---|---|\n\
         | WASM component (fresh store and instance, one call) | {:.2} |\n\
         | fresh store and instance only, no call | {:.2} |\n\
         | native | {:.3} |\n\n\
         | comparison | median | interquartile range |\n|---|---|---|\n\
         | WASM − native (µs) | **{:.2}** | {:.2} – {:.2} |\n| WASM / native | {:.0}x | |\n",
        Spread::of(&wasm).p50,
        Spread::of(&instance).p50,
        Spread::of(&native).p50,
        difference.p50,
        difference.p25,
        difference.p75,
        Spread::of(&ratios).p50,
    );
    common::write_section("1-sandbox.md", &summary);
}

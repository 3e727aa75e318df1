//! Benchmark 1 — the sandbox's cost per call: a fresh store and instance of the
//! `vetted-texters` component (pooling allocator, `InstancePre`) plus one
//! `request-new-batch-count` whose host imports are answered from memory, against the same logic
//! compiled natively behind the same `ContactSource` trait.
//!
//! Criterion measures each contender; an interleaved run (rounds alternating the two, so both
//! see the same machine noise) gives the difference and the ratio with their spread. The
//! interleaved figures are written to `bench/out/sandbox.md` for `bench/RESULTS.md`.
//!
//! Needs `make strategies` first (`make bench` does it).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use spoke_batches::filter::{AssignmentScope, ContactFilter, StatusFilter, TimezoneScope};
use spoke_batches::model::{CampaignContact, Role};
use spoke_batches::runtime::{Sandbox, SandboxLimits, StrategyComponent, StrategyRequest};
use spoke_batches::source::{ContactSource, MemorySource};

/// `check`'s fixture scaled to a batch of 100: 200 available contacts and a vetted texter, so
/// the strategy asks the role, then counts to 100.
fn fixture() -> (StrategyRequest, MemorySource) {
    let (mut request, mut source) = spoke_batches::check::fixture();
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

/// `vetted-texters`' rules, natively, behind the same trait the component's imports use.
async fn vetted_texters_native(request: &StrategyRequest, source: &mut dyn ContactSource) -> u32 {
    let campaign = &request.campaign;
    if !campaign.use_dynamic_assignment || campaign.is_archived {
        return 0;
    }
    if request.assignment.max_contacts == Some(0) || campaign.batch_size.unwrap_or(0) == 0 {
        return 0;
    }
    if !source
        .assignment_user_has_role(Role::VettedTexter)
        .await
        .unwrap_or(false)
    {
        let previous = ContactFilter {
            status: StatusFilter::Any,
            assignment: AssignmentScope::ThisAssignment,
            opted_out: None,
            timezone: TimezoneScope::Any,
        };
        if source.any_contact(&previous).await.unwrap_or(true) {
            return 0;
        }
    }
    source
        .count_contacts(&ContactFilter::available(), Some(request.count_cap))
        .await
        .unwrap_or(0)
}

async fn wasm_call(
    component: &Arc<StrategyComponent>,
    request: &StrategyRequest,
    source: &MemorySource,
) -> u32 {
    let mut session = match component.start(Box::new(source.clone())).await {
        Ok(session) => session,
        Err(error) => panic!("{error}"),
    };
    match session.request_new_batch_count(request).await {
        Ok(report) => report.value,
        Err(error) => panic!("{error}"),
    }
}

async fn native_call(request: &StrategyRequest, source: &MemorySource) -> u32 {
    let mut source = source.clone();
    vetted_texters_native(request, &mut source).await
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn quartiles(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    (values[values.len() / 4], values[values.len() * 3 / 4])
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../strategies/dist/vetted-texters.wasm");
    let sandbox = Sandbox::new(SandboxLimits::default()).expect("sandbox");
    let component = runtime
        .block_on(sandbox.load_file(&dist))
        .unwrap_or_else(|error| panic!("{error} (run `make strategies` first)"));
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

    // Interleaved: rounds alternate the contenders, so both see the same noise.
    const ROUNDS: usize = 60;
    const CALLS: u32 = 200;
    let (mut wasm, mut native, mut differences, mut ratios) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let time = |wasm_first: bool| {
            let started = Instant::now();
            for _ in 0..CALLS {
                if wasm_first {
                    runtime.block_on(wasm_call(&component, &request, &source));
                } else {
                    runtime.block_on(native_call(&request, &source));
                }
            }
            started.elapsed().as_secs_f64() * 1e6 / f64::from(CALLS)
        };
        // Alternate which goes first, too.
        let (w, n) = if round % 2 == 0 {
            let w = time(true);
            (w, time(false))
        } else {
            let n = time(false);
            (time(true), n)
        };
        wasm.push(w);
        native.push(n);
        differences.push(w - n);
        ratios.push(w / n);
    }
    let (low, high) = quartiles(&mut differences.clone());
    let summary = format!(
        "## 1. Sandbox overhead per call\n\n\
         Fresh store + instance of `vetted-texters` (pooling allocator, `InstancePre`) and one \
         `request-new-batch-count` (a role check and a capped count answered from memory), against \
         the same rules compiled natively behind the same trait; {ROUNDS} interleaved rounds of \
         {CALLS} calls each. Target: under 10 µs more than native.\n\n\
         | contender | median µs per call |\n|---|---|\n\
         | WASM component | {:.2} |\n| native | {:.3} |\n\n\
         | comparison | median | interquartile range |\n|---|---|---|\n\
         | WASM − native (µs) | **{:.2}** | {:.2} – {:.2} |\n| WASM / native | {:.0}x | |\n",
        median(&mut wasm),
        median(&mut native),
        median(&mut differences.clone()),
        low,
        high,
        median(&mut ratios),
    );
    println!("{summary}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/out");
    if std::fs::create_dir_all(&out).is_ok() {
        let _ = std::fs::write(out.join("1-sandbox.md"), summary);
    }
}

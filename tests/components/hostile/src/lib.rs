//! `hostile`: a strategy that misbehaves on demand, for the sandbox tests. The campaign title
//! picks the misbehaviour; any other title behaves like `all-texters` without the base checks.

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "strategy",
});

use std::hint::black_box;

use spoke::batches::host::{count_contacts, log};
use spoke::batches::types::{
    AssignmentFilter, ContactFilter, ContactQuery, LogLevel, MessageStatus, StatusFilter, TimezoneFilter,
};

fn available() -> ContactFilter {
    ContactFilter {
        status: StatusFilter::OneOf(vec![MessageStatus::NeedsMessage]),
        assignment: AssignmentFilter::Unassigned,
        opted_out: Some(false),
        timezone: TimezoneFilter::Any,
    }
}

/// Recurses until the stack runs out.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    black_box(depth) + recurse(black_box(depth + 1))
}

/// Runs one of the measured modes `NAME:N`, which go up to a limit without crossing it (or just
/// past it), and returns what `request-new-batch-count` answers; `None` for any other mode.
/// - `burn:N` runs a loop of N iterations (fuel);
/// - `host-calls:N` makes N host calls (the call itself makes none other);
/// - `memory-to:N` grows the linear memory to N bytes, rounded up to whole pages.
fn measured(mode: &str) -> Option<Result<u32, String>> {
    let (name, amount) = mode.split_once(':')?;
    let amount: u64 = amount.parse().ok()?;
    match name {
        "burn" => {
            let mut total = 0u64;
            for i in 0..amount {
                total = black_box(total.wrapping_add(i));
            }
            Some(Ok((total % 2) as u32))
        }
        "host-calls" => {
            let filter = available();
            let mut answered = 0;
            for _ in 0..amount {
                answered = count_contacts(&filter, Some(1));
            }
            Some(Ok(answered))
        }
        "memory-to" => Some(grow_memory_to(amount.div_ceil(65_536) as usize).map(|pages| pages as u32)),
        _ => None,
    }
}

/// Grows the linear memory to `pages` pages (if it is smaller); answers its size in pages.
#[cfg(target_arch = "wasm32")]
fn grow_memory_to(pages: usize) -> Result<usize, String> {
    let current = core::arch::wasm32::memory_size(0);
    if pages > current && core::arch::wasm32::memory_grow(0, pages - current) == usize::MAX {
        return Err("memory.grow failed".to_string());
    }
    Ok(core::arch::wasm32::memory_size(0))
}

/// Outside WebAssembly (the workspace's lint builds every crate for the host) there is no
/// linear memory to grow.
#[cfg(not(target_arch = "wasm32"))]
fn grow_memory_to(_pages: usize) -> Result<usize, String> {
    Err("memory-to runs only in WebAssembly".to_string())
}

/// Runs the misbehaviour named `mode`, if it is one.
fn misbehave(mode: &str) -> Result<(), String> {
    match mode {
        "panic" => panic!("hostile strategy panicked on purpose"),
        "loop" => loop {
            black_box(0);
        },
        "grow-memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1; 1 << 20]);
                black_box(&hoard);
            }
        }
        "recurse" => {
            black_box(recurse(0));
            Ok(())
        }
        "err" => Err("refused on purpose".to_string()),
        "huge-error" => Err("x".repeat(10 << 20)),
        "host-call-flood" => {
            for _ in 0..1_000_000 {
                black_box(count_contacts(&available(), Some(1)));
            }
            Ok(())
        }
        "log-flood" => {
            for i in 0..900 {
                log(LogLevel::Info, &format!("line {i} of a flood of log lines"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

struct Hostile;

impl Guest for Hostile {
    fn name() -> String {
        env!("CARGO_PKG_NAME").to_string()
    }

    fn display_name() -> String {
        "Misbehaves on demand (tests only)".to_string()
    }

    fn request_new_batch_count(request: BatchRequest) -> Result<u32, String> {
        if let Some(answer) = measured(&request.campaign.title) {
            return answer;
        }
        misbehave(&request.campaign.title)?;
        Ok(count_contacts(&available(), Some(request.count_cap)))
    }

    fn select_contacts(request: BatchRequest, plan: BatchPlan) -> Result<ContactSelection, String> {
        let mut filter = available();
        let mut limit = None;
        match request.campaign.title.as_str() {
            "select-panic" => panic!("hostile select-contacts panicked on purpose"),
            "limit-above-plan" => limit = Some(plan.number_contacts + 1),
            "huge-list" => filter.status = StatusFilter::OneOf(vec![MessageStatus::Convo; 1_000_000]),
            _ => {}
        }
        Ok(ContactSelection {
            batch_query: Some(ContactQuery { filter, limit }),
            has_current_query: None,
        })
    }
}

export!(Hostile);

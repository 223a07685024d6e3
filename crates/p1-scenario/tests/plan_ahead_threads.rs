//! The plan-ahead workers' lifetime: they run while the simulation does and end when it is
//! dropped, even in the middle of a run with their channels full. A test binary of its
//! own, so no other test's workers are counted.

#![cfg(target_os = "linux")]

use std::path::Path;

use p1_scenario::{Scenario, Simulation};

/// Whether the number of [`workers`] becomes `n` within many looks at `/proc` (a thread
/// names itself once running, and leaves `/proc` a moment after it was joined; the
/// model's crates read no clock, so the bound is a count, seconds at most).
fn workers_become(n: usize) -> bool {
    (0..100_000).any(|_| {
        std::thread::yield_now();
        workers() == n
    })
}

/// Threads of this process named as the workers are.
fn workers() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter(|task| {
            let comm = task.as_ref().unwrap().path().join("comm");
            std::fs::read_to_string(comm).is_ok_and(|name| name.trim() == "p1sim-plan")
        })
        .count()
}

#[test]
fn workers_end_with_their_simulation() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/year-15min.toml");
    let scenario = Scenario::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(workers(), 0);
    let mut sim = Simulation::new(&scenario);
    sim.plan_ahead();
    // One worker per planned load: the household, the PV and the washing machine.
    assert!(workers_become(3), "{} workers", workers());
    for _ in 0..3 {
        assert!(sim.next_frame().is_some());
    }
    // Days ahead of a year: the workers are planning or waiting on full channels.
    assert_eq!(workers(), 3);
    drop(sim);
    assert!(workers_become(0), "{} workers left", workers());
}

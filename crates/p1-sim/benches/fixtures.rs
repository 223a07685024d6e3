//! `p1sim fixtures --check` on one thread and on two, against the machine's own limit
//! (a bench command, not a test).
//!
//! A shared virtual machine does not give two threads twice one thread's speed even for
//! work that shares nothing, and how much it gives changes from minute to minute. So
//! each round measures, back to back, in this process:
//!
//! - the catalogue checked on 1 thread, then on 2 (`fixtures_on`, as the command runs);
//! - the yardstick: the catalogue checked on 1 thread twice, one after the other, then
//!   twice at the same time on two threads of their own (work with nothing shared: the
//!   best two threads can do here and now).
//!
//! It prints the medians of each round's ratios: 2 threads / 1 thread for `fixtures`,
//! side by side / one after the other for the yardstick (0.5 on an ideal machine), and
//! how much of the machine's speed-up `fixtures` gets. Every round checks the goldens.
//!
//! Run from anywhere in the workspace: `cargo bench -p p1-sim --bench fixtures -- 15`
//! (the number of rounds; 15 by default).

use std::path::{Path, PathBuf};
use std::time::Instant;

fn check(root: &Path, threads: usize) {
    let mut out = Vec::new();
    let code = p1_sim::fixtures::fixtures_on(
        &root.join("scenarios"),
        &root.join("golden"),
        true,
        true,
        threads,
        &mut out,
    )
    .unwrap_or_else(|e| panic!("fixtures: {e}"));
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
}

fn seconds(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(15)
        .max(1);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    // One untimed round: files in the page cache, the allocator warm.
    check(&root, 1);
    let (mut one, mut two, mut ratio, mut yard) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let t1 = seconds(|| check(&root, 1));
        let t2 = seconds(|| check(&root, 2));
        let serial = seconds(|| {
            check(&root, 1);
            check(&root, 1);
        });
        let side_by_side = seconds(|| {
            std::thread::scope(|s| {
                let a = s.spawn(|| check(&root, 1));
                check(&root, 1);
                a.join().expect("the other check");
            });
        });
        one.push(t1);
        two.push(t2);
        ratio.push(t2 / t1);
        yard.push(side_by_side / serial);
    }
    let (r, y) = (median(ratio), median(yard));
    println!(
        "fixtures --check: 1 thread {:.0} ms, 2 threads {:.0} ms (medians of {rounds} rounds)",
        median(one) * 1e3,
        median(two) * 1e3
    );
    println!("fixtures, 2 threads / 1 thread:                      {r:.3}");
    println!("yardstick, two 1-thread checks side by side / in turn: {y:.3} (0.5 is ideal)");
    println!(
        "fixtures gets {:.0}% of the machine's 2-thread speed-up ((1 - ratio) / (1 - yardstick))",
        100.0 * (1.0 - r) / (1.0 - y)
    );
}

//! Entry point of the `p1sim` binary; everything else lives in the library.

fn main() {
    std::process::exit(p1_sim::main_with_args(std::env::args()));
}

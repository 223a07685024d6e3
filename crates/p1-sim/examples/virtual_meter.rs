//! A virtual P1 meter for another program's tests: plays a scenario on a pseudo-terminal
//! in the background, reads it back like a P1 reader would, and stops when dropped.
//!
//! `cargo run -p p1-sim --example virtual_meter [SCENARIO]`

use std::io::Read;

use p1_scenario::Scenario;
use p1_sim::live::{LiveOptions, LiveSinkSpec, Pacing, VirtualMeter};
use p1_wire::Decoder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scenario = match std::env::args().nth(1) {
        Some(path) => Scenario::from_path(path.as_ref()).map_err(|e| e.to_string())?,
        None => Scenario::quickstart(),
    };
    // Ten simulated seconds per real second; a real-time test would keep the default.
    let opts = LiveOptions {
        pacing: Pacing::Speed(10.0),
        ..LiveOptions::default()
    };
    let meter = VirtualMeter::from_scenario(&scenario, LiveSinkSpec::Pty { link: None }, opts)?;
    let path = meter.path().ok_or("not a pty")?.to_path_buf();
    println!("virtual meter on {}", path.display());

    // The code under test would open `path` as its serial port; here we read it ourselves.
    let mut port = std::fs::File::open(&path)?;
    let mut decoder = Decoder::new();
    let mut seen = 0;
    let mut buf = [0u8; 2048];
    while seen < 3 {
        let n = port.read(&mut buf)?;
        decoder.feed(&buf[..n], &mut |telegram| {
            if let Ok(frame) = telegram {
                let r = frame.readout;
                println!(
                    "{}  import {} W  export {} W  1.8.1 {} Wh",
                    r.time, r.import_w, r.export_w, r.import_wh[0]
                );
                seen += 1;
            }
        });
    }
    drop(meter); // stops the meter and closes the pty
    Ok(())
}

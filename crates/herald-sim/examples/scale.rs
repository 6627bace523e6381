//! How the population model scales: `cargo run --release -p herald-sim --example scale -- [PHONES
//! PER COUNTRY] [DAYS]` prints one line per day (meetings, sightings, infections, positives, wall
//! time) and the peak resident memory, so that `herald demo --phones N` can be sized.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use herald_sim::{Scenario, Simulation};

fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let phones = args.next().and_then(|a| a.parse().ok()).unwrap_or(33_334);
    let days = args.next().and_then(|a| a.parse().ok()).unwrap_or(14);
    let scenario = Scenario { phones_per_country: phones, days, ..Scenario::default() };
    let started = Instant::now();
    let mut sim = match Simulation::new(scenario) {
        Ok(sim) => sim,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(2);
        }
    };
    for _ in 0..days {
        let day = Instant::now();
        let r = sim.step();
        println!(
            "day {:2}: {:8} meetings ({:6} across borders), {:9} sightings, {:5} infections, {:4} positives, {:.1} s",
            r.day,
            r.contacts,
            r.cross_border_contacts,
            r.sightings,
            r.infections,
            r.positives.len(),
            day.elapsed().as_secs_f64()
        );
    }
    println!(
        "{} phones, {days} days: {:.1} s, peak {} MiB",
        sim.people().len(),
        started.elapsed().as_secs_f64(),
        peak_rss_mib().map_or_else(|| "?".to_owned(), |m| m.to_string())
    );
}

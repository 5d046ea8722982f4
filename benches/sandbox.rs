//! What the sandbox adds to starting a process (issue 14's goal: ≤ 15 ms at p50): `true` run
//! plainly (`std::process::Command`) against `true` in bubblewrap with the default limits, in
//! the same run, plus `python3 -c pass` both ways.
//!
//! `cargo bench --bench sandbox` (release; needs `bwrap`, see `scripts/setup-bubblewrap.sh`).

use std::time::{Duration, Instant};

use agent_os_kernel::security::sandbox::{RunSpec, Sandbox};

const N: usize = 100;

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1e3
}

fn plain(program: &str, args: &[&str]) -> Vec<Duration> {
    (0..N)
        .map(|_| {
            let t = Instant::now();
            let status = std::process::Command::new(program).args(args).status();
            assert!(status.is_ok_and(|s| s.success()));
            t.elapsed()
        })
        .collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::detect()?;
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )?;
    println!(
        "| command | plain p50 / p99 | sandboxed p50 / p99 | added at p50 |\n|---|---|---|---|"
    );
    for (program, args) in [("true", vec![]), ("python3", vec!["-c", "pass"])] {
        let mut base = plain(program, &args);
        let spec = RunSpec::new(program, dir.path()).args(args.iter().copied());
        let mut boxed = Vec::with_capacity(N);
        for _ in 0..N {
            let t = Instant::now();
            let out = sandbox.run(&spec).await?;
            assert!(out.success(), "{out:?}");
            boxed.push(t.elapsed());
        }
        let (b50, b99, s50, s99) = (
            pct(&mut base, 0.5),
            pct(&mut base, 0.99),
            pct(&mut boxed, 0.5),
            pct(&mut boxed, 0.99),
        );
        println!(
            "| `{program} {}` | {b50:.2} / {b99:.2} ms | {s50:.2} / {s99:.2} ms | {:.2} ms |",
            args.join(" "),
            s50 - b50
        );
    }
    Ok(())
}

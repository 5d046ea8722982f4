//! The policy check's cost (issue 14's goal: ≤ 5 µs): a tool check, a message check, a model
//! check, and a path check (canonicalisation included: the file system is asked), against a
//! baseline that only compares two strings, in the same run.
//!
//! `cargo bench --bench policy` (release).

use std::hint::black_box;
use std::time::Instant;

use agent_os_kernel::security::policy::{AllowBlock, PermissionLevel, SecurityPolicy};

const N: u32 = 200_000;

fn time(label: &str, n: u32, mut f: impl FnMut() -> bool) {
    let mut ok = 0u32;
    let t = Instant::now();
    for _ in 0..n {
        ok += u32::from(black_box(f()));
    }
    let per = t.elapsed().as_nanos() as f64 / f64::from(n);
    println!("| {label} | {per:.0} ns | {ok} allowed of {n} |");
}

fn main() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(ws.join("src/deep/er")).expect("dirs");
    std::fs::write(ws.join("src/deep/er/main.rs"), "fn main() {}").expect("a file");
    let policy = SecurityPolicy {
        level: PermissionLevel::Standard,
        tools: AllowBlock::only(["fs.*", "code.*", "mcp.files.*"]).blocking(["fs.delete"]),
        agents: AllowBlock::only(["worker-*", "planner"]),
        models: AllowBlock::all().blocking(["big-*"]),
        ..SecurityPolicy::default()
    };
    println!("| check | per call | result |\n|---|---|---|");
    time("baseline: two string compares", N, || {
        black_box("fs.read") == black_box("fs.read") && black_box("a") != black_box("b")
    });
    time("tool (level + allow/block lists)", N, || {
        policy
            .check_tool(black_box("fs.read"), PermissionLevel::Restricted)
            .is_ok()
    });
    time("message to an agent", N, || {
        policy.check_message(black_box("worker-7")).is_ok()
    });
    time("model", N, || {
        policy.check_model(black_box("small-model")).is_ok()
    });
    let file = ws.join("src/deep/er/main.rs");
    time(
        "baseline: one lstat of that file (the syscall floor)",
        N / 10,
        || std::fs::symlink_metadata(black_box(&file)).is_ok(),
    );
    time(
        "path, existing file, 4 levels deep (canonicalised)",
        N / 10,
        || {
            policy
                .check_path(&ws, black_box("src/deep/er/main.rs"), false)
                .is_ok()
        },
    );
    time("path, new file to write", N / 10, || {
        policy
            .check_path(&ws, black_box("src/deep/new.txt"), true)
            .is_ok()
    });
    time("path, escape through `..` (refused)", N / 10, || {
        policy
            .check_path(&ws, black_box("../../etc/passwd"), false)
            .is_ok()
    });
}

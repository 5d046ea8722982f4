//! Audit log throughput: records appended per second through [`AuditLog`] (one writer, batches
//! of up to 1 000 rows per multi-row INSERT) and the time `verify` takes over those rows.
//!
//! Run with `cargo bench --bench audit` (release). SQLite is always measured (a file in a
//! temporary directory); PostgreSQL only when `AOK_TEST_POSTGRES_URL` is set (in a schema
//! `aok_bench_audit` that it drops at the end). `AOK_AUDIT_N` overrides the number of records
//! (default 100 000). Prints a markdown table.

use std::time::{Duration, Instant};

use agent_os_kernel::storage::Storage;
use agent_os_kernel::{AuditLog, AuditRecord, Pid};
use sea_orm::ConnectionTrait;

const SCHEMA: &str = "aok_bench_audit";
/// The producer keeps at most this many records queued (the queue holds 65 536).
const BACKLOG: u64 = 50_000;

type BoxError = Box<dyn std::error::Error>;

/// One measured backend.
struct Row {
    backend: &'static str,
    appends_per_s: f64,
    batches: u64,
    dropped: u64,
    verify: Duration,
    verified: u64,
}

async fn measure(backend: &'static str, storage: Storage, n: u64) -> Result<Row, BoxError> {
    let audit = AuditLog::start(storage);
    let pids: Vec<Pid> = (0..16).map(|_| Pid::new()).collect();
    let t = Instant::now();
    for i in 0..n {
        let s = audit.stats();
        if s.recorded - s.written >= BACKLOG {
            while audit.stats().recorded - audit.stats().written >= BACKLOG / 2 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let pid = pids[usize::try_from(i % 16).unwrap_or(0)];
        audit.record(
            AuditRecord::new(if i % 3 == 0 { "llm.call" } else { "tool.call" })
                .pid(pid)
                .target(format!("target-{}", i % 97))
                .args_digest(format!("{i:064x}")),
        );
    }
    audit.flush().await?;
    let elapsed = t.elapsed();
    let stats = audit.stats();
    let t = Instant::now();
    let report = audit.verify().await?;
    let verify = t.elapsed();
    if !report.is_ok() {
        return Err(format!("{backend}: verify failed: {report:?}").into());
    }
    Ok(Row {
        backend,
        appends_per_s: stats.written as f64 / elapsed.as_secs_f64(),
        batches: stats.batches,
        dropped: stats.dropped,
        verify,
        verified: report.rows,
    })
}

async fn sqlite(n: u64) -> Result<Row, BoxError> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let storage = Storage::connect(&url).await?;
    measure("SQLite", storage, n).await
}

async fn postgres(url: &str, n: u64) -> Result<Row, BoxError> {
    let admin = Storage::connect(url).await?;
    let admin = admin.connection();
    admin
        .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        .await?;
    admin
        .execute_unprepared(&format!("CREATE SCHEMA {SCHEMA}"))
        .await?;
    let sep = if url.contains('?') { '&' } else { '?' };
    let result = match Storage::connect(&format!(
        "{url}{sep}options=-c%20search_path%3D{SCHEMA}%2Cpublic"
    ))
    .await
    {
        Ok(storage) => measure("PostgreSQL", storage, n).await,
        Err(e) => Err(e.into()),
    };
    admin
        .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        .await?;
    result
}

fn main() {
    let n: u64 = std::env::var("AOK_AUDIT_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no runtime: {e}");
            return;
        }
    };
    println!("audit benchmark: {n} records, one writer, batches of up to 1 000\n");
    let mut rows = Vec::new();
    match rt.block_on(sqlite(n)) {
        Ok(r) => rows.push(r),
        Err(e) => println!("SQLite part failed: {e}"),
    }
    match std::env::var("AOK_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => match rt.block_on(postgres(&url, n)) {
            Ok(r) => rows.push(r),
            Err(e) => println!("PostgreSQL part failed: {e}"),
        },
        _ => println!("PostgreSQL: skipped (AOK_TEST_POSTGRES_URL is not set)\n"),
    }
    println!("| backend | records | appends/s | batches | dropped | verify | verify rows/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {n} | {:.0} | {} | {} | {:.2} s | {:.0} |",
            r.backend,
            r.appends_per_s,
            r.batches,
            r.dropped,
            r.verify.as_secs_f64(),
            r.verified as f64 / r.verify.as_secs_f64().max(1e-9),
        );
    }
}

//! Parts 2 and 3: `context()` latency at 128 k and fault latency on SQLite and PostgreSQL.

use super::*;

pub(crate) async fn part_context(vocab: &[&str], calls: usize) {
    let mut cfg: PagerConfig = KernelConfig::default().pager;
    cfg.page_tokens = 512;
    cfg.window_tokens = 256 * 512 + cfg.reserve_output_tokens;
    let (storage, _dir) = sqlite().await;
    let pager = Pager::new(cfg.clone(), storage, lexical());
    let pid = Pid::new();
    let mut rng = StdRng::seed_from_u64(2);
    let mut strings = Vec::with_capacity(256);
    for i in 0..256 {
        let role = if i % 2 == 0 {
            Role::User
        } else {
            Role::Assistant
        };
        // 511 words + the marker: 512 tokens or a little more (then split).
        let s = text(&mut rng, vocab, 508, &format!("#{i}"));
        pager
            .allocate(pid, NewPage::new(PageKind::Message, s.clone()).role(role))
            .await
            .expect("allocate");
        strings.push((role, s));
    }
    let st = pager.stats(pid).await.expect("stats");
    let mut ours = Vec::with_capacity(calls);
    let mut base = Vec::with_capacity(calls);
    for _ in 0..calls / 10 {
        let _ = pager.context(pid, None).await.expect("context");
    }
    let mut n_msgs = 0;
    for _ in 0..calls {
        let t = Instant::now();
        let ctx = pager.context(pid, None).await.expect("context");
        ours.push(t.elapsed());
        n_msgs = ctx.messages.len();
        assert_eq!(ctx.evicted, 0);
        let t = Instant::now();
        let v: Vec<Message> = strings
            .iter()
            .map(|(r, s)| Message::new(*r, s.clone()))
            .collect();
        base.push(t.elapsed());
        std::hint::black_box(v);
    }
    ours.sort();
    base.sort();
    println!(
        "\n## 2. `context()` latency, 128 k window (budget {} tokens; {} resident pages, {} resident tokens, {} messages; {calls} calls without a query after {} warm-up calls; nothing to evict)\n",
        st.budget_tokens,
        st.resident_pages,
        st.resident_tokens,
        n_msgs,
        calls / 10
    );
    println!("| path | p50 (µs) | p95 (µs) | max (µs) |\n|---|---:|---:|---:|");
    println!(
        "| pager `context(pid, None)` | {:.1} | {:.1} | {:.1} |",
        us(percentile(&ours, 0.5)),
        us(percentile(&ours, 0.95)),
        us(percentile(&ours, 1.0))
    );
    println!(
        "| baseline: clone 256 strings into `Vec<Message>` | {:.1} | {:.1} | {:.1} |",
        us(percentile(&base, 0.5)),
        us(percentile(&base, 0.95)),
        us(percentile(&base, 1.0))
    );
    let p50 = us(percentile(&ours, 0.5));
    let p95 = us(percentile(&ours, 0.95));
    println!(
        "\nGoal ≤ 200 µs: p50 {p50:.1} µs, p95 {p95:.1} µs — {}",
        if p95 <= 200.0 {
            "met (p50 and p95)"
        } else if p50 <= 200.0 {
            "met at p50, not at p95"
        } else {
            "NOT met"
        }
    );
}

// ---------- part 3: fault latency ----------

struct FaultRow {
    backend: String,
    mode: &'static str,
    n: usize,
    read: Vec<Duration>,
    select: Vec<Duration>,
    update: Vec<Duration>,
}

/// Allocates `pages` pages of ~512 tokens under a budget of 4 pages (so all but the newest are
/// swapped); then either raises the budget so every fault fits without evicting
/// (`no_evict`), or keeps the small budget (each fault that overflows evicts a batch down to
/// the low-water mark). Times `read()` of each swapped page once, and a plain
/// `SELECT content FROM page_blobs WHERE hash = ?` for the same pages on the same storage.
async fn faults(
    storage: Storage,
    vocab: &[&str],
    pages: usize,
    no_evict: bool,
) -> (Vec<Duration>, Vec<Duration>, Vec<Duration>) {
    let mut cfg: PagerConfig = KernelConfig::default().pager;
    cfg.page_tokens = 512;
    let pager = Pager::new(cfg, storage.clone(), lexical());
    let pid = Pid::new();
    pager.set_budget(pid, 4 * 520).await.expect("budget");
    let mut rng = StdRng::seed_from_u64(3);
    for i in 0..pages {
        let s = text(&mut rng, vocab, 500, &format!("#{i}"));
        pager
            .allocate(pid, NewPage::new(PageKind::Message, s))
            .await
            .expect("allocate");
    }
    if no_evict {
        pager
            .set_budget(pid, (pages as u64 + 4) * 520)
            .await
            .expect("budget");
    }
    let infos = pager.pages(pid).await.expect("pages");
    let swapped: Vec<(PageId, String)> = infos
        .iter()
        .filter(|p| !p.resident)
        .map(|p| (p.id, p.hash.clone()))
        .collect();
    let (sql, upd) = match storage.backend() {
        Backend::Postgres => (
            "SELECT content FROM page_blobs WHERE hash = $1",
            "UPDATE pages SET access_count = access_count WHERE id = $1",
        ),
        Backend::Sqlite => (
            "SELECT content FROM page_blobs WHERE hash = ?",
            "UPDATE pages SET access_count = access_count WHERE id = ?",
        ),
    };
    let db = storage.connection().get_database_backend();
    let before = pager.stats(pid).await.expect("stats").faults;
    let (mut read, mut select, mut update) = (Vec::new(), Vec::new(), Vec::new());
    for (id, hash) in &swapped {
        let t = Instant::now();
        let stmt = Statement::from_sql_and_values(db, sql, [DbValue::from(hash.as_str())]);
        let row = storage
            .connection()
            .query_one_raw(stmt)
            .await
            .expect("select")
            .expect("row");
        let c: Vec<u8> = row.try_get("", "content").expect("content");
        select.push(t.elapsed());
        let t = Instant::now();
        let page = pager.read(pid, *id).await.expect("read");
        read.push(t.elapsed());
        assert_eq!(page.content.as_bytes(), &c[..]);
        let t = Instant::now();
        let stmt = Statement::from_sql_and_values(db, upd, [DbValue::from(id.to_string())]);
        storage
            .connection()
            .execute_raw(stmt)
            .await
            .expect("update");
        update.push(t.elapsed());
    }
    let after = pager.stats(pid).await.expect("stats").faults;
    assert_eq!(after - before, swapped.len() as u64, "every read faulted");
    read.sort();
    select.sort();
    update.sort();
    (read, select, update)
}

/// A fresh schema on PostgreSQL (dropped by [`drop_schema`]), or why not.
async fn postgres() -> Result<(Storage, String, String), String> {
    let admin_url =
        std::env::var("AOK_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
    let admin = sea_orm::Database::connect(admin_url.as_str())
        .await
        .map_err(|e| format!("{admin_url}: {e}"))?;
    let schema = format!("aok_bench_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
        .await
        .map_err(|e| e.to_string())?;
    let _ = admin.close().await;
    let sep = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!("{admin_url}{sep}options=-c%20search_path%3D{schema}%2Cpublic");
    match Storage::connect(&url).await {
        Ok(s) => Ok((s, admin_url, schema)),
        Err(e) => {
            drop_schema(&admin_url, &schema).await;
            Err(e.to_string())
        }
    }
}

async fn drop_schema(admin_url: &str, schema: &str) {
    if let Ok(admin) = sea_orm::Database::connect(admin_url).await {
        let _ = admin
            .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await;
        let _ = admin.close().await;
    }
}

pub(crate) async fn part_faults(vocab: &[&str], pages: usize) {
    let mut rows = Vec::new();
    let mut skipped = None;
    for no_evict in [true, false] {
        let mode = if no_evict {
            "fits (no eviction)"
        } else {
            "budget 4 pages (evicts to low water)"
        };
        let (storage, _dir) = sqlite().await;
        let (read, select, update) = faults(storage, vocab, pages, no_evict).await;
        rows.push(FaultRow {
            backend: "SQLite (temp file)".into(),
            mode,
            n: read.len(),
            read,
            select,
            update,
        });
        match postgres().await {
            Ok((storage, admin, schema)) => {
                let (read, select, update) = faults(storage.clone(), vocab, pages, no_evict).await;
                drop(storage);
                drop_schema(&admin, &schema).await;
                rows.push(FaultRow {
                    backend: "PostgreSQL (local, pgvector)".into(),
                    mode,
                    n: read.len(),
                    read,
                    select,
                    update,
                });
            }
            Err(e) => skipped = Some(e),
        }
    }
    println!(
        "\n## 3. Fault latency (`read()` of a swapped ≈ 500-token page: blob load, hash check, residency write; {pages} pages allocated, each swapped page read once; baseline: `SELECT content FROM page_blobs WHERE hash = ?` on the same storage; for scale, the one-row autocommit `UPDATE pages … WHERE id = ?` a fault also makes, alone)\n"
    );
    println!(
        "| storage | budget | faults | `read()` p50 (µs) | `read()` p95 (µs) | SELECT p50 (µs) | SELECT p95 (µs) | UPDATE p50 (µs) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            r.backend,
            r.mode,
            r.n,
            us(percentile(&r.read, 0.5)),
            us(percentile(&r.read, 0.95)),
            us(percentile(&r.select, 0.5)),
            us(percentile(&r.select, 0.95)),
            us(percentile(&r.update, 0.5))
        );
    }
    if let Some(e) = skipped {
        println!("| PostgreSQL | – | SKIPPED: {e} | | | | | |");
    }
    for r in &rows {
        let p50 = us(percentile(&r.read, 0.5));
        println!(
            "\nGoal p50 ≤ 1 ms — {}, {}: {:.0} µs, {}",
            r.backend,
            r.mode,
            p50,
            if p50 <= 1000.0 { "met" } else { "NOT met" }
        );
    }
}

// ---------- part 4: weighted vs LRU ----------

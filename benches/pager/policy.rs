//! Part 4: the weighted policy against LRU on one synthetic agent trace.

use super::*;

#[derive(Clone, Copy)]
enum Act {
    /// Allocate the `i`-th item (`Item`).
    Alloc(usize),
    /// Read the `i`-th item (allocated before).
    Read(usize),
}

struct Item {
    content: String,
    importance: f32,
}

/// The trace (seeded): 4 task/instruction pages (≈ 300 tokens, importance 0.9) allocated
/// first; then 2 000 steps, each one of: a task page re-read (18 %), a one-shot tool output
/// allocated (200–500 tokens, importance 0.1–0.3; 55 %), a note allocated (≈ 150 tokens,
/// importance 0.6; 5 %), a re-read of a random note (7 %), a re-read of one of the last 40
/// tool outputs (10 %), or a re-read of an older tool output, 40–400 allocations back (5 %).
fn trace(vocab: &[&str]) -> (Vec<Item>, Vec<Act>) {
    let mut rng = StdRng::seed_from_u64(4);
    let mut items = Vec::new();
    let mut acts = Vec::new();
    let (mut tasks, mut outputs, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..4 {
        let n = rng.random_range(250..=350);
        items.push(Item {
            content: text(&mut rng, vocab, n, &format!("[task {i}]")),
            importance: 0.9,
        });
        tasks.push(items.len() - 1);
        acts.push(Act::Alloc(items.len() - 1));
    }
    for step in 0..2000 {
        let x: f64 = rng.random();
        if x < 0.18 {
            acts.push(Act::Read(tasks[rng.random_range(0..tasks.len())]));
        } else if x < 0.73 || outputs.len() < 50 {
            let n = rng.random_range(200..=500);
            items.push(Item {
                content: text(&mut rng, vocab, n, &format!("[output {step}]")),
                importance: rng.random_range(0.1..0.3),
            });
            outputs.push(items.len() - 1);
            acts.push(Act::Alloc(items.len() - 1));
        } else if x < 0.78 || notes.is_empty() {
            items.push(Item {
                content: text(&mut rng, vocab, 150, &format!("[note {step}]")),
                importance: 0.6,
            });
            notes.push(items.len() - 1);
            acts.push(Act::Alloc(items.len() - 1));
        } else if x < 0.85 {
            acts.push(Act::Read(notes[rng.random_range(0..notes.len())]));
        } else if x < 0.95 {
            let k = rng.random_range(1..=40.min(outputs.len()));
            acts.push(Act::Read(outputs[outputs.len() - k]));
        } else {
            let back = rng.random_range(40..=400).min(outputs.len());
            acts.push(Act::Read(outputs[outputs.len() - back]));
        }
    }
    (items, acts)
}

struct PolicyRow {
    name: String,
    reads: u64,
    hits: u64,
    faults: u64,
    evictions: u64,
    batches: u64,
    task_faults: u64,
}

async fn run_trace(
    policy: Arc<dyn ReplacementPolicy>,
    items: &[Item],
    acts: &[Act],
    budget: u64,
) -> PolicyRow {
    let cfg: PagerConfig = KernelConfig::default().pager;
    let (storage, _dir) = sqlite().await;
    let name = policy.name().to_string();
    let pager = Pager::with_policy(cfg, storage, lexical(), policy);
    let pid = Pid::new();
    pager.set_budget(pid, budget).await.expect("budget");
    let mut ids: Vec<Option<PageId>> = vec![None; items.len()];
    let mut reads = 0;
    let mut task_faults = 0;
    for act in acts {
        match *act {
            Act::Alloc(i) => {
                let it = &items[i];
                let kind = if it.importance >= 0.9 {
                    PageKind::Task
                } else {
                    PageKind::Message
                };
                let got = pager
                    .allocate(
                        pid,
                        NewPage::new(kind, it.content.clone()).importance(it.importance),
                    )
                    .await
                    .expect("allocate");
                ids[i] = got.first().copied();
            }
            Act::Read(i) => {
                let id = ids[i].expect("allocated before");
                let before = pager.stats(pid).await.expect("stats").faults;
                pager.read(pid, id).await.expect("read");
                reads += 1;
                if items[i].importance >= 0.9 {
                    task_faults += pager.stats(pid).await.expect("stats").faults - before;
                }
            }
        }
    }
    let s = pager.stats(pid).await.expect("stats");
    PolicyRow {
        name,
        reads,
        hits: s.hits,
        faults: s.faults,
        evictions: s.evictions,
        batches: s.eviction_batches,
        task_faults,
    }
}

pub(crate) async fn part_policy(vocab: &[&str]) {
    let (items, acts) = trace(vocab);
    let budget = 8192;
    let weights = KernelConfig::default().pager.weights;
    let rows = vec![
        run_trace(
            Arc::new(WeightedPolicy::new(weights)),
            &items,
            &acts,
            budget,
        )
        .await,
        run_trace(Arc::new(LruPolicy), &items, &acts, budget).await,
    ];
    let allocs = acts.iter().filter(|a| matches!(a, Act::Alloc(_))).count();
    println!(
        "\n## 4. Weighted policy vs LRU (same seeded trace, same budget {budget} tokens, low_water {:.2}, SQLite; {} steps: {} allocations, {} reads)\n",
        KernelConfig::default().pager.low_water,
        acts.len(),
        allocs,
        acts.len() - allocs
    );
    println!(
        "Trace: 4 task/instruction pages (≈ 300 tokens, importance 0.9) first; then 2 000 steps, each one of: re-read a task page (18 %), allocate a one-shot tool output (200–500 tokens, importance 0.1–0.3; 55 %), allocate a note (≈ 150 tokens, importance 0.6; 5 %), re-read a random note (7 %), re-read one of the last 40 tool outputs (10 %), re-read an older tool output 40–400 allocations back (5 %). Every page ≤ 512 tokens, so one fault = one page.\n"
    );
    println!(
        "| policy | reads | hits | faults | hit rate | faults on task pages | pages evicted | eviction batches |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {:.1} % | {} | {} | {} |",
            r.name,
            r.reads,
            r.hits,
            r.faults,
            pct(r.hits, r.hits + r.faults),
            r.task_faults,
            r.evictions,
            r.batches
        );
    }
}

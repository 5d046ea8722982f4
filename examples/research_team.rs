//! Research team: a planner, readers, analysts, a summariser and an editor answer a question
//! from local documents, on the embedded defaults (SQLite under `./data/`, no API key).
//!
//! - The stock [`Planner`] deals one task per document to a [`WorkerPool`] of three readers
//!   (supervised [`FnWorker`]s) that read the markdown file and pull out its title and text.
//!   One reader crashes on its first read; its supervisor restarts it under the same pid and
//!   the planner retries the task.
//! - One analyst agent per document asks the LLM for its main finding (`ctx.llm`: a slice
//!   from the scheduler, then the provider actor).
//! - The stock [`Summarizer`] keeps the findings as context pages under a budget; when they
//!   cross its pressure threshold it folds the oldest pages into a summary page (LLM).
//! - An editor answers the question from the summariser's context: the summary page and the
//!   findings still resident.
//!
//! The LLM is chosen as in the quickstart (`examples/common/local_llm.rs`) and said plainly in
//! one `LLM:` line: a backend from the environment, else the real local model installed by
//! `scripts/setup-llm.sh` (its llama-server is started and stopped here), else the offline
//! `scripted` backend (it echoes, it does not generate).
//!
//! Run: `cargo run --example research_team [-- DIR [QUESTION]]` (DIR: a folder of `.md`
//! files, by default `examples/research_team/`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agent_os_actors::{FnWorker, PlanMsg, Planner, Summarizer, SummarizerMsg, WorkerPool};
use agent_os_kernel::pager::PageKind;
use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{ChatRequest, ChatResponse, Message, Role};
use futures::future::join_all;
use serde_json::{Value, json};

#[path = "common/local_llm.rs"]
mod local_llm;

/// The question asked when none is given.
const QUESTION: &str = "How does an agent operating system keep an agent's work from being \
lost when something fails?";
/// At most this many documents are read.
const MAX_DOCS: usize = 8;
/// At most this many characters of a document go to the LLM.
const MAX_DOC_CHARS: usize = 2_000;
/// Readers.
const READERS: usize = 3;
/// How long one LLM step may take (a small local model on a busy machine can be slow).
const LLM_TIMEOUT: Duration = Duration::from_secs(300);

/// Set once the simulated fault has fired, so a reader crashes exactly once.
static FAULT_FIRED: AtomicBool = AtomicBool::new(false);

/// The readers' job: read one markdown file → `{doc, title, words, text, reader}`.
fn read_doc(job: &Value, ctx: &AgentContext) -> Result<Value, String> {
    let path = Path::new(job["path"].as_str().ok_or("the task has no path")?);
    if job["simulate_fault"] == true && !FAULT_FIRED.swap(true, Ordering::SeqCst) {
        panic!(
            "simulated fault in {} while reading {}",
            ctx.name(),
            path.display()
        );
    }
    let raw = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let doc = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let title = raw
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .unwrap_or(&doc)
        .trim()
        .to_owned();
    let body: Vec<&str> = raw
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(str::split_whitespace)
        .collect();
    let text: String = body.join(" ").chars().take(MAX_DOC_CHARS).collect();
    Ok(json!({
        "doc": doc, "title": title, "words": body.len(), "text": text, "reader": ctx.name(),
    }))
}

/// What an [`Analyst`] is asked.
enum Step {
    /// The main finding of one document.
    Finding {
        /// The document's title.
        title: String,
        /// Its text.
        text: String,
    },
    /// The final answer from notes.
    Answer(String),
}

/// One LLM step per message: a document's finding, or the final answer.
struct Analyst {
    model: String,
    question: String,
}

impl Agent for Analyst {
    type Msg = Step;
    type Reply = ChatResponse;

    async fn handle(
        &mut self,
        step: Step,
        ctx: &mut AgentContext,
    ) -> Result<ChatResponse, AgentError> {
        let q = &self.question;
        let (system, user, max_tokens) = match step {
            // The document first: the scripted backend echoes the start of the prompt.
            Step::Finding { title, text } => (
                "You are a research assistant. State the document's main finding for the \
                 question in one sentence.",
                format!("Document: {title}. {text}\n\nQuestion: {q}"),
                48,
            ),
            Step::Answer(notes) => (
                "You are an editor. Answer the question in two or three sentences, using \
                 only the notes.",
                format!("Notes: {notes}\n\nQuestion: {q}"),
                96,
            ),
        };
        let mut request = ChatRequest::new(
            self.model.clone(),
            vec![Message::system(system), Message::user(user)],
        );
        request.max_tokens = max_tokens;
        Ok(ctx.llm(request).await?)
    }
}

/// The markdown files of `dir`, sorted, at most [`MAX_DOCS`].
fn documents(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut docs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    docs.truncate(MAX_DOCS);
    if docs.is_empty() {
        return Err(format!("no .md files in {}", dir.display()));
    }
    Ok(docs)
}

/// One line: whitespace collapsed, at most `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("  ! panic: {}", info.payload_as_str().unwrap_or("?"))
    }));
    let mut args = std::env::args().skip(1);
    let dir = args.next().map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/research_team"),
        PathBuf::from,
    );
    let question = args.next().unwrap_or_else(|| QUESTION.to_owned());
    let docs = documents(&dir)?;

    let mut llm = local_llm::LlmSetup::detect().await?;
    let kernel = Kernel::builder().config(llm.config.clone()).build().await?;
    println!("kernel up, storage at {}", kernel.config().storage.url);
    println!("{}", llm.line);
    println!("question: {question}");
    let mut events = kernel.events();
    actix::spawn(async move {
        while let Ok(event) = events.recv().await {
            match event {
                KernelEvent::Crashed { pid, reason } => {
                    println!("  x agent {pid} crashed: {reason}")
                }
                KernelEvent::Restarted { pid, restarts } => {
                    println!("  ~ supervisor restarted agent {pid} (restart #{restarts}, same pid)")
                }
                _ => {}
            }
        }
    });

    // Plan: one task per document, dealt to the readers by the stock planner.
    let pool = WorkerPool::spawn(&kernel, "reader", READERS, 3, &FnWorker::new(read_doc)).await?;
    let planner = Planner::new(&pool).timeout(Duration::from_secs(10));
    let planner = kernel
        .spawn(planner.factory(), SpawnOptions::new("planner").priority(10))
        .await?;
    let tasks = docs
        .iter()
        .enumerate()
        .map(|(i, p)| json!({ "path": p.to_string_lossy(), "simulate_fault": i == 1 }))
        .collect();
    println!(
        "reading {} documents in {} with {READERS} readers",
        docs.len(),
        dir.display()
    );
    let report = planner
        .ask(PlanMsg::Tasks(tasks))
        .timeout(Duration::from_secs(60))
        .await?;
    let read: Vec<&Value> = report
        .tasks
        .iter()
        .filter_map(|t| t.result.as_ref().ok())
        .collect();
    let retried = report.tasks.iter().filter(|t| t.attempts > 1).count();
    println!(
        "\n{} of {} documents read, {retried} retried after a crash, {} failed",
        read.len(),
        docs.len(),
        report.failed().count()
    );

    // Findings: one analyst per document, one LLM step each, all at once.
    let mut analysts = Vec::new();
    for i in 0..read.len() {
        let (model, question) = (llm.model.clone(), question.clone());
        let factory = move || Analyst {
            model: model.clone(),
            question: question.clone(),
        };
        let opts = SpawnOptions::new(format!("analyst-{i}"));
        analysts.push(kernel.spawn(factory, opts).await?);
    }
    let findings = join_all(read.iter().enumerate().map(|(i, doc)| {
        let step = Step::Finding {
            title: doc["title"].as_str().unwrap_or_default().to_owned(),
            text: doc["text"].as_str().unwrap_or_default().to_owned(),
        };
        analysts[i].ask(step).timeout(LLM_TIMEOUT)
    }))
    .await;

    println!(
        "\n{:<18} {:<22} {:>5}  {:<10} {:>8}",
        "document", "title", "words", "reader", "attempts"
    );
    for task in &report.tasks {
        let path = task.task["path"].as_str().unwrap_or_default();
        let name = Path::new(path)
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        match &task.result {
            Ok(doc) => println!(
                "{:<18} {:<22} {:>5}  {:<10} {:>8}",
                one_line(&name, 18),
                one_line(doc["title"].as_str().unwrap_or_default(), 22),
                doc["words"].as_u64().unwrap_or(0),
                doc["reader"].as_str().unwrap_or_default(),
                task.attempts
            ),
            Err(e) => println!("{name:<18} failed after {} attempt(s): {e}", task.attempts),
        }
    }
    println!("\nfindings:");
    let mut notes = Vec::new();
    for (doc, finding) in read.iter().zip(&findings) {
        let title = doc["title"].as_str().unwrap_or_default();
        match finding {
            Ok(r) => {
                println!(
                    "  {title} — via {} ({}): {}",
                    r.backend,
                    r.model,
                    one_line(&r.content, 240)
                );
                notes.push(format!(
                    "Finding from \"{title}\": {}",
                    one_line(&r.content, 600)
                ));
            }
            Err(e) => println!("  {title} — the LLM step failed: {e}"),
        }
    }

    // The summariser keeps the findings as pages; its budget is then set so that one more
    // note (the question) crosses the pressure threshold, and it folds the oldest findings
    // into a summary page.
    let summarizer = kernel
        .spawn(
            Summarizer::new(llm.model.clone()).max_tokens(64).factory(),
            SpawnOptions::new("summarizer").context_budget(32_768),
        )
        .await?;
    let mut resident = 0;
    for text in &notes {
        let note = SummarizerMsg::Note {
            role: Role::User,
            text: text.clone(),
        };
        resident = summarizer.ask(note).await?.as_u64().unwrap_or(0);
    }
    let threshold = kernel.config().pager.pressure_threshold;
    let budget = (resident as f64 / threshold).ceil() as u64 + 1;
    kernel.pager().set_budget(summarizer.pid(), budget).await?;
    let note = SummarizerMsg::Note {
        role: Role::User,
        text: format!("Question: {question}"),
    };
    summarizer.ask(note).await?;
    let mut summaries = Vec::new();
    for _ in 0..100 {
        // The pressure hook runs between two messages: this ask waits behind it.
        let got = summarizer
            .ask(SummarizerMsg::Summaries)
            .timeout(LLM_TIMEOUT)
            .await?;
        summaries = got.as_array().cloned().unwrap_or_default();
        if !summaries.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pages = kernel.pager().pages(summarizer.pid()).await?;
    let kept = pages.iter().filter(|p| p.kind == PageKind::Message).count();
    println!(
        "\nsummarizer ({}): {resident} tokens of findings, budget set to {budget}; {} summary \
         page(s), {kept} note page(s) still resident",
        summarizer.pid(),
        summaries.len()
    );
    for s in &summaries {
        println!(
            "  summary: {}",
            one_line(s.as_str().unwrap_or_default(), 400)
        );
    }

    // The final answer, from the summariser's context (summary page + resident findings).
    let context = kernel.pager().context(summarizer.pid(), None).await?;
    let notes: Vec<String> = context
        .messages
        .iter()
        .map(|m| one_line(&m.content, 600))
        .collect();
    let editor = {
        let (model, question) = (llm.model.clone(), question.clone());
        let factory = move || Analyst {
            model: model.clone(),
            question: question.clone(),
        };
        kernel.spawn(factory, SpawnOptions::new("editor")).await?
    };
    match editor
        .ask(Step::Answer(notes.join("\n")))
        .timeout(LLM_TIMEOUT)
        .await
    {
        Ok(answer) => println!(
            "\nfinal answer via {} ({}):\n{}",
            answer.backend,
            answer.model,
            answer.content.trim()
        ),
        Err(e) => println!("\nfinal answer: the LLM step failed: {e}"),
    }

    let ledger = &kernel.providers().ledger;
    let mut pids: Vec<Pid> = analysts.iter().map(|a| a.pid()).collect();
    pids.extend([summarizer.pid(), editor.pid()]);
    let (mut calls, mut prompt, mut completion) = (0, 0, 0);
    for pid in pids {
        let t = ledger.agent_totals(pid);
        (calls, prompt, completion) = (
            calls + t.calls,
            prompt + t.prompt_tokens,
            completion + t.completion_tokens,
        );
    }
    let stats = kernel.scheduler_stats().await?;
    println!(
        "\n{calls} LLM call(s), {prompt} prompt + {completion} completion tokens; the scheduler \
         granted {} slice(s)",
        stats.grants
    );
    kernel.shutdown().await;
    llm.stop();
    Ok(())
}

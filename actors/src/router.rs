//! [`Router`]: forwards JSON messages to agents by topic or by an LLM classification.

use std::collections::BTreeMap;

use agent_os_kernel::provider::{ChatRequest, Message};
use agent_os_kernel::{Agent, AgentContext, AgentError, Pid};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a [`Router`] picks a route.
#[derive(Debug, Clone)]
enum Mode {
    /// The topic the message was published on, else its `"topic"` field.
    Topic,
    /// The model names a route; a name not in the table goes to `fallback`.
    Llm { model: String, fallback: Pid },
}

/// Where a message went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routed {
    /// The route taken (a table key, or `"fallback"`).
    pub route: String,
    /// The agent it was forwarded to.
    pub to: Pid,
}

/// Forwards each JSON message it gets to one agent, chosen from a table route → pid:
///
/// - [`Router::by_topic`]: the route is the topic the message was published on (the router
///   subscribes to every topic of its table when it starts), or else the message's `"topic"`
///   field; a message with no known route is an error to its sender;
/// - [`Router::by_llm`]: the model is told the route names and the message, and answers with
///   one name; an answer that names no route sends the message to the fallback.
///
/// Targets get the message as JSON (`Kernel::send_json`), so they must be spawned with
/// `Spawn::json`. The reply is a [`Routed`].
#[derive(Debug, Clone)]
pub struct Router {
    table: BTreeMap<String, Pid>,
    mode: Mode,
}

impl Router {
    /// Routes by topic.
    pub fn by_topic<S: Into<String>>(table: impl IntoIterator<Item = (S, Pid)>) -> Self {
        Router {
            table: table.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            mode: Mode::Topic,
        }
    }

    /// Routes by the answer of `model`, unknown answers to `fallback`.
    pub fn by_llm<S: Into<String>>(
        model: impl Into<String>,
        table: impl IntoIterator<Item = (S, Pid)>,
        fallback: Pid,
    ) -> Self {
        Router {
            table: table.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            mode: Mode::Llm {
                model: model.into(),
                fallback,
            },
        }
    }

    /// A factory for `Kernel::spawn`.
    pub fn factory(&self) -> impl Fn() -> Router + Send + Sync + 'static + use<> {
        let me = self.clone();
        move || me.clone()
    }

    /// The instruction the model classifies with.
    fn prompt(&self) -> String {
        let names: Vec<&str> = self.table.keys().map(String::as_str).collect();
        format!(
            "Classify the message into exactly one of these routes: {}. Answer with the route \
             name only.",
            names.join(", ")
        )
    }

    async fn classify(
        &self,
        model: &str,
        fallback: Pid,
        msg: &Value,
        ctx: &AgentContext,
    ) -> Result<Routed, AgentError> {
        let mut request = ChatRequest::new(
            model,
            vec![
                Message::system(self.prompt()),
                Message::user(msg.to_string()),
            ],
        );
        request.max_tokens = 16;
        let answer = ctx.llm(request).await?;
        let name = answer
            .content
            .trim()
            .trim_matches(|c: char| !c.is_alphanumeric() && c != '_' && c != '-')
            .to_lowercase();
        Ok(
            match self.table.iter().find(|(k, _)| k.to_lowercase() == name) {
                Some((route, pid)) => Routed {
                    route: route.clone(),
                    to: *pid,
                },
                None => Routed {
                    route: "fallback".into(),
                    to: fallback,
                },
            },
        )
    }
}

impl Agent for Router {
    type Msg = Value;
    type Reply = Routed;

    async fn on_start(&mut self, ctx: &mut AgentContext) -> Result<(), AgentError> {
        if matches!(self.mode, Mode::Topic) {
            for topic in self.table.keys() {
                ctx.subscribe(topic);
            }
        }
        Ok(())
    }

    async fn handle(&mut self, msg: Value, ctx: &mut AgentContext) -> Result<Routed, AgentError> {
        let routed = match &self.mode {
            Mode::Topic => {
                let topic = ctx
                    .topic()
                    .map(str::to_string)
                    .or_else(|| msg.get("topic").and_then(Value::as_str).map(str::to_string))
                    .ok_or_else(|| {
                        AgentError::invalid("the message has no topic (published, or `topic`)")
                    })?;
                let to = *self
                    .table
                    .get(&topic)
                    .ok_or_else(|| AgentError::invalid(format!("no route for topic `{topic}`")))?;
                Routed { route: topic, to }
            }
            Mode::Llm { model, fallback } => self.classify(model, *fallback, &msg, ctx).await?,
        };
        ctx.kernel().send_json(routed.to, msg).await?;
        Ok(routed)
    }
}

//! Presets of the `openai_compatible` backend kind: base URL, API-key variable and quirks.

use serde::Deserialize;

/// A known OpenAI-compatible provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Preset {
    /// api.openai.com.
    Openai,
    /// DeepSeek (`reasoning_content` on deepseek-reasoner).
    Deepseek,
    /// Kimi / Moonshot.
    Moonshot,
    /// Qwen through DashScope's compatible mode (`reasoning_content` on QwQ/Qwen3 thinking).
    Qwen,
    /// MiniMax (reasoning inline as `<think>` blocks).
    Minimax,
    /// Local Ollama at `/v1` (no key; reasoning models emit `<think>` blocks).
    Ollama,
    /// Local vLLM at `/v1` (no key; `reasoning_content` when a reasoning parser is on).
    Vllm,
}

/// What a preset fixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PresetInfo {
    /// Default base URL (ends before `/chat/completions`).
    pub(crate) base_url: &'static str,
    /// Environment variable holding the API key (`None`: local, no key).
    pub(crate) api_key_env: Option<&'static str>,
    /// Sends `stream_options.include_usage` (not every server accepts it).
    pub(crate) stream_usage: bool,
    /// Uses `max_completion_tokens` instead of `max_tokens`.
    pub(crate) max_completion_tokens: bool,
}

impl Preset {
    /// Every preset, for detection.
    pub const ALL: [Preset; 7] = [
        Preset::Openai,
        Preset::Deepseek,
        Preset::Moonshot,
        Preset::Qwen,
        Preset::Minimax,
        Preset::Ollama,
        Preset::Vllm,
    ];

    /// The preset's fixed facts.
    pub(crate) fn info(self) -> PresetInfo {
        let (base_url, api_key_env, stream_usage, max_completion_tokens) = match self {
            Preset::Openai => (
                "https://api.openai.com/v1",
                Some("OPENAI_API_KEY"),
                true,
                true,
            ),
            Preset::Deepseek => (
                "https://api.deepseek.com/v1",
                Some("DEEPSEEK_API_KEY"),
                true,
                false,
            ),
            Preset::Moonshot => (
                "https://api.moonshot.cn/v1",
                Some("MOONSHOT_API_KEY"),
                false,
                false,
            ),
            Preset::Qwen => (
                "https://dashscope.aliyuncs.com/compatible-mode/v1",
                Some("DASHSCOPE_API_KEY"),
                true,
                false,
            ),
            Preset::Minimax => (
                "https://api.minimax.io/v1",
                Some("MINIMAX_API_KEY"),
                false,
                false,
            ),
            Preset::Ollama => ("http://localhost:11434/v1", None, true, false),
            Preset::Vllm => ("http://localhost:8000/v1", None, true, false),
        };
        PresetInfo {
            base_url,
            api_key_env,
            stream_usage,
            max_completion_tokens,
        }
    }
}

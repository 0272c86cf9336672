//! Unit tests of provider routing, with hermetic environments.

use std::collections::HashMap;
use std::io::Write;

use super::*;

const OPENAI_KEY: &str = "sk-openai-secret-value-1234";

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

fn all_keys() -> impl Fn(&str) -> Option<String> {
    env_of(&[
        ("OPENAI_API_KEY", OPENAI_KEY),
        ("ANTHROPIC_API_KEY", "sk-ant-secret"),
        ("GEMINI_API_KEY", "gem-secret"),
        ("OPENROUTER_API_KEY", "sk-or-secret"),
    ])
}

fn route_of(providers: &Providers, model: &str) -> (String, String) {
    let route = providers.route(model).unwrap();
    (route.provider.name.clone(), route.model)
}

#[test]
fn explicit_provider_prefix_keeps_the_rest_of_the_path() {
    let providers = Providers::builtin(&all_keys()).unwrap();
    let cases = [
        ("openai/gpt-4o", "openai", "gpt-4o"),
        (
            "anthropic/claude-sonnet-4-5",
            "anthropic",
            "claude-sonnet-4-5",
        ),
        (
            "openrouter/meta-llama/llama-3.1-70b",
            "openrouter",
            "meta-llama/llama-3.1-70b",
        ),
        ("gemini/gemini-2.5-pro", "gemini", "gemini-2.5-pro"),
        ("baseline/tabular", "baseline", "tabular"),
    ];
    for (model, provider, provider_model) in cases {
        assert_eq!(
            route_of(&providers, model),
            (provider.to_owned(), provider_model.to_owned()),
            "{model}"
        );
    }
}

#[test]
fn bare_names_route_by_prefix() {
    let providers = Providers::builtin(&all_keys()).unwrap();
    let cases = [
        ("gpt-4o-mini", "openai"),
        ("o1-preview", "openai"),
        ("o3", "openai"),
        ("o4-mini", "openai"),
        ("chatgpt-4o-latest", "openai"),
        ("claude-3-5-sonnet-20241022", "anthropic"),
        ("gemini-2.5-flash", "gemini"),
        ("baseline", "baseline"),
        ("baseline-tabular-v1", "baseline"),
    ];
    for (model, provider) in cases {
        assert_eq!(
            route_of(&providers, model),
            (provider.to_owned(), model.to_owned()),
            "{model}"
        );
    }
}

#[test]
fn builtin_base_urls_and_kinds() {
    let providers = Providers::builtin(&all_keys()).unwrap();
    let openai = providers.get("openai").unwrap();
    assert_eq!(openai.base_url, "https://api.openai.com/v1");
    assert_eq!(openai.kind, ProviderKind::OpenAiCompatible);
    assert_eq!(openai.api_key.as_ref().unwrap().expose(), OPENAI_KEY);
    let anthropic = providers.get("anthropic").unwrap();
    assert_eq!(anthropic.base_url, "https://api.anthropic.com");
    assert_eq!(anthropic.kind, ProviderKind::Anthropic);
    assert_eq!(
        providers.get("gemini").unwrap().base_url,
        "https://generativelanguage.googleapis.com/v1beta/openai"
    );
    assert_eq!(
        providers.get("openrouter").unwrap().base_url,
        "https://openrouter.ai/api/v1"
    );
    assert_eq!(
        providers.get("baseline").unwrap().kind,
        ProviderKind::Baseline
    );
    let names: Vec<&str> = providers.names().collect();
    assert_eq!(
        names,
        ["anthropic", "baseline", "gemini", "openai", "openrouter"]
    );
    assert_eq!(providers.fallback(), None);
}

#[test]
fn unknown_bare_name_without_base_url_is_a_clear_error() {
    let providers = Providers::builtin(&all_keys()).unwrap();
    for model in ["llama3.1", "meta-llama/Llama-3.1-8B-Instruct"] {
        let message = providers.route(model).unwrap_err().to_string();
        assert!(message.contains(model), "{message}");
        assert!(message.contains("provider/model"), "{message}");
        assert!(message.contains("OPENAI_BASE_URL"), "{message}");
        assert!(message.contains("openrouter"), "{message}");
    }
    let message = providers.route("  ").unwrap_err().to_string();
    assert!(message.contains("empty"), "{message}");
    let message = providers.route("openai/").unwrap_err().to_string();
    assert!(message.contains("no model name"), "{message}");
}

#[test]
fn openai_base_url_sends_unknown_bare_names_to_the_compatible_server() {
    let env = env_of(&[("OPENAI_BASE_URL", "http://localhost:11434/v1/")]);
    let providers = Providers::builtin(&env).unwrap();
    assert_eq!(providers.fallback(), Some("openai"));
    let route = providers.route("llama3.1").unwrap();
    assert_eq!(route.provider.name, "openai");
    assert_eq!(route.provider.base_url, "http://localhost:11434/v1");
    assert_eq!(route.model, "llama3.1");
    // vLLM serves Hugging Face names, which contain a slash.
    let route = providers.route("meta-llama/Llama-3.1-8B-Instruct").unwrap();
    assert_eq!(route.model, "meta-llama/Llama-3.1-8B-Instruct");
    // A local server needs no key.
    assert!(route.provider.api_key.is_none());
}

#[test]
fn missing_key_of_a_hosted_provider_names_the_variable() {
    let providers = Providers::builtin(&env_of(&[])).unwrap();
    let message = providers
        .route("claude-sonnet-4-5")
        .unwrap_err()
        .to_string();
    assert!(message.contains("ANTHROPIC_API_KEY"), "{message}");
    assert!(message.contains("anthropic"), "{message}");
    let message = providers.route("gpt-4o").unwrap_err().to_string();
    assert!(message.contains("OPENAI_API_KEY"), "{message}");
    // Baseline needs nothing.
    assert_eq!(route_of(&providers, "baseline").0, "baseline");
}

#[test]
fn gemini_falls_back_to_google_api_key_and_anthropic_base_url_is_honoured() {
    let env = env_of(&[
        ("GOOGLE_API_KEY", "g-key"),
        ("ANTHROPIC_API_KEY", "a-key"),
        ("ANTHROPIC_BASE_URL", "https://proxy.example/anthropic/"),
    ]);
    let providers = Providers::builtin(&env).unwrap();
    let gemini = providers.get("gemini").unwrap();
    assert_eq!(gemini.api_key.as_ref().unwrap().expose(), "g-key");
    assert_eq!(gemini.api_key_source.as_deref(), Some("GOOGLE_API_KEY"));
    assert_eq!(
        providers.get("anthropic").unwrap().base_url,
        "https://proxy.example/anthropic"
    );
}

#[test]
fn user_defined_provider_from_toml() {
    let config = ProvidersConfig::from_toml(
        r#"
        [providers.ollama]
        kind = "openai"
        base_url = "http://localhost:11434/v1"

        [providers.vllm]
        kind = "openai"
        base_url = "http://gpu-box:8000/v1"
        api_key_env = "VLLM_KEY"
        [providers.vllm.headers]
        X-Team = "ml"

        [server]
        ignored = true
        "#,
    )
    .unwrap();
    let env = env_of(&[("VLLM_KEY", "vllm-secret\n")]);
    let providers = Providers::load(&config, &env).unwrap();
    assert_eq!(
        route_of(&providers, "ollama/llama3.1"),
        ("ollama".into(), "llama3.1".into())
    );
    let vllm = providers.route("vllm/Qwen/Qwen2.5-7B").unwrap();
    assert_eq!(vllm.model, "Qwen/Qwen2.5-7B");
    assert_eq!(
        vllm.provider.api_key.as_ref().unwrap().expose(),
        "vllm-secret"
    );
    assert_eq!(
        vllm.provider.headers.get("X-Team").map(String::as_str),
        Some("ml")
    );
    // Bare unknown names still have nowhere to go.
    assert!(providers.route("llama3.1").is_err());
}

#[test]
fn default_provider_takes_unknown_bare_names() {
    let config = ProvidersConfig::from_toml(
        r#"
        default_provider = "ollama"
        [providers.ollama]
        kind = "openai"
        base_url = "http://localhost:11434/v1"
        "#,
    )
    .unwrap();
    let providers = Providers::load(&config, &env_of(&[])).unwrap();
    assert_eq!(
        route_of(&providers, "qwen2.5-coder"),
        ("ollama".into(), "qwen2.5-coder".into())
    );
    let config = ProvidersConfig::from_toml("default_provider = \"nope\"").unwrap();
    let message = Providers::load(&config, &env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(message.contains("nope"), "{message}");
}

#[test]
fn api_key_file_is_read_and_inline_keys_are_refused() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "file-secret").unwrap();
    let text = format!(
        "[providers.lite]\nkind = \"openai\"\nbase_url = \"http://litellm:4000\"\napi_key_file = {:?}\n",
        file.path().display().to_string()
    );
    let config = ProvidersConfig::from_toml(&text).unwrap();
    let providers = Providers::load(&config, &env_of(&[])).unwrap();
    let lite = providers.get("lite").unwrap();
    assert_eq!(lite.api_key.as_ref().unwrap().expose(), "file-secret");

    let config = ProvidersConfig::from_toml(
        "[providers.x]\nkind = \"openai\"\nbase_url = \"http://x\"\napi_key = \"sk-inline-value\"\n",
    )
    .unwrap();
    let message = Providers::load(&config, &env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(message.contains("api_key_env"), "{message}");
    assert!(!message.contains("sk-inline-value"), "{message}");
}

#[test]
fn config_errors_are_clear_and_never_quote_the_file() {
    let message = ProvidersConfig::from_toml(
        "[providers.x]\nkind = \"openai\"\nbase_url = \"http://x\"\ntoken = \"sk-do-not-print\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(message.contains("token"), "{message}");
    assert!(message.contains("line 4"), "{message}");
    assert!(!message.contains("sk-do-not-print"), "{message}");

    let cases = [
        (
            "[providers.x]\nbase_url = \"http://x\"\n",
            "kind is missing",
        ),
        ("[providers.x]\nkind = \"openai\"\n", "base_url is missing"),
        (
            "[providers.x]\nkind = \"openai\"\nbase_url = \"localhost:1\"\n",
            "http://",
        ),
        (
            "[providers.x]\nkind = \"openai\"\nbase_url = \"http://x\"\napi_key_env = \"A\"\napi_key_file = \"/k\"\n",
            "not both",
        ),
    ];
    for (text, expected) in cases {
        let config = ProvidersConfig::from_toml(text).unwrap();
        let message = Providers::load(&config, &env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(message.contains(expected), "{text}: {message}");
    }
    assert!(ProvidersConfig::from_toml("[providers.x]\nkind = \"grpc\"\n").is_err());
}

#[test]
fn overriding_a_builtin_keeps_its_kind_and_key() {
    let config = ProvidersConfig::from_toml(
        "[providers.openai]\nbase_url = \"http://localhost:8000/v1\"\n[providers.anthropic.headers]\nanthropic-beta = \"x\"\n",
    )
    .unwrap();
    let providers = Providers::load(&config, &all_keys()).unwrap();
    let openai = providers.get("openai").unwrap();
    assert_eq!(openai.kind, ProviderKind::OpenAiCompatible);
    assert_eq!(openai.base_url, "http://localhost:8000/v1");
    assert_eq!(openai.api_key.as_ref().unwrap().expose(), OPENAI_KEY);
    assert!(!openai.requires_key);
    let anthropic = providers.get("anthropic").unwrap();
    assert_eq!(anthropic.base_url, "https://api.anthropic.com");
    assert!(anthropic.requires_key);
}

#[test]
fn debug_of_the_configuration_never_shows_keys() {
    let providers = Providers::builtin(&all_keys()).unwrap();
    let debug = format!("{providers:?}");
    for secret in [OPENAI_KEY, "sk-ant-secret", "gem-secret", "sk-or-secret"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(debug.contains("[redacted]"));
    let route = providers.route("gpt-4o").unwrap();
    assert!(!format!("{route:?}").contains(OPENAI_KEY));
}

#[test]
fn temperature_is_left_out_for_reasoning_models() {
    for model in [
        "o1",
        "o1-mini",
        "o3",
        "o3-mini",
        "o4-mini",
        "gpt-5",
        "gpt-5-mini",
    ] {
        assert!(!accepts_temperature(model), "{model}");
    }
    assert!(!accepts_temperature("openrouter/openai/o3-mini"));
    for model in [
        "gpt-4o",
        "gpt-4.1-mini",
        "claude-sonnet-4-5",
        "gemini-2.5-pro",
        "llama3.1",
        "baseline",
    ] {
        assert!(accepts_temperature(model), "{model}");
    }
}

#[test]
fn empty_builtin_keys_count_as_absent() {
    let env = env_of(&[("OPENAI_API_KEY", ""), ("ANTHROPIC_API_KEY", " \n")]);
    let providers = Providers::builtin(&env).unwrap();
    assert_eq!(route_of(&providers, "baseline").0, "baseline");
    let message = providers.route("gpt-4o").unwrap_err().to_string();
    assert!(message.contains("OPENAI_API_KEY"), "{message}");
}

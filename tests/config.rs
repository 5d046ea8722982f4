//! Configuration: layering, and errors that name the key and where its value came from.

use std::io::Write;

use agent_os_kernel::{ConfigError, KernelConfig, OverflowPolicy};

fn file(ext: &str, body: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(ext).tempfile().unwrap();
    f.write_all(body.as_bytes()).unwrap();
    f
}

const NO_ENV: [(&str, &str); 0] = [];

#[test]
fn defaults_then_file_then_environment() {
    let f = file(
        ".toml",
        "[kernel]\nmailbox_capacity = 64\nstop_timeout_ms = 700\n",
    );
    let c = KernelConfig::from_sources(
        Some(f.path()),
        [
            ("AOK__KERNEL__MAILBOX_CAPACITY", "128"),
            ("AOK__KERNEL__OVERFLOW", "backpressure"),
        ],
    )
    .unwrap();
    assert_eq!(c.kernel.mailbox_capacity, 128, "env wins over the file");
    assert_eq!(c.kernel.stop_timeout_ms, 700, "file wins over defaults");
    assert_eq!(c.kernel.overflow, OverflowPolicy::Backpressure);
    assert_eq!(c.supervisor.max_restarts, 3, "defaults fill the rest");
}

#[test]
fn yaml_files_are_read_too() {
    let f = file(".yaml", "supervisor:\n  max_restarts: 9\n");
    let c = KernelConfig::from_sources(Some(f.path()), NO_ENV).unwrap();
    assert_eq!(c.supervisor.max_restarts, 9);
}

#[test]
fn an_unknown_key_names_the_key_the_file_and_a_suggestion() {
    let f = file(".toml", "[kernel]\narbitrs = 4\n");
    let e = KernelConfig::from_sources(Some(f.path()), NO_ENV).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, ConfigError::UnknownKey { ref key, .. } if key == "kernel.arbitrs"),
        "{msg}"
    );
    assert!(msg.contains(&f.path().display().to_string()), "{msg}");
    assert!(msg.contains("did you mean `kernel.arbiters`"), "{msg}");
}

#[test]
fn a_wrongly_typed_environment_value_names_the_variable() {
    let e =
        KernelConfig::from_sources(None, [("AOK__KERNEL__MAILBOX_CAPACITY", "lots")]).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("kernel.mailbox_capacity"), "{msg}");
    assert!(msg.contains("AOK__KERNEL__MAILBOX_CAPACITY"), "{msg}");
}

#[test]
fn an_out_of_range_value_names_the_key_and_the_file() {
    let f = file(
        ".toml",
        "[kernel]\nmailbox_capacity = 0\n[storage]\nurl = \"mysql://x\"\n",
    );
    let e = KernelConfig::from_sources(Some(f.path()), NO_ENV).unwrap_err();
    let ConfigError::Many(errors) = &e else {
        panic!("expected both errors: {e}")
    };
    assert_eq!(errors.len(), 2, "{e}");
    let msg = e.to_string();
    assert!(msg.contains("`kernel.mailbox_capacity`"), "{msg}");
    assert!(msg.contains("`storage.url`"), "{msg}");
    assert!(msg.contains(&f.path().display().to_string()), "{msg}");
}

#[test]
fn a_bad_enum_value_names_the_key() {
    let e = KernelConfig::from_sources(None, [("AOK__KERNEL__OVERFLOW", "drop")]).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("kernel.overflow"), "{msg}");
    assert!(msg.contains("reject"), "lists the allowed values: {msg}");
}

#[test]
fn missing_and_unsupported_files_are_clear_errors() {
    let e = KernelConfig::from_sources(Some(std::path::Path::new("/nope/aok.toml")), NO_ENV)
        .unwrap_err();
    assert!(matches!(e, ConfigError::File { .. }), "{e}");
    assert!(e.to_string().contains("/nope/aok.toml"));
    let f = file(".ini", "x=1");
    let e = KernelConfig::from_sources(Some(f.path()), NO_ENV).unwrap_err();
    assert!(matches!(e, ConfigError::UnsupportedFormat { .. }), "{e}");
}

#[test]
fn a_syntax_error_names_the_file() {
    let f = file(".toml", "[kernel\nmailbox_capacity = 1\n");
    let e = KernelConfig::from_sources(Some(f.path()), NO_ENV).unwrap_err();
    assert!(
        e.to_string().contains(&f.path().display().to_string()),
        "{e}"
    );
}

#[test]
fn list_valued_keys_come_from_the_environment_as_json_arrays() {
    let c = KernelConfig::from_sources(
        None,
        [
            ("AOK__PROVIDERS__BACKENDS__LOCAL__KIND", "openai_compatible"),
            (
                "AOK__PROVIDERS__BACKENDS__LOCAL__BASE_URL",
                "http://127.0.0.1:8080/v1",
            ),
            (
                "AOK__PROVIDERS__BACKENDS__LOCAL__MODELS",
                r#"["smollm2", "tiny"]"#,
            ),
        ],
    )
    .unwrap();
    assert_eq!(c.providers.backends["local"].models, ["smollm2", "tiny"]);
    let e = KernelConfig::from_sources(
        None,
        [("AOK__PROVIDERS__BACKENDS__LOCAL__MODELS", "[smollm2")],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("AOK__PROVIDERS__BACKENDS__LOCAL__MODELS"), "{e}");
}

//! Fuzz target: `agent_os_kernel::provider::fuzzing::sse` must return for any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    agent_os_kernel::provider::fuzzing::sse(data);
});

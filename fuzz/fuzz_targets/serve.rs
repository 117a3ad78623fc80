//! The scheduler service's request parsing: fuzzed requests to the whole
//! router, in-process, logged in or not (see `checks::serve`). The run it
//! serves is a `caregap demo`'s, named by `CAREGAP_FUZZ_RUN` (scripts/fuzz.sh
//! makes one).
#![no_main]

#[path = "../checks.rs"]
mod checks;

use std::sync::OnceLock;

fn service() -> &'static checks::Service {
    static SERVICE: OnceLock<checks::Service> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let run = std::env::var_os("CAREGAP_FUZZ_RUN")
            .expect("CAREGAP_FUZZ_RUN names a run folder (scripts/fuzz.sh makes one)");
        checks::service(std::path::Path::new(&run))
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::serve(service(), data));

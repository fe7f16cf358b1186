//! The fuzz driver (`fuzz/driver.rs`) on seeded random scripts, so CI exercises what `cargo fuzz`
//! explores for longer. A failure prints the seed and the script to reproduce it.

#[path = "../../../fuzz/driver.rs"]
mod driver;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

#[test]
fn random_scripts_keep_every_promise() {
    let mut rng = StdRng::seed_from_u64(0x5eed_c0de);
    for round in 0..3000 {
        let len = rng.random_range(0..2048);
        let mut script = vec![0u8; len];
        rng.fill_bytes(&mut script);
        let outcome = std::panic::catch_unwind(|| driver::drive(&script));
        assert!(outcome.is_ok(), "round {round} failed; script: {script:?}");
    }
}

#[test]
fn command_heavy_scripts_keep_every_promise() {
    // Scripts made mostly of connects and templated commands reach rooms, nicks and fan-out.
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..2000 {
        let mut script = Vec::new();
        for _ in 0..rng.random_range(1..200) {
            let op: u8 = *[0u8, 0, 4, 4, 4, 4, 1, 2, 5]
                .get(rng.random_range(0..9))
                .unwrap_or(&4);
            script.push(op);
            script.push(rng.random());
            if op >= 5 {
                script.push(rng.random_range(0..40));
                script.extend((0..rng.random_range(0..40)).map(|_| rng.random::<u8>()));
            }
        }
        let outcome = std::panic::catch_unwind(|| driver::drive(&script));
        assert!(outcome.is_ok(), "round {round} failed; script: {script:?}");
    }
}

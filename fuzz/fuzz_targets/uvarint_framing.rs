//! A Bitswap stream as a peer writes it: length-prefixed messages, read until the end. No
//! panic, no read past a declared length over the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_exchange::read_message;

fuzz_target!(|data: &[u8]| {
    let mut stream = futures::io::Cursor::new(data);
    futures::executor::block_on(async {
        while let Ok(Some(_)) = read_message(&mut stream).await {}
    });
});

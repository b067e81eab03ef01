//! `cargo xtask proto`: the Rust code of every `.proto` schema, generated with prost-build and
//! committed, so building Switchboard never needs `protoc`.

use crate::root;

/// (schema, output directory), relative to the workspace root.
const SCHEMAS: &[(&str, &str)] = &[("exchange/src/proto/bitswap.proto", "exchange/src/proto")];

pub(crate) fn run() -> anyhow::Result<()> {
    for (schema, out) in SCHEMAS {
        let (schema, out) = (root().join(schema), root().join(out));
        let include = schema
            .parent()
            .expect("a schema is in a directory")
            .to_owned();
        prost_build::Config::new()
            .out_dir(&out)
            .bytes(["."])
            .compile_protos(&[&schema], &[&include])?;
        println!("generated {} from {}", out.display(), schema.display());
    }
    Ok(())
}

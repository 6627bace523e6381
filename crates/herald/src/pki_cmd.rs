//! `herald pki …`: the development PKI.
//!
//! `herald pki dev` generates everything in memory (`herald_trust::generate_dev_pki`), then
//! writes it in the dev-folder layout (specs/dev-world.md). It refuses to replace an existing
//! PKI unless `--force` is given: losing a CA by accident would invalidate every certificate
//! that partners have pinned. Private keys are created with mode 0600 on unix.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use herald_model::{Clock as _, CountryCode};
use herald_trust::{DevFile, DevPki, DevValidity, LEAF_DAYS, ROOT_DAYS, generate_dev_pki};

#[derive(Debug, Subcommand)]
pub(crate) enum PkiCommand {
    /// Write a complete development PKI: TLS CA, gateway server certificate, per-country client
    /// and signing certificates, and the gateway operator's trust anchor.
    Dev(DevArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    /// The folder to write into.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Countries to issue certificates for, comma-separated ISO 3166-1 alpha-2 codes.
    #[arg(long, value_name = "CC,CC,…", value_delimiter = ',', required = true)]
    pub(crate) countries: Vec<String>,
    /// Replace an existing PKI in DIR: its CA, trust anchor and keys are lost. Folders of
    /// countries not listed now are left as they are.
    #[arg(long)]
    pub(crate) force: bool,
}

pub(crate) fn run(cmd: PkiCommand) -> Result<()> {
    match cmd {
        PkiCommand::Dev(args) => dev(&args),
    }
}

fn dev(args: &DevArgs) -> Result<()> {
    let countries = parse_countries(&args.countries)?;
    write_dev_pki(&args.out, &countries, crate::SystemClock.now(), args.force)
}

/// Generates and writes the development PKI for `countries` into `out` (also used by the
/// services' `--dev` modes when the folder has none yet).
pub(crate) fn write_dev_pki(
    out: &Path,
    countries: &[CountryCode],
    now: herald_model::UnixTime,
    force: bool,
) -> Result<()> {
    let validity = DevValidity::around(now)?;
    let pki = generate_dev_pki(countries, &validity)?;
    let files = pki.files();

    // Check everything before writing anything, so a refusal leaves the folder untouched.
    if !force && let Some(existing) = files.iter().map(|f| out.join(&f.path)).find(|p| p.exists()) {
        bail!(
            "{} already holds a development PKI ({} exists); pass --force to replace it",
            out.display(),
            existing.display()
        );
    }
    for f in &files {
        write_file(out, f, force)?;
    }
    summary(out, &pki, files.len());
    Ok(())
}

/// Countries from `--countries`: each a valid code, at least one, none twice.
fn parse_countries(raw: &[String]) -> Result<Vec<CountryCode>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for text in raw {
        let text = text.trim();
        if text.is_empty() {
            bail!("--countries has an empty entry; give comma-separated codes such as DE,NL,FR");
        }
        let code: CountryCode =
            text.parse().with_context(|| format!("--countries entry {text:?} is not valid"))?;
        if !seen.insert(code) {
            bail!("--countries lists {code} twice");
        }
        out.push(code);
    }
    if out.is_empty() {
        bail!("--countries needs at least one country code");
    }
    Ok(out)
}

/// Writes one file under `root`. Without `force` the file is created exclusively, so a PKI
/// that appeared since the check is never overwritten. With `force`, the new contents go to a
/// fresh temporary file first and are renamed over the old one, so permissions are those of a
/// new file (0600 for keys) and a reader never sees half a file.
fn write_file(root: &Path, file: &DevFile<'_>, force: bool) -> Result<()> {
    let path = root.join(&file.path);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let target = if force { temporary_sibling(&path) } else { path.clone() };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if file.secret { 0o600 } else { 0o644 });
    }
    let mut out = options.open(&target).with_context(|| {
        if force {
            format!("cannot create {}", target.display())
        } else {
            // Also the race: the file appeared after the check in `dev`.
            format!("cannot create {} (pass --force to replace an existing PKI)", path.display())
        }
    })?;
    let written = out.write_all(file.contents.as_bytes()).and_then(|()| out.sync_all());
    drop(out);
    let replaced =
        written.with_context(|| format!("cannot write {}", target.display())).and_then(|()| {
            if force {
                fs::rename(&target, &path)
                    .with_context(|| format!("cannot replace {}", path.display()))
            } else {
                Ok(())
            }
        });
    if replaced.is_err() && force {
        // Best effort: do not leave a temporary copy of a key behind.
        let _ = fs::remove_file(&target);
    }
    replaced
}

/// `dir/.name.tmp-<pid>`: next to the target, so the rename stays within one file system.
fn temporary_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// A short account on stderr: where things went, and the thumbprints an operator pins.
fn summary(out: &Path, pki: &DevPki, count: usize) {
    eprintln!(
        "wrote the development PKI to {} ({count} files; leaves valid {LEAF_DAYS} days, CA and trust anchor {ROOT_DAYS} days)",
        out.display()
    );
    eprintln!("  TLS CA          ca.pem");
    eprintln!("  gateway server  gateway/server.pem (localhost, 127.0.0.1)");
    eprintln!("  trust anchor    anchor/anchor.pem");
    for c in &pki.countries {
        let cc = c.country;
        eprintln!("  {cc} auth         {cc}/auth.pem     sha256 {}", c.auth.thumbprint());
        eprintln!("  {cc} signing      {cc}/signing.pem  sha256 {}", c.signing.thumbprint());
        eprintln!(
            "  {cc} services     {cc}/server.pem   (key server, verifier; localhost, 127.0.0.1)"
        );
    }
}

//! The dev world of `herald bench crash` as real processes: the gateway (`herald gateway serve
//! --dev`), DE's verifier (`herald bench crash-verifier`, the dev verifier behind a proxy
//! header) and DE's key server (`herald keyserver serve --dev`), each on a fixed port so that a
//! restarted process answers where the killed one did; and a private PostgreSQL cluster that
//! the PostgreSQL scenario may crash.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use herald_model::CountryCode;
use herald_runtime::HttpsClient;
use herald_trust::layout;

/// One service process, killed (SIGKILL) when dropped.
pub(super) struct Service {
    name: &'static str,
    args: Vec<String>,
    url_file: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Service {
    /// Starts `herald <args>` and waits until it writes `url_file` (removed first: a killed
    /// process leaves it behind). Its stderr goes to `log`.
    pub(super) async fn start(
        name: &'static str,
        args: Vec<String>,
        url_file: PathBuf,
        log: PathBuf,
    ) -> Result<Self> {
        let mut service = Self { name, args, url_file, log, child: None };
        service.restart().await?;
        Ok(service)
    }

    /// Starts the process again (after [`Service::kill`]); returns once it serves.
    pub(super) async fn restart(&mut self) -> Result<()> {
        let _ = std::fs::remove_file(&self.url_file);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        let exe = std::env::current_exe().context("cannot find the herald binary")?;
        let child = Command::new(exe)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start the {}", self.name))?;
        let child = self.child.insert(child);
        let started = Instant::now();
        loop {
            if let Ok(url) = std::fs::read_to_string(&self.url_file)
                && url.starts_with("https://")
                && url.ends_with(|c: char| c.is_ascii_digit())
            {
                return Ok(());
            }
            if let Some(status) = child.try_wait()? {
                bail!("the {} exited before serving ({status}): {}", self.name, self.log_tail());
            }
            if started.elapsed() > Duration::from_mins(2) {
                bail!("the {} did not start within 2 minutes: {}", self.name, self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `kill -9`, and the exit reaped.
    pub(super) fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().with_context(|| format!("cannot kill the {}", self.name))?;
            child.wait()?;
        }
        Ok(())
    }

    /// Whether the process still runs (it was not restarted behind the bench's back).
    pub(super) fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The process id, to show that a service was not restarted.
    pub(super) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().rev().take(8).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// A free loopback port (bound, then released for the service to take).
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

/// Where the world's services store their data.
#[derive(Debug, Clone, Default)]
pub(super) struct Databases {
    /// The verifier's database URL (default: SQLite in the dev folder).
    pub(super) verifier: Option<String>,
    /// The key server's database URL (default: SQLite in the dev folder).
    pub(super) keyserver: Option<String>,
}

/// The running world.
pub(super) struct World {
    pub(super) dir: PathBuf,
    pub(super) gateway: Service,
    pub(super) verifier: Service,
    pub(super) keyserver: Option<Service>,
    pub(super) keyserver_args: Vec<String>,
    pub(super) keyserver_db: String,
    pub(super) verifier_client: HttpsClient,
    pub(super) keyserver_client: HttpsClient,
    pub(super) gateway_url: String,
    pub(super) admin_key: String,
    pub(super) device_key: String,
}

const DE: &str = "DE";

impl World {
    /// Starts the gateway and the verifier in `dir`; the key server waits for
    /// [`World::start_keyserver`] (its store may be filled first).
    pub(super) async fn start(dir: &Path, databases: &Databases) -> Result<Self> {
        let de: CountryCode = DE.parse()?;
        let s = |p: &Path| p.display().to_string();
        let listen = |port: u16| format!("127.0.0.1:{port}");
        let gateway_port = free_port()?;
        let gateway = Service::start(
            "gateway",
            vec![
                "gateway".into(),
                "serve".into(),
                "--dev".into(),
                s(dir),
                "--listen".into(),
                listen(gateway_port),
            ],
            dir.join("gateway").join("url"),
            dir.join("gateway.log"),
        )
        .await?;
        let mut verifier_args = vec![
            "bench".into(),
            "crash-verifier".into(),
            "--dev".into(),
            s(dir),
            "--listen".into(),
            listen(free_port()?),
        ];
        if let Some(url) = &databases.verifier {
            verifier_args.extend(["--database".into(), url.clone()]);
        }
        let verifier_dir = herald_verifier::dev::verifier_dir(dir, de);
        let verifier = Service::start(
            "verifier",
            verifier_args,
            verifier_dir.join("url"),
            dir.join("verifier.log"),
        )
        .await?;
        let keyserver_port = free_port()?;
        let mut keyserver_args = vec![
            "keyserver".into(),
            "serve".into(),
            "--country".into(),
            DE.into(),
            "--dev".into(),
            s(dir),
            "--listen".into(),
            listen(keyserver_port),
        ];
        let ks_dir = herald_keyserver::dev::keyserver_dir(dir, de);
        std::fs::create_dir_all(&ks_dir)?;
        let keyserver_db = match &databases.keyserver {
            Some(url) => {
                keyserver_args.extend(["--database".into(), url.clone()]);
                url.clone()
            }
            None => format!("sqlite:{}", ks_dir.join("keyserver.db").display()),
        };
        let ca = std::fs::read_to_string(dir.join(layout::ca_cert()))?;
        let read = |name: &str| -> Result<String> {
            Ok(std::fs::read_to_string(verifier_dir.join(name))?.trim().to_owned())
        };
        Ok(Self {
            dir: dir.to_owned(),
            gateway,
            verifier_client: HttpsClient::new(&read("url")?, &ca, None)?,
            keyserver_client: HttpsClient::new(
                &format!("https://127.0.0.1:{keyserver_port}"),
                &ca,
                None,
            )?,
            gateway_url: format!("https://127.0.0.1:{gateway_port}"),
            verifier,
            keyserver: None,
            keyserver_args,
            keyserver_db,
            admin_key: read("admin-api-key")?,
            device_key: read("device-api-key")?,
        })
    }

    /// Starts the key server (it joins the gateway and trusts the verifier).
    pub(super) async fn start_keyserver(&mut self) -> Result<()> {
        let url_file = herald_keyserver::dev::keyserver_dir(&self.dir, DE.parse()?).join("url");
        self.keyserver = Some(
            Service::start(
                "key server",
                self.keyserver_args.clone(),
                url_file,
                self.dir.join("keyserver.log"),
            )
            .await?,
        );
        Ok(())
    }

    /// The key server, once started.
    pub(super) fn keyserver(&mut self) -> Result<&mut Service> {
        self.keyserver.as_mut().context("the key server is not started")
    }

    /// The key server's internal listener (`/metrics`).
    pub(super) fn keyserver_internal_url(&self) -> Result<String> {
        let dir = herald_keyserver::dev::keyserver_dir(&self.dir, DE.parse()?);
        Ok(std::fs::read_to_string(dir.join("internal-url"))?.trim().to_owned())
    }

    /// DE's export folder.
    pub(super) fn exports_dir(&self) -> Result<PathBuf> {
        Ok(herald_keyserver::dev::keyserver_dir(&self.dir, DE.parse()?).join("exports"))
    }

    /// A client of the gateway authenticated as `country` (mTLS).
    pub(super) fn gateway_client(&self, country: &str) -> Result<HttpsClient> {
        let cc: CountryCode = country.parse()?;
        let read = |p: PathBuf| std::fs::read_to_string(self.dir.join(p));
        Ok(HttpsClient::new(
            &self.gateway_url,
            &read(layout::ca_cert())?,
            Some((&read(layout::auth_cert(cc))?, &read(layout::auth_key(cc))?)),
        )?)
    }
}

/// A PostgreSQL cluster of the bench's own in a temporary folder, on a free port, that may be
/// crashed (`pg_ctl stop -m immediate`) and started again. As root, its commands run as the
/// `postgres` user (`runuser`), as PostgreSQL refuses to run as root.
pub(super) struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    port: u16,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// `initdb` and start, with the binaries in `bin` (default: the newest
    /// `/usr/lib/postgresql/*/bin`).
    pub(super) fn start(bin: Option<&Path>) -> Result<Self> {
        let bin = match bin {
            Some(b) => b.to_owned(),
            None => newest_postgres_bin()?,
        };
        let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
        let as_postgres = running_as_root();
        if as_postgres {
            run(Command::new("chown").args(["-R", "postgres:"]).arg(dir.path()))?;
        }
        let port = free_port()?;
        let cluster = Self {
            data: dir.path().join("data"),
            log: dir.path().join("postgres.log"),
            bin,
            port,
            as_postgres,
            _dir: dir,
        };
        let mut initdb = cluster.command("initdb");
        initdb.args(["-A", "trust", "-U", "postgres", "-D"]).arg(&cluster.data);
        run(&mut initdb)?;
        cluster.up()?;
        Ok(cluster)
    }

    /// The administrator URL.
    pub(super) fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub(super) fn up(&self) -> Result<()> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200",
            self.port
        );
        let mut start = self.command("pg_ctl");
        start
            .args(["-w", "-D"])
            .arg(&self.data)
            .args(["-l"])
            .arg(&self.log)
            .args(["-o", &options, "start"]);
        run(&mut start)
    }

    /// `pg_ctl stop -m immediate`: the server dies without a checkpoint, as in a crash, and
    /// recovers from its WAL at the next start.
    pub(super) fn crash(&self) -> Result<()> {
        let mut stop = self.command("pg_ctl");
        stop.args(["-w", "-D"]).arg(&self.data).args(["-m", "immediate", "stop"]);
        run(&mut stop)
    }

    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.crash();
    }
}

/// Runs a command quietly; an error carries its output.
fn run(command: &mut Command) -> Result<()> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", command.get_program().display()))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}",
            command.get_program().display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn newest_postgres_bin() -> Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("no PostgreSQL in /usr/lib/postgresql (give --pg-bin)")?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).context("no initdb under /usr/lib/postgresql/*/bin")
}

/// Whether this process runs as root (Linux: the real uid in /proc/self/status).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .is_some_and(|uid| uid == "0")
    })
}

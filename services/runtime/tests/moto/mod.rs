//! A real moto server (PyPI `moto[server]`) on a free loopback port, killed on drop, and
//! the integrations pointed at it with nothing but `AWS_ENDPOINT_URL`, a region and test
//! credentials. Without moto the tests fail with instructions, unless
//! `QUICKSTEP_SKIP_MOTO=1` (then they skip, saying so).

#![allow(dead_code)]

use runtime::clock::SystemClock;
use runtime::tasks::aws::credentials::Env;
use runtime::tasks::callback::CallbackRegistry;
use runtime::tasks::config::TasksConfig;
use runtime::tasks::Integrations;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const SKIP_ENV: &str = "QUICKSTEP_SKIP_MOTO";
pub const REGION: &str = "us-east-1";

/// A running moto server.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// Starts moto, or answers `None` when it is missing and `QUICKSTEP_SKIP_MOTO=1`.
    pub fn start() -> Option<Moto> {
        let found = Command::new("moto_server")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") {
                eprintln!("moto_server not found; skipping because {SKIP_ENV}=1");
                return None;
            }
            panic!(
                "moto_server not found on PATH: the AWS integration tests need a real moto \
                 server (python3 -m pip install 'moto[server]'), or set {SKIP_ENV}=1 to skip them"
            );
        }
        let mut last = String::new();
        for _ in 0..3 {
            match Self::start_on(free_port()) {
                Ok(moto) => return Some(moto),
                Err(e) => last = e,
            }
        }
        panic!("could not start moto_server: {last}");
    }

    fn start_on(port: u16) -> Result<Moto, String> {
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn moto_server: {e}"))?;
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(moto);
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!("moto_server on port {port} exited: {status}"));
            }
            if Instant::now() > deadline {
                return Err(format!("moto_server on port {port} never listened"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a user sets for moto: endpoint, region, test keys — nothing else.
    pub fn env(&self) -> Env {
        Env {
            vars: [
                ("AWS_ENDPOINT_URL", self.endpoint()),
                ("AWS_REGION", REGION.into()),
                ("AWS_ACCESS_KEY_ID", "testing".into()),
                ("AWS_SECRET_ACCESS_KEY", "testing-secret-key-9f8e".into()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            home: None,
        }
    }

    /// The integrations over `env()`, with `config`.
    pub fn integrations_with(&self, config: &TasksConfig) -> Integrations {
        self.integrations_for(
            config,
            CallbackRegistry::new(
                Arc::new(SystemClock),
                std::sync::Arc::new(
                    runtime::task_token::TaskTokenKeys::ephemeral().expect("OS randomness"),
                ),
            ),
        )
    }

    /// The integrations over `env()`, with `config`, answering tokens through `callbacks`.
    pub fn integrations_for(
        &self,
        config: &TasksConfig,
        callbacks: Arc<CallbackRegistry>,
    ) -> Integrations {
        Integrations::with_env(config, None, callbacks, &self.env()).expect("integrations build")
    }

    pub fn integrations(&self) -> Integrations {
        self.integrations_with(&TasksConfig::default())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

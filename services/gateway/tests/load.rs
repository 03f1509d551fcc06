//! The gateway under slow, idle and flooding clients, over real TCP: a slowloris is cut
//! off after the header timeout while others are answered, idle keep-alive connections are
//! closed, and connections past the limit wait until a slot frees.

use gateway::config::GatewayConfig;
use gateway::Gateway;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n";

/// A served in-memory gateway; the token stops it.
async fn start(config: GatewayConfig) -> (std::net::SocketAddr, CancellationToken) {
    // Every gateway needs the deployment's task token key.
    let config = GatewayConfig {
        task_token_key: Some(runtime::task_token::TaskTokenSecret::new(
            "the-gateway-load-tests-task-token-key-32-bytes",
        )),
        ..config
    };
    let (gateway, _) = Gateway::in_memory(config).expect("builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("has an address");
    let shutdown = CancellationToken::new();
    tokio::spawn(gateway.serve(listener, shutdown.clone()));
    (address, shutdown)
}

/// Sends `/healthz` on `stream` and reads the answer (keep-alive: by its length).
async fn health(stream: &mut TcpStream) -> std::io::Result<String> {
    stream.write_all(HEALTH).await?;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.ends_with(b"\r\n\r\nok") {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        answer.extend_from_slice(&buffer[..n]);
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// Whether the server closes `stream` within `within` (EOF or reset).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    matches!(
        timeout(within, async {
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await,
        Ok(())
    )
}

#[tokio::test]
async fn a_slowloris_is_cut_off_while_others_are_answered() {
    let (address, shutdown) = start(GatewayConfig {
        header_read_timeout_seconds: 2,
        ..GatewayConfig::default()
    })
    .await;
    let started = Instant::now();
    let mut dribblers = Vec::new();
    for _ in 0..8 {
        let stream = TcpStream::connect(address).await.expect("connects");
        dribblers.push(tokio::spawn(async move {
            let mut stream = stream;
            // A header byte a second: never a whole head within the timeout.
            for byte in HEALTH.iter().cycle().take(30) {
                if stream.write_all(&[*byte]).await.is_err() {
                    return Some(started.elapsed());
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                let mut probe = [0u8; 512];
                if let Ok(Ok(0) | Err(_)) =
                    timeout(Duration::from_millis(1), stream.read(&mut probe)).await
                {
                    return Some(started.elapsed());
                }
            }
            None
        }));
    }
    // Meanwhile, a normal client is answered promptly, again and again.
    for _ in 0..3 {
        let mut client = TcpStream::connect(address).await.expect("connects");
        let answer = timeout(Duration::from_secs(1), health(&mut client))
            .await
            .expect("answered within a second")
            .expect("answered");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for dribbler in dribblers {
        let cut = dribbler
            .await
            .expect("joins")
            .expect("the slowloris is cut off");
        assert!(
            cut >= Duration::from_secs(2) && cut < Duration::from_secs(6),
            "cut off after {cut:?}, the header timeout is 2 s"
        );
    }
    shutdown.cancel();
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let (address, shutdown) = start(GatewayConfig {
        idle_timeout_seconds: 1,
        ..GatewayConfig::default()
    })
    .await;
    let mut stream = TcpStream::connect(address).await.expect("connects");
    health(&mut stream).await.expect("answered");
    // Kept alive between requests shorter than the idle timeout…
    tokio::time::sleep(Duration::from_millis(500)).await;
    health(&mut stream)
        .await
        .expect("still open after half the idle timeout");
    let idle_from = Instant::now();
    // …and closed once idle longer.
    assert!(
        closed_within(&mut stream, Duration::from_secs(3)).await,
        "an idle connection stays open"
    );
    let idled = idle_from.elapsed();
    assert!(
        idled >= Duration::from_millis(900),
        "closed after {idled:?}"
    );
    // A connection that never sends anything is idle too.
    let mut silent = TcpStream::connect(address).await.expect("connects");
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await);
    shutdown.cancel();
}

#[tokio::test]
async fn connections_past_the_limit_wait_until_one_closes() {
    let (address, shutdown) = start(GatewayConfig {
        max_connections: 2,
        ..GatewayConfig::default()
    })
    .await;
    let mut first = TcpStream::connect(address).await.expect("connects");
    let mut second = TcpStream::connect(address).await.expect("connects");
    health(&mut first).await.expect("the first is served");
    health(&mut second).await.expect("the second is served");
    // The third connects (the kernel's backlog) but is not served while both are open.
    let mut third = TcpStream::connect(address).await.expect("connects");
    let waiting = tokio::spawn(async move {
        let answer = health(&mut third).await;
        (answer, Instant::now())
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !waiting.is_finished(),
        "a third connection was served past the limit of 2"
    );
    // The limit's worth keep being served meanwhile.
    health(&mut first).await.expect("the first is still served");
    let freed = Instant::now();
    drop(second);
    let (answer, at) = timeout(Duration::from_secs(2), waiting)
        .await
        .expect("the third is served once a slot frees")
        .expect("joins");
    assert!(answer.expect("answered").starts_with("HTTP/1.1 200"));
    assert!(at >= freed);
    shutdown.cancel();
}

#[tokio::test]
async fn the_header_timer_also_runs_on_an_idle_keep_alive_connection() {
    // What the configuration documents: hyper starts the header timer as soon as a
    // connection is ready for its next request, so the shorter timeout closes an idle one.
    let (address, shutdown) = start(GatewayConfig {
        header_read_timeout_seconds: 1,
        idle_timeout_seconds: 60,
        ..GatewayConfig::default()
    })
    .await;
    let mut stream = TcpStream::connect(address).await.expect("connects");
    health(&mut stream).await.expect("answered");
    assert!(closed_within(&mut stream, Duration::from_secs(3)).await);
    shutdown.cancel();
}

#[tokio::test]
async fn a_body_that_trickles_gets_request_timeout() {
    let (address, shutdown) = start(GatewayConfig {
        body_read_timeout_seconds: 1,
        ..GatewayConfig::default()
    })
    .await;
    let mut stream = TcpStream::connect(address).await.expect("connects");
    let head = "POST / HTTP/1.1\r\nHost: gateway\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: 100\r\n\r\n{";
    stream.write_all(head.as_bytes()).await.expect("writes");
    let sent = Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.ends_with(b"}") {
        let n = timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("answered before the test gives up")
            .expect("reads");
        assert!(n > 0, "closed without an answer");
        answer.extend_from_slice(&buffer[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("\"__type\":\"RequestTimeoutException\""),
        "{answer}"
    );
    assert!(sent.elapsed() >= Duration::from_millis(900));
    // Others are served meanwhile and after.
    let mut other = TcpStream::connect(address).await.expect("connects");
    assert!(health(&mut other)
        .await
        .expect("answered")
        .starts_with("HTTP/1.1 200"));
    shutdown.cancel();
}

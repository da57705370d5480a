//! The accept loop, for plain HTTP and HTTPS alike: warp 0.4 serves plain TCP only, so the routes
//! are served through hyper directly, with warp's graceful shutdown behaviour (stop accepting,
//! let requests in progress finish).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::{service_fn, Service as _};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::chunked::streamed;
use super::{routes, ServerState};

/// A client that opens a connection and sends nothing holds a task and a socket.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Serves the routes on `listener` until `shutdown` completes, over TLS when `tls` is given; then
/// waits up to `drain` for requests in progress (exports) to finish.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: Arc<ServerState>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let routes = TowerToHyperService::new(warp::service(routes(state, tls.is_some())));
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    no_delay(&stream);
                    stream
                }
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let routes = routes.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
            let service = service_fn(move |request| {
                let response = routes.call(request);
                async move { response.await.map(streamed) }
            });
            let served = match acceptor {
                None => watcher.watch(builder.serve_connection_with_upgrades(TokioIo::new(stream), service)).await,
                Some(acceptor) => {
                    let Some(stream) = handshake(&acceptor, stream).await else { return };
                    watcher.watch(builder.serve_connection_with_upgrades(TokioIo::new(stream), service)).await
                }
            };
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    // A client that stops reading its export must not use up the time the final checkpoint needs.
    if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
        tracing::warn!(seconds = drain.as_secs_f64(), "requests still in progress at shutdown are cut off");
    }
}

/// Sends each write as it is made. With Nagle's algorithm on, the kernel holds back the last,
/// partial segment of a response until the client has acknowledged everything before it, and a
/// client may delay that acknowledgement by 40 ms or more.
pub fn no_delay(stream: &TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "could not turn off Nagle's algorithm on a connection");
    }
}

/// The TLS handshake, bounded in time. A client speaking plain HTTP to the HTTPS port is told so
/// in plain HTTP, rather than left with a closed connection to puzzle over.
async fn handshake(
    acceptor: &TlsAcceptor,
    mut stream: TcpStream,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] != TLS_HANDSHAKE => {
            let body = r#"{"error":"this server speaks HTTPS only: use an https:// URL"}"#;
            let reply = format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.shutdown().await;
            // Closing with the request unread would reset the connection, and the client could
            // lose the reply; read what it sent (bounded) until it closes its side.
            let mut sink = [0u8; 4096];
            let drain = async {
                let mut total = 0;
                while let Ok(n @ 1..) = stream.read(&mut sink).await {
                    total += n;
                    if total > 64 * 1024 {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
            return None;
        }
        Ok(Ok(_)) => {}
        _ => return None,
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

/// As warp does: errors about one connection are the client's; others (out of file descriptors)
/// are logged and retried after a pause rather than spinning.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

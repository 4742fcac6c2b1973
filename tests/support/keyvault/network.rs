//! How connections reach the fake: a TLS listener for axum, and the HTTP
//! CONNECT proxy that tunnels every vault host to it.

pub(super) struct TlsListener {
    pub(super) tcp: tokio::net::TcpListener,
    pub(super) acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// `CONNECT host:443` for any host: a tunnel to the fake server.
pub(super) async fn connect_proxy(listener: tokio::net::TcpListener, target: std::net::SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if client.read(&mut byte).await.ok() != Some(1) {
                    return;
                }
                head.push(byte[0]);
            }
            if !head.starts_with(b"CONNECT ") {
                let _ = client
                    .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
                    .await;
                return;
            }
            let Ok(mut server) = tokio::net::TcpStream::connect(target).await else {
                return;
            };
            if client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
                .is_ok()
            {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
    }
}

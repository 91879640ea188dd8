//! The SMPP link over TLS: a self-signed certificate (rcgen) on a tokio-rustls acceptor that terminates TLS
//! in front of the SMSC simulator, all on 127.0.0.1. Also: a link that does not trust the certificate does
//! not bind and says why.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use prometheus::Registry;
use smsbridge::link::smpp::{
    BindState, InboundHandler, InboundMessage, LinkError, SmppLinkConfig, SmppMetrics,
    SubmitOutcome, SubmitRequest, TlsConfig, Verdict, spawn,
};
use smsbridge::sim::smsc::{Smsc, SmscConfig};
use smsbridge_protocol::smpp::SubmitSm;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(20);

struct Collect(mpsc::UnboundedSender<InboundMessage>);

impl InboundHandler for Collect {
    fn handle(&self, msg: InboundMessage) -> BoxFuture<'static, Verdict> {
        let _ = self.0.send(msg);
        Box::pin(async { Verdict::Committed })
    }
}

/// Accepts TLS connections and pipes their plaintext to `backend`.
async fn tls_front(
    backend: std::net::SocketAddr,
) -> (u16, rustls::pki_types::CertificateDer<'static>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        ck.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        for _ in 0..8 {
            let Ok(Ok((tcp, _))) = timeout(LIMIT, listener.accept()).await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(Ok(mut tls)) = timeout(LIMIT, acceptor.accept(tcp)).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = timeout(
                    Duration::from_secs(30),
                    tokio::io::copy_bidirectional(&mut tls, &mut plain),
                )
                .await;
            });
        }
    });
    (port, cert)
}

fn config(port: u16, tls: TlsConfig) -> SmppLinkConfig {
    SmppLinkConfig {
        carrier: "tlsco".into(),
        link: "l1".into(),
        host: "127.0.0.1".into(),
        port,
        tls: Some(tls),
        system_id: "esme".into(),
        password: "pw".into(),
        ..SmppLinkConfig::default()
    }
}

#[tokio::test]
async fn binds_submits_and_receives_a_receipt_over_tls() {
    let sim = Smsc::start(SmscConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        accounts: vec![("esme".into(), "pw".into())],
        ..SmscConfig::default()
    })
    .await
    .expect("sim");
    let (port, cert) = tls_front(sim.local_addr()).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("root");
    let tls = TlsConfig::with_roots(roots, "localhost").expect("tls config");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let registry = Registry::new();
    let cancel = CancellationToken::new();
    let link = spawn(
        config(port, tls),
        Arc::new(Collect(tx)),
        SmppMetrics::register(&registry)
            .expect("metrics")
            .link("tlsco", "l1"),
        cancel.clone(),
    )
    .expect("spawn");
    let handle = link.handle();
    assert!(handle.wait_bound(LIMIT).await, "bound over TLS");
    let outcome = timeout(
        LIMIT,
        handle.submit(SubmitRequest::SubmitSm(SubmitSm {
            source_addr: b"15550001".to_vec().into(),
            destination_addr: b"4915100000001".to_vec().into(),
            registered_delivery: 1,
            short_message: b"over tls".to_vec().into(),
            ..SubmitSm::default()
        })),
    )
    .await
    .expect("answered");
    let SubmitOutcome::Accepted { message_id } = outcome else {
        panic!("expected Accepted, got {outcome:?}");
    };
    let receipt = timeout(LIMIT, rx.recv())
        .await
        .expect("receipt in time")
        .expect("open");
    assert_eq!(
        receipt.receipt.and_then(|r| r.message_id).as_deref(),
        Some(message_id.as_str())
    );
    cancel.cancel();
    timeout(LIMIT, link.join()).await.expect("link ends");
    let c = sim.counters();
    assert_eq!(c.binds.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(c.unbinds.load(std::sync::atomic::Ordering::SeqCst), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error() {
    let sim = Smsc::start(SmscConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..SmscConfig::default()
    })
    .await
    .expect("sim");
    let (port, _cert) = tls_front(sim.local_addr()).await;
    // Trust a different self-signed certificate.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(other.cert.der().clone()).expect("root");
    let tls = TlsConfig::with_roots(roots, "localhost").expect("tls config");
    let (tx, _rx) = mpsc::unbounded_channel();
    let registry = Registry::new();
    let cancel = CancellationToken::new();
    let link = spawn(
        config(port, tls),
        Arc::new(Collect(tx)),
        SmppMetrics::register(&registry)
            .expect("metrics")
            .link("tlsco", "l1"),
        cancel.clone(),
    )
    .expect("spawn");
    let mut state = link.handle().state();
    let down = timeout(
        LIMIT,
        state.wait_for(|s| matches!(s, BindState::Down { .. })),
    )
    .await
    .expect("in time")
    .expect("open")
    .clone();
    match down {
        BindState::Down { error } => {
            assert!(matches!(&*error, LinkError::Tls { .. }), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        sim.counters()
            .binds
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    cancel.cancel();
    timeout(LIMIT, link.join()).await.expect("link ends");
    sim.shutdown().await;
}

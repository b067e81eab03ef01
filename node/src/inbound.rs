//! Serving inbound libp2p-stream streams without losing any.
//!
//! libp2p-stream hands inbound streams over through a queue of one and drops a stream when the
//! queue is full, silently for the sender, whose message is then lost. So the acceptor here
//! does nothing but take streams off that queue and spawn their handlers; the bound on
//! concurrent handlers is a semaphore, and a stream over it is dropped here, where it is
//! logged.

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use libp2p::{PeerId, Stream};
use tokio::sync::Semaphore;

/// Runs `handle` for every inbound stream, at most `max` at once, until the node stops.
pub(crate) async fn serve<F, Fut>(
    mut incoming: libp2p_stream::IncomingStreams,
    max: usize,
    what: &'static str,
    handle: F,
) where
    F: Fn(PeerId, Stream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(max));
    while let Some((peer, stream)) = incoming.next().await {
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let handling = handle(peer, stream);
                crate::rt::spawn(async move {
                    handling.await;
                    drop(permit);
                });
            }
            Err(_) => {
                tracing::warn!(%peer, protocol = what, max, "too many inbound streams; dropping one")
            }
        }
    }
}

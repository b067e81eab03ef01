//! The JavaScript API: `create`, the node handle and its `block` API.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use switchboard_node::exchange::Cid;
use switchboard_node::transport::{Filter, Transport, WebSocket};
use switchboard_node::{
    DEFAULT_GET_TIMEOUT, Event, IndexedDbBlockstore, ListenError, Node, profile,
};
use wasm_bindgen::prelude::*;

/// Starts a browser node. `options` (optional):
/// - `websocketFilter: 'all' | 'wss' | 'dns-wss' | 'dns-ws-or-wss'`, default `dns-wss` (secure
///   websockets to DNS names, as a browser js-libp2p node); `all` lets `ws://127.0.0.1` through;
/// - `persist: '<name>'`: keep blocks in IndexedDB database `<name>` across page loads
///   (default: in memory only).
#[wasm_bindgen]
pub async fn create(options: Option<Object>) -> Result<SwitchboardNode, JsError> {
    let option = |key: &str| -> Result<Option<String>, JsError> {
        options
            .as_ref()
            .map(|o| Reflect::get(o, &key.into()))
            .transpose()
            .map(|v| v.and_then(|v| v.as_string()))
            .map_err(|_| JsError::new("options is not an object"))
    };
    let mut builder = Node::builder(profile::Browser);
    if let Some(name) = option("persist")? {
        let store = IndexedDbBlockstore::open(&name).await.map_err(js_error)?;
        builder = builder.with_blockstore(Arc::new(store));
    }
    if let Some(filter) = option("websocketFilter")? {
        let filter: Filter = filter.parse().map_err(js_error)?;
        let websocket: Arc<dyn Transport> = Arc::new(WebSocket::new().with_filter(filter));
        builder = builder.with_transport(websocket);
    }
    let node = builder.build().await.map_err(js_error)?;
    Ok(SwitchboardNode {
        node,
        webrtc: Cell::new(false),
    })
}

/// A running node in the page.
#[wasm_bindgen]
pub struct SwitchboardNode {
    node: Node,
    /// Whether it listens on `/webrtc` (once, whatever the relays).
    webrtc: Cell<bool>,
}

#[wasm_bindgen]
impl SwitchboardNode {
    /// The node's peer id.
    #[wasm_bindgen(getter, js_name = peerId)]
    pub fn peer_id(&self) -> String {
        self.node.peer_id().to_string()
    }

    /// Dials a multiaddr (ending in `/p2p/<peer id>` to check who answers); the peer id of
    /// the peer connected. Rejects with the reason: a filter's refusal names the filter.
    pub async fn dial(&self, addr: String) -> Result<String, JsError> {
        let addr = addr.parse().map_err(js_error)?;
        Ok(self.node.connect(addr).await.map_err(js_error)?.to_string())
    }

    /// Listens through the circuit relay at `relay` (`/…/p2p/RELAY_ID`, reached over ws, wss or
    /// WebRTC-direct): reserves a slot on it and listens on `/webrtc`, so that other pages and
    /// daemons dial this page at `<relay>/p2p-circuit/webrtc/p2p/<peer id>` and connect to it
    /// directly. Resolves once the relay accepted, to the page's addresses; the reservation is
    /// made again whenever it is lost.
    pub async fn listen(&self, relay: String) -> Result<Array, JsError> {
        let relay: Multiaddr = relay.parse().map_err(js_error)?;
        let circuit = match relay.iter().last() {
            Some(Protocol::P2pCircuit) => relay,
            _ => relay.with(Protocol::P2pCircuit),
        };
        let reserving = self.node.listen(circuit);
        if self.webrtc.replace(true) {
            reserving.await.map_err(js_error)?;
        } else {
            let webrtc = self.node.listen(Multiaddr::empty().with(Protocol::WebRTC));
            let (reserved, listening): (Result<_, ListenError>, Result<_, ListenError>) =
                futures::join!(reserving, webrtc);
            reserved.map_err(js_error)?;
            listening.map_err(js_error)?;
        }
        Ok(self.addresses().await)
    }

    /// The addresses others reach the page at, with its peer id: `/webrtc` ones through its
    /// relays, and the relayed circuits themselves.
    pub async fn addresses(&self) -> Array {
        self.node
            .identity()
            .await
            .addresses
            .iter()
            .map(|a| JsValue::from(a.to_string()))
            .collect()
    }

    /// The connected peers: `[{ peer, addr, direction }]`.
    pub async fn peers(&self) -> Result<Array, JsError> {
        let peers = Array::new();
        for info in self.node.peers().await {
            let direction = match info.direction {
                switchboard_node::Direction::Outbound => "outbound",
                _ => "inbound",
            };
            peers.push(&JsValue::from(object(&[
                ("peer", info.peer.to_string().into()),
                ("addr", info.addr.to_string().into()),
                ("direction", direction.into()),
            ])?));
        }
        Ok(peers)
    }

    /// Calls `callback` with each event, `{ type, peer?, addr?, agentVersion?, protocols? }`:
    /// `connected`, `disconnected`, `identified`, `listening` and `expired` (an address of the
    /// page's came or went: a relay reservation, a `/webrtc` address).
    #[wasm_bindgen(js_name = onEvent)]
    pub fn on_event(&self, callback: Function) {
        let mut events = self.node.subscribe();
        wasm_bindgen_futures::spawn_local(async move {
            // A page too busy to keep up misses events rather than stalling the node.
            while let Some(event) = events.next().await {
                let Ok(Some(value)) = event_object(&event) else {
                    continue;
                };
                let _ = callback.call1(&JsValue::NULL, &value);
            }
        });
    }

    /// The block API: `put(bytes)`, `get(cid, timeoutMs?)`, `stat(cid)`.
    #[wasm_bindgen(getter)]
    pub fn block(&self) -> BlockApi {
        BlockApi {
            node: self.node.clone(),
        }
    }

    /// Stops the node: its connections close.
    pub async fn stop(&self) {
        self.node.shutdown().await;
    }
}

/// Blocks: stored in the page's memory, fetched from and served to peers over Bitswap.
#[wasm_bindgen]
pub struct BlockApi {
    node: Node,
}

#[wasm_bindgen]
impl BlockApi {
    /// Stores `data` as a raw block (CIDv1, sha2-256, as Kubo's `block put`); its CID.
    pub async fn put(&self, data: Uint8Array) -> Result<String, JsError> {
        let cid = self
            .node
            .block()
            .put(data.to_vec())
            .await
            .map_err(js_error)?;
        Ok(cid.to_string())
    }

    /// The block `cid` names, from memory or from peers, waiting up to `timeoutMs` (default
    /// 60 s).
    pub async fn get(&self, cid: String, timeout_ms: Option<u32>) -> Result<Uint8Array, JsError> {
        let cid: Cid = cid.parse().map_err(js_error)?;
        let timeout = timeout_ms.map_or(DEFAULT_GET_TIMEOUT, |ms| {
            Duration::from_millis(u64::from(ms))
        });
        let block = self
            .node
            .block()
            .get_with_timeout(&cid, timeout)
            .await
            .map_err(js_error)?;
        Ok(Uint8Array::from(block.data().as_ref()))
    }

    /// The size of a stored block, or `undefined`.
    pub async fn stat(&self, cid: String) -> Result<Option<u32>, JsError> {
        let cid: Cid = cid.parse().map_err(js_error)?;
        let size = self.node.block().stat(&cid).await.map_err(js_error)?;
        Ok(size.map(|s| s as u32))
    }
}

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn object(fields: &[(&str, JsValue)]) -> Result<Object, JsError> {
    let object = Object::new();
    for (key, value) in fields {
        Reflect::set(&object, &(*key).into(), value)
            .map_err(|_| JsError::new("cannot build an event object"))?;
    }
    Ok(object)
}

/// The JavaScript shape of an event; `None` for events a page has no use for.
fn event_object(event: &Event) -> Result<Option<Object>, JsError> {
    let fields: Vec<(&str, JsValue)> = match event {
        Event::Connected { peer, addr } => vec![
            ("type", "connected".into()),
            ("peer", peer.to_string().into()),
            ("addr", addr.to_string().into()),
        ],
        Event::Disconnected { peer } => vec![
            ("type", "disconnected".into()),
            ("peer", peer.to_string().into()),
        ],
        Event::Identified {
            peer,
            agent_version,
            protocols,
            ..
        } => vec![
            ("type", "identified".into()),
            ("peer", peer.to_string().into()),
            ("agentVersion", agent_version.clone().into()),
            (
                "protocols",
                protocols
                    .iter()
                    .map(|p| JsValue::from(p.as_str()))
                    .collect::<Array>()
                    .into(),
            ),
        ],
        Event::ListenAddr(addr) => vec![
            ("type", "listening".into()),
            ("addr", addr.to_string().into()),
        ],
        Event::ListenAddrExpired(addr) => vec![
            ("type", "expired".into()),
            ("addr", addr.to_string().into()),
        ],
        _ => return Ok(None),
    };
    object(&fields).map(Some)
}

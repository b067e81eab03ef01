// Helia in a web page, as a third-party browser client of a Switchboard daemon.
//
// Bundled by esbuild (`cargo xtask browser` does it) into bundle.js, which index.html loads.
// Query parameters: addr=<peer multiaddr>, cid=<block to fetch> or cids=<comma-separated
// blocks> (both optional). The page dials the peer over whatever the address says (ws, wss,
// webrtc-direct with its certhash, a relay's circuit over ws, or /webrtc through one), fetches
// with Bitswap what it is given (all `cids` at once), and reports {ok, connectMs, fetchMs,
// data (of `cid`), bytes, via | error} in document.body.dataset.result (just {ok, connectMs}
// without either: the matrix's rows); `via` is the connection's remote address.
// With relay=<relay multiaddr> instead, it listens: it reserves on the relay, listens on
// /webrtc, stores a 1 MiB block (byte i is i % 251, as Switchboard's listen.html makes it),
// reports {ok, peer, addrs, cid} and stays up to serve it.
// No bootstrap, routers, gateways or discovery: it talks to the one daemon it is given.
import { noise } from '@chainsafe/libp2p-noise'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import { webRTC, webRTCDirect } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

const params = new URLSearchParams(location.search)
const report = (result) => {
  document.getElementById('result').textContent = JSON.stringify(result, null, 2)
  document.body.dataset.result = JSON.stringify(result)
}

let helia
async function run () {
  helia = createHeliaLight({
    blockstore: new MemoryBlockstore(),
    datastore: new MemoryDatastore(),
    routers: [],
    blockBrokers: []
  })
  const relay = params.get('relay')
  withLibp2pLight(helia, {
    addresses: { listen: relay == null ? [] : [`${relay}/p2p-circuit`, '/webrtc'] },
    transports: [webSockets(), webRTCDirect(), webRTC(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: [],
    // A browser's default gater denies insecure ws and private addresses; this client is
    // pointed at a peer on purpose (the js-libp2p 3 equivalent of the old `all` filter).
    connectionGater: { denyDialMultiaddr: async () => false },
    services: { identify: identify() }
  })
  withBitswap(helia)
  await helia.start()
  if (relay != null) return listen(helia)

  let started = performance.now()
  const connection = await helia.libp2p.dial(multiaddr(params.get('addr')))
  const peer = connection.remotePeer
  const connectMs = performance.now() - started
  const cids = [params.get('cid'), ...(params.get('cids') ?? '').split(',')].filter(Boolean)
  if (cids.length === 0) return { ok: true, connectMs }

  started = performance.now()
  const signal = AbortSignal.timeout(60000)
  const blocks = await Promise.all(cids.map((cid) => get(helia, CID.parse(cid), signal)))
  const fetchMs = performance.now() - started
  const bytes = blocks.reduce((n, b) => n + b.length, 0)
  const via = helia.libp2p.getConnections(peer).map((c) => c.remoteAddr.toString())
    .find((a) => !a.includes('/p2p-circuit/p2p/')) ?? helia.libp2p.getConnections(peer)[0]?.remoteAddr.toString()
  return { ok: true, connectMs, fetchMs, bytes, via, data: new TextDecoder().decode(blocks[0]) }
}

// Listening through the relay: waits for a /webrtc address, stores the block to serve.
async function listen (helia) {
  const deadline = Date.now() + 20000
  let addrs = []
  while (!addrs.some((a) => a.includes('/webrtc/')) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    addrs = helia.libp2p.getMultiaddrs().map((a) => a.toString())
  }
  const data = new Uint8Array(1024 * 1024)
  for (let i = 0; i < data.length; i++) data[i] = i % 251
  const cid = CID.createV1(raw.code, await sha256.digest(data))
  await helia.blockstore.put(cid, data)
  return { ok: true, peer: helia.libp2p.peerId.toString(), addrs, cid: cid.toString(), listening: true }
}

// A block's bytes, whether the blockstore answers with them or with chunks.
async function get (helia, cid, signal) {
  const chunks = []
  for await (const chunk of helia.blockstore.get(cid, { signal })) {
    chunks.push(chunk.subarray ? chunk.subarray() : chunk)
  }
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const chunk of chunks) { bytes.set(chunk, at); at += chunk.length }
  return bytes
}

const result = await run().catch((e) => ({ ok: false, error: `${e.name}: ${e.message}` }))
report(result)
if (!result.listening) await helia?.stop()

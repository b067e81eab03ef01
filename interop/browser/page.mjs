// Helia in a web page, as a third-party browser client of a Switchboard daemon.
//
// Bundled by esbuild (`cargo xtask browser` does it) into bundle.js, which index.html loads.
// Query parameters: addr=<peer multiaddr>, cid=<block to fetch> or cids=<comma-separated
// blocks> (both optional). The page dials the peer over whatever the address says (ws, wss,
// webrtc-direct with its certhash, or a relay's circuit over ws), fetches with Bitswap what it is given (all `cids` at once),
// and reports {ok, connectMs, fetchMs, data (of `cid`), bytes | error} in
// document.body.dataset.result (just {ok, connectMs} without either: the matrix's rows).
// No bootstrap, routers, gateways or discovery: it talks to the one daemon it is given.
import { noise } from '@chainsafe/libp2p-noise'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import { webRTCDirect } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'

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
  withLibp2pLight(helia, {
    addresses: { listen: [] },
    transports: [webSockets(), webRTCDirect(), circuitRelayTransport()],
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

  let started = performance.now()
  await helia.libp2p.dial(multiaddr(params.get('addr')))
  const connectMs = performance.now() - started
  const cids = [params.get('cid'), ...(params.get('cids') ?? '').split(',')].filter(Boolean)
  if (cids.length === 0) return { ok: true, connectMs }

  started = performance.now()
  const signal = AbortSignal.timeout(60000)
  const blocks = await Promise.all(cids.map((cid) => get(helia, CID.parse(cid), signal)))
  const fetchMs = performance.now() - started
  const bytes = blocks.reduce((n, b) => n + b.length, 0)
  return { ok: true, connectMs, fetchMs, bytes, data: new TextDecoder().decode(blocks[0]) }
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

report(await run().catch((e) => ({ ok: false, error: `${e.name}: ${e.message}` })))
await helia?.stop()

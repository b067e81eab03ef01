// A Helia peer on loopback for Switchboard's interop tests and benchmarks.
//
// Listens on 127.0.0.1 over TCP and ws, and through the circuit relays named in HELIA_LISTEN
// (space-separated `/…/p2p/RELAY/p2p-circuit` addresses: a reservation on each), with no
// bootstrap, routers, gateways, mDNS, autoNAT or UPnP: nothing leaves the machine. Reads one JSON command per line on stdin and answers one
// JSON line on stdout per command:
//   {"cmd":"put","data":"<base64>"}              -> {"cid":"bafk..."}   (raw, sha2-256, CIDv1)
//   {"cmd":"get","cid":"bafk...","timeoutMs":N}  -> {"data":"<base64>"} or {"error":"..."}
//   {"cmd":"dial","addr":"/ip4/.../p2p/..."}      -> {"ok":true} or {"error":"..."}
//   {"cmd":"generate","count":N,"size":S}         -> {"cids":[...]}   (benchmark blocks)
//   {"cmd":"getMany","cids":[...]}                -> {"ms":T}         (fetch all at once)
//   {"cmd":"stop"}                                -> {"ok":true}, then exits
// The first line it prints is {"ready":true,"peerId":"12D3...","addrs":["/ip4/..."]}.
import { createInterface } from 'node:readline'
import { noise } from '@chainsafe/libp2p-noise'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

const helia = createHeliaLight({
  blockstore: new MemoryBlockstore(),
  datastore: new MemoryDatastore(),
  routers: [],
  blockBrokers: []
})
withLibp2pLight(helia, {
  addresses: {
    listen: [
      '/ip4/127.0.0.1/tcp/0',
      '/ip4/127.0.0.1/tcp/0/ws',
      ...(process.env.HELIA_LISTEN ?? '').split(' ').filter(a => a !== '')
    ]
  },
  transports: [tcp(), webSockets(), circuitRelayTransport()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  peerDiscovery: [],
  // Node's default gater allows loopback already; this keeps ws:// to 127.0.0.1 dialable too.
  connectionGater: { denyDialMultiaddr: async () => false },
  services: { identify: identify() }
})
withBitswap(helia)
await helia.start()

const say = (value) => process.stdout.write(JSON.stringify(value) + '\n')
say({
  ready: true,
  peerId: helia.libp2p.peerId.toString(),
  addrs: helia.libp2p.getMultiaddrs().map(a => a.toString())
})

async function collect (chunks) {
  const parts = []
  for await (const chunk of chunks) parts.push(chunk)
  return Buffer.concat(parts.map(p => Buffer.from(p.subarray ? p.subarray() : p)))
}

async function handle (command) {
  switch (command.cmd) {
    case 'put': {
      const data = Buffer.from(command.data, 'base64')
      const cid = CID.createV1(raw.code, await sha256.digest(data))
      await helia.blockstore.put(cid, data)
      return { cid: cid.toString() }
    }
    case 'get': {
      const cid = CID.parse(command.cid)
      const signal = AbortSignal.timeout(command.timeoutMs ?? 30000)
      const result = helia.blockstore.get(cid, { signal })
      const data = result[Symbol.asyncIterator] ? await collect(result) : Buffer.from(await result)
      return { data: data.toString('base64') }
    }
    case 'generate': {
      // `count` blocks of `size` bytes, each starting with its index (little-endian u64),
      // the rest zero: the same blocks the Rust benchmark makes.
      const cids = []
      for (let i = 0; i < command.count; i++) {
        const data = Buffer.alloc(command.size)
        data.writeBigUInt64LE(BigInt(i))
        const cid = CID.createV1(raw.code, await sha256.digest(data))
        await helia.blockstore.put(cid, data)
        cids.push(cid.toString())
      }
      return { cids }
    }
    case 'getMany': {
      // Fetches every CID at once and reports the wall time.
      const started = performance.now()
      const signal = AbortSignal.timeout(command.timeoutMs ?? 300000)
      await Promise.all(command.cids.map(async (c) => {
        const result = helia.blockstore.get(CID.parse(c), { signal })
        return result[Symbol.asyncIterator] ? collect(result) : result
      }))
      return { ms: performance.now() - started }
    }
    case 'dial':
      await helia.libp2p.dial(multiaddr(command.addr))
      return { ok: true }
    case 'stop':
      await helia.stop()
      say({ ok: true })
      process.exit(0)
    default:
      throw new Error(`unknown command ${command.cmd}`)
  }
}

// Commands run one at a time, in order, so answers line up with questions.
let queue = Promise.resolve()
createInterface({ input: process.stdin }).on('line', (line) => {
  queue = queue.then(async () => {
    try {
      say(await handle(JSON.parse(line)))
    } catch (e) {
      say({ error: String(e?.message ?? e) })
    }
  })
}).on('close', () => { queue.then(() => helia.stop()).then(() => process.exit(0)) })

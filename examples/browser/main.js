// The demo page: a Switchboard node in the page, driven through switchboard-js.
// Query parameters (all optional): daemon=<multiaddr>, cid=<cid to fetch>,
// bench=<comma-separated CIDs of test data>, filter=<websocket filter>, listen=1 (listen
// through the daemon as a relay), peer=<another page's /webrtc address>, auto=1 (connect,
// listen, dial the peer and fetch at load, as the headless check does).
import init, { create } from './pkg/switchboard_js.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let node;

function setState(text, kind) {
  $('state').textContent = text;
  $('state').className = `state ${kind ?? ''}`;
}

function logEvent(text) {
  const item = document.createElement('li');
  item.textContent = text;
  $('events').prepend(item);
}

async function start(filter) {
  if (node) await node.stop();
  // Blocks stay in this page's IndexedDB across reloads.
  node = await create({ websocketFilter: filter, persist: 'switchboard-demo' });
  $('peer-id').textContent = node.peerId;
  node.onEvent((e) => {
    if (e.type === 'connected') {
      setState(`connected to ${e.peer}`, 'connected');
      logEvent(`connected ${e.addr}`);
    } else if (e.type === 'disconnected') {
      setState('disconnected', 'failed');
      logEvent(`disconnected ${e.peer}`);
    } else if (e.type === 'identified') {
      logEvent(`identified ${e.agentVersion}, ${e.protocols.length} protocols`);
    }
  });
}

async function dial() {
  setState('connecting…');
  try {
    await node.dial($('daemon').value.trim());
  } catch (e) {
    setState(`failed: ${e.message}`, 'failed');
  }
}

async function listen() {
  $('my-addr').textContent = 'reserving on the relay…';
  try {
    const addrs = await node.listen($('daemon').value.trim());
    $('my-addr').textContent = addrs.find((a) => a.includes('/webrtc/')) ?? addrs.join(' ');
  } catch (e) {
    $('my-addr').textContent = `failed: ${e.message}`;
  }
}

async function dialPeer() {
  $('peer-state').textContent = 'connecting…';
  try {
    const peer = await node.dial($('peer').value.trim());
    const via = (await node.peers()).find((p) => p.peer === peer)?.addr ?? '';
    $('peer-state').textContent = `connected to ${peer} over ${via.includes('/webrtc') ? 'WebRTC' : via}`;
    $('peer-state').className = 'state connected';
  } catch (e) {
    $('peer-state').textContent = `failed: ${e.message}`;
    $('peer-state').className = 'state failed';
  }
}

async function fetchBlock() {
  const cid = $('cid').value.trim();
  $('fetched').textContent = `fetching ${cid}…`;
  const started = performance.now();
  try {
    const bytes = await node.block.get(cid, 30000);
    const ms = (performance.now() - started).toFixed(1);
    const text = new TextDecoder().decode(bytes);
    $('fetched').textContent = `fetched ${bytes.length} bytes in ${ms} ms:\n${text}`;
  } catch (e) {
    $('fetched').textContent = `failed: ${e.message}`;
  }
}

async function putBlock() {
  try {
    const cid = await node.block.put(new TextEncoder().encode($('text').value));
    $('put').textContent = `put ${cid}\n(the daemon can now run: switchboard block get ${cid})`;
  } catch (e) {
    $('put').textContent = `failed: ${e.message}`;
  }
}

async function bench(cids) {
  $('bench-result').textContent = `fetching ${cids.length} blocks…`;
  const started = performance.now();
  let bytes = 0;
  try {
    const blocks = await Promise.all(cids.map((cid) => node.block.get(cid, 60000)));
    for (const block of blocks) bytes += block.length;
    const seconds = (performance.now() - started) / 1000;
    const mb = bytes / 1e6;
    $('bench-result').textContent =
      `${cids.length} blocks, ${mb.toFixed(1)} MB in ${(seconds * 1000).toFixed(0)} ms: ${(mb / seconds).toFixed(1)} MB/s`;
  } catch (e) {
    $('bench-result').textContent = `failed: ${e.message}`;
  }
}

await init();
$('filter').value = params.get('filter') ?? 'all';
$('daemon').value = params.get('daemon') ?? '';
$('cid').value = params.get('cid') ?? '';
await start($('filter').value);

$('peer').value = params.get('peer') ?? '';
$('filter').addEventListener('change', () => start($('filter').value));
$('listen').addEventListener('click', () => listen());
$('peer-form').addEventListener('submit', (e) => { e.preventDefault(); dialPeer(); });
$('dial-form').addEventListener('submit', (e) => { e.preventDefault(); dial(); });
$('get-form').addEventListener('submit', (e) => { e.preventDefault(); fetchBlock(); });
$('put-form').addEventListener('submit', (e) => { e.preventDefault(); putBlock(); });
const benchCids = (params.get('bench') ?? '').split(',').filter(Boolean);
if (benchCids.length) {
  $('bench-row').hidden = false;
  $('bench').addEventListener('click', () => bench(benchCids));
}

if (params.get('auto') === '1') {
  await dial();
  if (params.get('listen') === '1') await listen();
  if ($('peer').value) await dialPeer();
  if ($('cid').value) await fetchBlock();
  await putBlock();
  if (benchCids.length) await bench(benchCids);
  document.body.dataset.done = '1';
}

// Listens through a relay on /webrtc and holds a block for a dialing page (dial.html).
import init, { create } from './pkg/switchboard_js.js';

const params = new URLSearchParams(location.search);
let result;
try {
  await init();
  const node = await create({ websocketFilter: 'all' });
  const addrs = await node.listen(params.get('relay') ?? '');
  const size = Number(params.get('size') ?? 1024 * 1024);
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = i % 251;
  const cid = await node.block.put(data);
  result = { ok: true, peer: node.peerId, addrs, cid };
  // Kept for the page's life: the dialer fetches from it.
  window.switchboardNode = node;
} catch (e) {
  result = { ok: false, error: e.message ?? String(e) };
}
document.getElementById('result').textContent = JSON.stringify(result, null, 2);
document.body.dataset.result = JSON.stringify(result);

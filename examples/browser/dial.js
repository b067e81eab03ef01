// The matrix's and the browser bench's page: dials `addr` with switchboard-js and reports
// {ok, ms, peer, via} (and with `cids`, comma-separated, fetches them all at once and adds
// fetchMs and bytes) in document.body.dataset.result; `via` is the address of the connection
// to the peer once done (a `/webrtc` one, or a relay's circuit).
import init, { create } from './pkg/switchboard_js.js';

const params = new URLSearchParams(location.search);
let result;
try {
  await init();
  const node = await create({ websocketFilter: params.get('filter') ?? 'all' });
  let started = performance.now();
  const peer = await node.dial(params.get('addr') ?? '');
  result = { ok: true, ms: performance.now() - started, peer };
  const cids = (params.get('cids') ?? '').split(',').filter(Boolean);
  if (cids.length) {
    started = performance.now();
    const blocks = await Promise.all(cids.map((cid) => node.block.get(cid, 60000)));
    result.fetchMs = performance.now() - started;
    result.bytes = blocks.reduce((n, b) => n + b.length, 0);
  }
  result.via = (await node.peers()).find((p) => p.peer === peer)?.addr;
  await node.stop();
} catch (e) {
  result = { ok: false, error: e.message ?? String(e) };
}
document.getElementById('result').textContent = JSON.stringify(result, null, 2);
document.body.dataset.result = JSON.stringify(result);

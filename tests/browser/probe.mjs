import { serve, launch } from './harness.mjs';
import { readFileSync } from 'node:fs';
const fillUp = new Function('return ' + readFileSync('/tmp/fill.js','utf8').replace(/^async function fillUp/, 'async function'))();
const server = await serve();
const browser = await launch();
const page = await browser.newPage();
await page.goto(`${server.url}/tests/browser/blank.html`);
const cdp = await page.context().newCDPSession(page);
await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.url, quotaSize: 2_000_000 });
const r = await page.evaluate(fillUp, { db: 'q', bytes: 8192 });
console.log(r.acked.length, r.error, r.recovered);
await page.reload();
console.log(await page.evaluate(async () => {
  const { open } = await import('/pkg/index.js');
  const nc = await open({ name: 'q' });
  const jsm = await nc.jetstreamManager();
  const i = await jsm.streams.info('Q');
  let m; try { m = (await jsm.streams.getMessage('Q', {seq: i.state.last_seq})).subject } catch (e) { m = e.message }
  return { state: i.state, m, w: nc.warnings };
}));
await browser.close(); await server.close();
